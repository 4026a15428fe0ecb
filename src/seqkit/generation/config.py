"""Generator settings as a config dataclass, and the factory that builds a generator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, final

from seqkit.generation.beam_search import BeamSearchGenerator
from seqkit.generation.errors import GenerationError
from seqkit.generation.generator import SequenceGenerator
from seqkit.generation.sampler import (
    GreedySampler,
    MinPSampler,
    MultinomialSampler,
    Sampler,
    TopKSampler,
    TopPSampler,
)
from seqkit.generation.sampling import SamplingGenerator
from seqkit.generation.step_processor import (
    BannedTokenProcessor,
    RepetitionPenaltyProcessor,
    StepProcessor,
)

GENERATOR_KINDS: Final = ("greedy", "sampling", "beam_search")


@dataclass(kw_only=True)
class GeneratorConfig:
    """How to generate: greedy, sampling (top-k / top-p / min-p) or beam search."""

    kind: Literal["greedy", "sampling", "beam_search"] = "beam_search"
    """Which generator to build."""

    max_gen_len: int = 128
    """Most tokens generated per prompt (EOS included)."""

    min_gen_len: int = 0
    """EOS is banned until this many tokens were generated."""

    beam_size: int = 4
    """Beams per prompt (``beam_search``)."""

    length_penalty: float = 1.0
    """Finished beam scores are divided by ``len ** length_penalty`` (``beam_search``)."""

    temperature: float = 1.0
    """Softmax temperature (``sampling``)."""

    top_k: int | None = None
    """Draw among the k most probable tokens (``sampling``)."""

    top_p: float | None = None
    """Nucleus sampling threshold (``sampling``)."""

    min_p: float | None = None
    """Keep tokens at least ``min_p`` times as probable as the best (``sampling``)."""

    num_gens: int = 1
    """Samples per prompt (``sampling``)."""

    seed: int | None = None
    """Seed of the sampling RNG; ``None`` draws from torch's global RNG (``sampling``)."""

    repetition_penalty: float = 1.0
    """CTRL repetition penalty; 1 disables it."""

    banned_token_ids: list[int] = field(default_factory=list)
    """Token ids never generated (e.g. UNK)."""

    def __post_init__(self) -> None:
        if self.kind not in GENERATOR_KINDS:
            raise GenerationError(
                f"generator kind {self.kind!r} is unknown; use one of {', '.join(GENERATOR_KINDS)}."
            )
        chosen = [n for n in ("top_k", "top_p", "min_p") if getattr(self, n) is not None]
        if len(chosen) > 1:
            raise GenerationError(
                f"set at most one of top_k, top_p and min_p, got {', '.join(chosen)}."
            )
        if chosen and self.kind != "sampling":
            raise GenerationError(f"{chosen[0]} is only used with kind: sampling, not {self.kind}.")


@final
class GeneratorFactory:
    """Builds the generator a :class:`GeneratorConfig` describes."""

    def create(
        self, config: GeneratorConfig, *, eos_idx: int, pad_idx: int = 0
    ) -> SequenceGenerator:
        """Build the generator; ``eos_idx``/``pad_idx`` come from the tokenizer's vocabulary."""
        processors: list[StepProcessor] = []
        if config.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyProcessor(config.repetition_penalty))
        if config.banned_token_ids:
            processors.append(BannedTokenProcessor(config.banned_token_ids))
        if config.kind == "beam_search":
            return BeamSearchGenerator(
                eos_idx=eos_idx,
                pad_idx=pad_idx,
                beam_size=config.beam_size,
                length_penalty=config.length_penalty,
                max_gen_len=config.max_gen_len,
                min_gen_len=config.min_gen_len,
                step_processors=processors,
            )
        return SamplingGenerator(
            self._sampler(config),
            eos_idx=eos_idx,
            pad_idx=pad_idx,
            max_gen_len=config.max_gen_len,
            min_gen_len=config.min_gen_len,
            num_gens=config.num_gens,
            seed=config.seed,
            step_processors=processors,
        )

    @staticmethod
    def _sampler(config: GeneratorConfig) -> Sampler:
        if config.kind == "greedy":
            return GreedySampler()
        t = config.temperature
        if config.top_k is not None:
            return TopKSampler(config.top_k, temperature=t)
        if config.top_p is not None:
            return TopPSampler(config.top_p, temperature=t)
        if config.min_p is not None:
            return MinPSampler(config.min_p, temperature=t)
        return MultinomialSampler(temperature=t)
