"""Config dataclasses shared by the config tests."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


class Precision(enum.Enum):
    """How weights are stored."""

    FP32 = "fp32"
    BF16 = "bf16"


@dataclass(kw_only=True)
class OptimizerSection:
    """An optimizer section."""

    name: str = "adamw"
    """The optimizer's registry name."""

    lr: float = 3e-4
    """The peak learning rate."""

    betas: tuple[float, float] = (0.9, 0.95)
    """Adam's two decay rates."""


@dataclass(kw_only=True)
class DataSection:
    """A data section."""

    paths: list[Path] = field(default_factory=list)
    """Text files to train on."""

    max_seq_len: int = 128
    """Tokens per packed row."""

    valid_path: Path | None = None
    """An optional validation file."""


@dataclass(kw_only=True)
class ToyConfig:
    """A toy recipe config covering every supported field kind."""

    optimizer: OptimizerSection = field(default_factory=OptimizerSection)
    """How to optimize."""

    data: DataSection = field(default_factory=DataSection)
    """What to read."""

    seed: int = 2
    """The random seed."""

    dtype: Literal["float32", "bfloat16"] = "float32"
    """The training dtype."""

    precision: Precision = Precision.FP32
    """The storage precision."""

    max_steps: int | None = None
    """Stop after this many steps (no limit when null)."""

    tag: str | int = "run"
    """A free label."""

    model_overrides: dict[str, object] = field(default_factory=dict)
    """Arbitrary model config overrides."""

    verbose: bool = False
    """Log more."""

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, but is {self.seed}")
