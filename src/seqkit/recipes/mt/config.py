"""Config dataclasses of ``seqkit mt train``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seqkit.recipes.sections import (
    DatasetEntry,
    ModelSection,
    OptimSection,
    TokenizerSection,
    TrainSection,
)


@dataclass(kw_only=True)
class MtDataSection:
    """Parallel text: a source and a target file aligned by line, or TSV files."""

    source_file: Path | None = None
    """Source sentences, one per line (aligned with ``target_file``)."""

    target_file: Path | None = None
    """Target sentences, one per line."""

    tsv_files: list[Path] = field(default_factory=list)
    """Alternatively, files of ``source<TAB>target`` lines."""

    train_datasets: list[DatasetEntry] = field(default_factory=list)
    """Instead of the fields above: corpora with mixture weights, each ``{source, target}``
    text files, a TSV ``path`` or a parallel token dataset ``path``, e.g.
    ``[{source: a.en, target: a.es, weight: 2}, {path: b_tokens/, weight: 1}]``."""

    valid_source_file: Path | None = None
    """Validation sources; when unset, ``valid_size`` training pairs are held out."""

    valid_target_file: Path | None = None
    """Validation targets, aligned with ``valid_source_file``."""

    valid_size: int = 200
    """Pairs held out for validation (loss and BLEU) from the first training corpus when no
    validation files are given (decided once, when the text is tokenized)."""

    source_lang: str = "en"
    """Source language code (its token ``__en__`` starts every source)."""

    target_lang: str = "es"
    """Target language code (its token ``__es__`` starts every target)."""

    max_pairs: int | None = None
    """Read at most this many training pairs (``null``: all)."""

    max_seq_len: int = 128
    """Pairs with a side longer than this many tokens (special tokens included, the target's
    ``<s>`` excepted) are skipped when the text is tokenized, and counted."""

    def __post_init__(self) -> None:
        if (self.source_file is None) != (self.target_file is None):
            raise ValueError("data.source_file and data.target_file must be given together")
        if (self.valid_source_file is None) != (self.valid_target_file is None):
            raise ValueError(
                "data.valid_source_file and data.valid_target_file must be given together"
            )
        if self.valid_size < 0 or self.max_seq_len < 4:
            raise ValueError("data.valid_size must be >= 0 and data.max_seq_len >= 4")


@dataclass(kw_only=True)
class BleuSection:
    """BLEU and chrF of beam-search translations of validation pairs, at every validation
    (``valid/bleu``, ``valid/chrf``) and for the final model."""

    num_sentences: int = 200
    """Validation pairs translated at each validation for BLEU/chrF (0 disables them)."""

    beam_size: int = 4
    """Beam size of those translations."""

    max_gen_len: int = 128
    """Longest translation, in tokens."""

    batch_size: int = 32
    """Sentences translated together (per rank)."""

    def __post_init__(self) -> None:
        if self.num_sentences < 0:
            raise ValueError("bleu.num_sentences must be >= 0")
        if self.beam_size < 1 or self.max_gen_len < 1 or self.batch_size < 1:
            raise ValueError("bleu.beam_size, bleu.max_gen_len and bleu.batch_size must be >= 1")


@dataclass(kw_only=True)
class MtTrainConfig:
    """``seqkit mt train``: encoder-decoder translation training."""

    model: ModelSection = field(default_factory=lambda: ModelSection(family="transformer"))
    """The model to train (an encoder-decoder family)."""

    tokenizer: TokenizerSection = field(default_factory=TokenizerSection)
    """One joint SentencePiece vocabulary for both languages (trained if not named)."""

    data: MtDataSection = field(default_factory=MtDataSection)
    """The parallel text."""

    label_smoothing: float = 0.1
    """Probability mass spread over the vocabulary in the cross-entropy (0: plain CE)."""

    optim: OptimSection = field(
        default_factory=lambda: OptimSection(
            optimizer={"name": "adamw", "lr": 5e-4, "weight_decay": 0.0, "betas": [0.9, 0.98]},
            lr_scheduler={"name": "noam", "warmup_steps": 400},
        )
    )
    """Optimizer, LR schedule and clipping."""

    train: TrainSection = field(default_factory=TrainSection)
    """Steps, batch size, cadence of checkpoints/validation/logging."""

    bleu: BleuSection = field(default_factory=BleuSection)
    """BLEU/chrF at every validation (``train.best_metric: bleu`` ranks checkpoints by it)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), not {self.label_smoothing}")
