"""Config dataclasses of ``seqkit lm train``, ``lm finetune`` and ``lm preference-finetune``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from seqkit.recipes.sections import (
    DatasetEntry,
    ModelSection,
    OptimSection,
    TokenizerSection,
    TrainSection,
)


@dataclass(kw_only=True)
class LmDataSection:
    """Where the training text comes from and how it is cut into rows."""

    train_files: list[Path] = field(default_factory=list)
    """Text files (one document per line) or token-dataset directories to train on."""

    train_datasets: list[DatasetEntry] = field(default_factory=list)
    """Instead of ``train_files``: datasets with mixture weights, e.g.
    ``[{path: a.txt, weight: 3}, {path: b_tokens/, weight: 1}]``."""

    valid_files: list[Path] = field(default_factory=list)
    """Validation files of the same kinds; empty: hold out ``valid_fraction`` of the text."""

    valid_fraction: float = 0.01
    """Share of each training text's documents held out for validation when ``valid_files``
    is empty (decided once, when the text is tokenized)."""

    max_documents: int | None = None
    """Read at most this many documents from the text files (``null``: all)."""

    max_seq_len: int = 256
    """Tokens per packed row; documents are packed back to back up to this length."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ValueError(f"data.valid_fraction must be in [0, 1), not {self.valid_fraction}")
        if self.train_files and self.train_datasets:
            raise ValueError("give data.train_files or data.train_datasets, not both")
        if any(e.path is None for e in self.train_datasets):
            raise ValueError("every entry of data.train_datasets needs a path")
        if self.max_seq_len < 2:
            raise ValueError(f"data.max_seq_len must be >= 2, not {self.max_seq_len}")


@dataclass(kw_only=True)
class SampleSection:
    """Text generated from a few prompts at the end of training, to show the model."""

    prompts: list[str] = field(default_factory=list)
    """Prompts to continue after training (none: skip sampling)."""

    max_new_tokens: int = 48
    """Tokens generated per prompt."""

    temperature: float = 0.8
    """Sampling temperature."""

    top_p: float = 0.9
    """Nucleus sampling: keep the smallest token set with this much probability."""


@dataclass(kw_only=True)
class LmTrainConfig:
    """``seqkit lm train``: decoder-only pretraining or continued training."""

    model: ModelSection = field(default_factory=ModelSection)
    """The model to train."""

    tokenizer: TokenizerSection = field(default_factory=TokenizerSection)
    """The tokenizer (ignored when ``model.checkpoint`` brings its own)."""

    data: LmDataSection = field(default_factory=LmDataSection)
    """The training and validation text."""

    optim: OptimSection = field(default_factory=OptimSection)
    """Optimizer, LR schedule and clipping."""

    train: TrainSection = field(default_factory=TrainSection)
    """Steps, batch size, cadence of checkpoints/validation/logging."""

    sample: SampleSection = field(default_factory=SampleSection)
    """Samples printed when training ends."""


@dataclass(kw_only=True)
class FinetuneDataSection:
    """Instruction data: JSONL with ``prompt``/``response`` or chat ``messages``."""

    train_files: list[Path] = field(default_factory=list)
    """JSONL files, one example per line."""

    valid_files: list[Path] = field(default_factory=list)
    """Validation JSONL files; empty: hold out ``valid_fraction`` of the examples."""

    valid_fraction: float = 0.05
    """Share of examples held out for validation when ``valid_files`` is empty."""

    max_seq_len: int = 512
    """Examples longer than this (in tokens) are truncated; truncations are counted."""

    prompt_template: str = "{prompt}\n"
    """How a prompt is written before its response (``{prompt}`` is replaced)."""

    use_chat_template: bool = True
    """Write ``messages`` examples with the tokenizer's chat template when it has one (loss
    on assistant turns only); false, or a tokenizer without one: ``User:``/``Assistant:``."""

    def __post_init__(self) -> None:
        if "{prompt}" not in self.prompt_template:
            raise ValueError("data.prompt_template must contain '{prompt}'")
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ValueError(f"data.valid_fraction must be in [0, 1), not {self.valid_fraction}")


@dataclass(kw_only=True)
class LoraSection:
    """LoRA: train low-rank adapters on chosen projections instead of every weight."""

    rank: int = 0
    """Rank of each adapter; ``0``: no LoRA, every weight is trained (full fine-tuning)."""

    alpha: float = 16.0
    """Adapter scale numerator: updates are multiplied by ``alpha / rank``."""

    dropout: float = 0.0
    """Dropout on the adapters' input during training."""

    targets: list[str] = field(default_factory=lambda: ["q", "k", "v", "o", "gate", "up", "down"])
    """Projections that get adapters: attention ``q``/``k``/``v``/``o`` and feed-forward
    ``gate``/``up``/``down``."""

    @property
    def enabled(self) -> bool:
        """Whether the run trains adapters (``rank > 0``)."""
        return self.rank > 0

    def __post_init__(self) -> None:
        if self.rank < 0:
            raise ValueError(f"lora.rank must be >= 0 (0: off), not {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora.dropout must be in [0, 1), not {self.dropout}")
        known = ("q", "k", "v", "o", "gate", "up", "down")
        unknown = [t for t in self.targets if t not in known]
        if unknown or not self.targets:
            raise ValueError(
                f"lora.targets must be a non-empty list of {list(known)}; unknown: {unknown}"
            )


@dataclass(kw_only=True)
class LmFinetuneConfig:
    """``seqkit lm finetune``: supervised fine-tuning with the loss on responses only."""

    model: ModelSection = field(default_factory=ModelSection)
    """The model to fine-tune; ``model.checkpoint`` is required."""

    data: FinetuneDataSection = field(default_factory=FinetuneDataSection)
    """The instruction examples."""

    optim: OptimSection = field(
        default_factory=lambda: OptimSection(
            optimizer={"name": "adamw", "lr": 1e-4, "weight_decay": 0.0},
            lr_scheduler={"name": "cosine", "warmup_steps": 10},
        )
    )
    """Optimizer, LR schedule and clipping."""

    train: TrainSection = field(default_factory=TrainSection)
    """Steps, batch size, cadence of checkpoints/validation/logging."""

    lora: LoraSection = field(default_factory=LoraSection)
    """Low-rank adapters instead of full fine-tuning (off unless ``lora.rank > 0``)."""

    sample: SampleSection = field(default_factory=SampleSection)
    """Samples printed when training ends (prompts are formatted with the template)."""


@dataclass(kw_only=True)
class PreferenceDataSection:
    """Preference pairs: JSONL ``{"prompt": ..., "chosen": ..., "rejected": ...}``."""

    train_files: list[Path] = field(default_factory=list)
    """JSONL files, one pair per line."""

    valid_files: list[Path] = field(default_factory=list)
    """Validation JSONL files; empty: hold out ``valid_fraction`` of the pairs."""

    valid_fraction: float = 0.05
    """Share of pairs held out for validation when ``valid_files`` is empty."""

    max_seq_len: int = 512
    """Each side (prompt + response) is truncated to this many tokens; truncations are
    counted."""

    prompt_template: str = "{prompt}\n"
    """How a prompt is written before its response (``{prompt}`` is replaced)."""

    def __post_init__(self) -> None:
        if "{prompt}" not in self.prompt_template:
            raise ValueError("data.prompt_template must contain '{prompt}'")
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ValueError(f"data.valid_fraction must be in [0, 1), not {self.valid_fraction}")


@dataclass(kw_only=True)
class PreferenceSection:
    """The preference loss and its parameters."""

    loss: Literal["dpo", "simpo", "orpo"] = "dpo"
    """``dpo`` (against a frozen reference model), or reference-free ``simpo`` or ``orpo``."""

    beta: float = 0.1
    """DPO/SimPO: scale of the implicit reward (DPO ~0.1; SimPO ~2.0). ORPO: unused."""

    label_smoothing: float = 0.0
    """DPO only: assumed share of flipped preference labels (conservative DPO), in [0, 0.5)."""

    simpo_gamma: float = 0.5
    """SimPO only: target reward margin ``gamma``."""

    orpo_lambda: float = 0.1
    """ORPO only: weight of the odds-ratio term added to the chosen responses' NLL."""

    def __post_init__(self) -> None:
        if self.beta <= 0:
            raise ValueError(f"preference.beta must be > 0, not {self.beta}")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError(
                f"preference.label_smoothing must be in [0, 0.5), not {self.label_smoothing}"
            )


@dataclass(kw_only=True)
class LmPreferenceConfig:
    """``seqkit lm preference-finetune``: DPO, SimPO or ORPO on preference pairs."""

    model: ModelSection = field(default_factory=ModelSection)
    """The model to tune (and DPO's reference); ``model.checkpoint`` is required."""

    data: PreferenceDataSection = field(default_factory=PreferenceDataSection)
    """The preference pairs."""

    preference: PreferenceSection = field(default_factory=PreferenceSection)
    """The loss."""

    optim: OptimSection = field(
        default_factory=lambda: OptimSection(
            optimizer={"name": "adamw", "lr": 5e-6, "weight_decay": 0.0},
            lr_scheduler={"name": "cosine", "warmup_steps": 10},
        )
    )
    """Optimizer, LR schedule and clipping."""

    train: TrainSection = field(default_factory=TrainSection)
    """Steps, batch size (pairs), cadence of checkpoints/validation/logging."""

    lora: LoraSection = field(default_factory=LoraSection)
    """Low-rank adapters instead of full tuning (off unless ``lora.rank > 0``); with DPO
    the reference is the same model with its adapters switched off (no second copy)."""

    sample: SampleSection = field(default_factory=SampleSection)
    """Samples printed when training ends (prompts are formatted with the template)."""
