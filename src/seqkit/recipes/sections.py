"""Config sections shared by the recipes (model, tokenizer, optimization, training)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from seqkit.config.overrides import number_or_text


@dataclass(kw_only=True)
class ModelSection:
    """Which model to train: a family and arch, optionally started from a checkpoint."""

    family: str = "llama"
    """The model family (``llama`` for decoder-only, ``transformer`` for encoder-decoder)."""

    arch: str | None = None
    """A named architecture of the family; ``null`` uses the family's default config."""

    config: dict[str, object] = field(default_factory=dict)
    """Overrides of the family's config fields (e.g. ``{model_dim: 256, num_layers: 4}``)."""

    checkpoint: str | None = None
    """Start from this model: a card name, a card file, or a seqkit model directory."""


@dataclass(kw_only=True)
class TokenizerSection:
    """Which tokenizer to use, or how to train one on the training text."""

    name: str | None = None
    """A tokenizer card name or path; ``null`` trains a sentencepiece model on the data."""

    vocab_size: int = 4000
    """Vocabulary size of the sentencepiece model trained when ``name`` is null."""

    model_type: Literal["unigram", "bpe"] = "unigram"
    """The sentencepiece algorithm used when training a tokenizer."""

    max_training_lines: int = 100_000
    """At most this many lines of the training text are used to train the tokenizer."""

    def __post_init__(self) -> None:
        if self.vocab_size < 8:
            raise ValueError(f"tokenizer.vocab_size must be >= 8, but is {self.vocab_size}")


@dataclass(kw_only=True)
class OptimSection:
    """Optimizer and learning-rate schedule, as registry mappings of :mod:`seqkit.optim`."""

    optimizer: dict[str, object] = field(
        default_factory=lambda: {"name": "adamw", "lr": 3e-4, "weight_decay": 0.1}
    )
    """``{name: adamw|sgd, lr: ..., ...}``: the optimizer and its settings."""

    lr_scheduler: dict[str, object] = field(
        default_factory=lambda: {"name": "cosine", "warmup_steps": 100}
    )
    """``{name: constant|cosine|noam|polynomial|tri_stage, ...}``; ``total_steps``
    defaults to ``train.max_steps``."""

    max_grad_norm: float | None = 1.0
    """Clip the gradient norm to this value; ``null`` disables clipping."""

    def __post_init__(self) -> None:
        # YAML 1.1 reads `lr: 5e-4` (no dot) as text; these mappings have no field types.
        self.optimizer = {k: _number(v) for k, v in self.optimizer.items()}
        self.lr_scheduler = {k: _number(v) for k, v in self.lr_scheduler.items()}
        # The names are checked against the registered optimizers and schedulers (built-ins
        # and extensions) by TrainingRecipe.validate, before a run and by --dump-config.


def _number(value: object) -> object:
    return number_or_text(value) if isinstance(value, str) and value != "" else value


@dataclass(kw_only=True)
class TrainSection:
    """How long and how to train; checkpointing, validation and logging cadence."""

    max_steps: int = 1000
    """Number of optimizer steps to run."""

    batch_size: int = 16
    """Rows (sequences or sentence pairs) per batch on each rank."""

    max_num_tokens: int | None = None
    """Padded tokens per batch on each rank instead of ``batch_size`` (source + target for
    translation, like fairseq's ``--max-tokens``): examples of similar length are batched
    together. ``null``: ``batch_size`` examples per batch."""

    grad_accumulation: int = 1
    """Batches whose gradients are summed before each optimizer step."""

    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Autocast dtype of the forward pass (weights stay float32)."""

    device: str | None = None
    """``cpu``, ``cuda``, ``cuda:1``...; ``null`` picks CUDA when available."""

    seed: int = 2
    """Seed of every random generator (model init, data order, dropout)."""

    validate_every_n_steps: int = 200
    """Run validation every this many steps (and at the end)."""

    checkpoint_every_n_steps: int = 200
    """Write a training checkpoint every this many steps (and at the end)."""

    keep_last_checkpoints: int = 1
    """How many training checkpoints to keep; older ones are deleted."""

    log_every_n_steps: int = 10
    """Record training metrics every this many steps."""

    best_metric: str = "loss"
    """Validation metric that ranks checkpoints and drives early stopping: ``loss``/``ppl``
    (lower is better) or, in ``mt train``, ``bleu``/``chrf`` (higher is better)."""

    keep_best_checkpoints: int = 0
    """Also keep this many checkpoints with the best ``best_metric`` (0: the last ones only)."""

    final_model: Literal["last", "best"] = "last"
    """Which weights ``OUTPUT_DIR/model`` (and the card) get: the last step's, or those of the
    kept checkpoint with the best ``best_metric`` (needs ``keep_best_checkpoints >= 1``)."""

    early_stopping_patience: int | None = None
    """Stop after this many validations without a better ``best_metric``; ``null``: never."""

    max_wall_seconds: float | None = None
    """Stop (after checkpointing) once this many seconds have passed; ``null``: no limit."""

    tensorboard: bool = True
    """Also write TensorBoard event files under ``OUTPUT_DIR/tb``."""

    progress_bar: bool = True
    """Show a progress bar on rank 0."""

    console_metrics: bool = True
    """Print a line of training metrics every ``log_every_n_steps`` steps."""

    tp_size: int = 1
    """Tensor-parallel size under torchrun (the rest of the world is data parallel)."""

    data_parallel: Literal["ddp", "fsdp"] = "ddp"
    """How data-parallel ranks share the model: replicated (DDP) or sharded (FSDP2)."""

    activation_checkpointing: Literal["none", "every"] | int = "none"
    """Recompute transformer-layer activations in backward instead of storing them (less
    memory, about one more forward of compute): ``none``, ``every`` layer, or an integer k
    for every k-th layer of each stack."""

    compile: bool = False
    """``torch.compile`` each transformer layer (regional compile; the loss stays eager).
    Falls back to eager with a one-line notice where inductor cannot run (no C++ compiler
    on CPU, no Triton on CUDA)."""

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size", "grad_accumulation", "log_every_n_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, but is {getattr(self, name)}")
        for name in ("validate_every_n_steps", "checkpoint_every_n_steps", "tp_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, but is {getattr(self, name)}")
        if self.max_num_tokens is not None and self.max_num_tokens < 1:
            raise ValueError(
                f"train.max_num_tokens must be >= 1 (or null), not {self.max_num_tokens}"
            )
        if self.keep_best_checkpoints < 0:
            raise ValueError("train.keep_best_checkpoints must be >= 0")
        if self.final_model == "best" and self.keep_best_checkpoints < 1:
            raise ValueError(
                "train.final_model=best exports the best kept checkpoint: set "
                "train.keep_best_checkpoints >= 1"
            )
        if (
            self.final_model == "best"
            and self.checkpoint_every_n_steps % self.validate_every_n_steps
        ):
            raise ValueError(
                "train.final_model=best ranks checkpoints by the validation at their step: make "
                f"train.checkpoint_every_n_steps ({self.checkpoint_every_n_steps}) a multiple of "
                f"train.validate_every_n_steps ({self.validate_every_n_steps})"
            )
        ac = self.activation_checkpointing
        if ac not in ("none", "every") and (
            not isinstance(ac, int) or isinstance(ac, bool) or ac < 1
        ):
            raise ValueError(
                "train.activation_checkpointing must be none, every or an integer k >= 1 "
                f"(every k-th layer), not {ac!r}"
            )
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ValueError("train.early_stopping_patience must be >= 1 (or null)")


@dataclass(kw_only=True)
class DatasetEntry:
    """One training dataset of a mixture: text or a token dataset, with a weight."""

    path: Path | None = None
    """A text file (one document per line; for translation ``source<TAB>target`` lines) or a
    token dataset directory (from ``seqkit data preprocess``)."""

    source: Path | None = None
    """Translation only: source sentences, one per line, aligned with ``target``."""

    target: Path | None = None
    """Translation only: target sentences, aligned with ``source``."""

    weight: float | None = None
    """Share of the batches drawn from this dataset (relative to the other weights); give all
    or none: without weights every batch of every dataset is read once per epoch."""

    def __post_init__(self) -> None:
        if (self.path is None) == (self.source is None and self.target is None):
            raise ValueError("a dataset entry needs either path or source and target")
        if (self.source is None) != (self.target is None):
            raise ValueError("a dataset entry's source and target must be given together")
        if self.weight is not None and self.weight <= 0:
            raise ValueError(f"a dataset weight must be > 0, not {self.weight}")


def mixture_weights(entries: list[DatasetEntry]) -> list[float] | None:
    """The entries' weights, or ``None`` when none has one; a partial set is an error."""
    weights = [e.weight for e in entries]
    if all(w is None for w in weights):
        return None
    if any(w is None for w in weights):
        raise ValueError("give every dataset of data.train_datasets a weight, or none of them")
    return [float(w) for w in weights if w is not None]
