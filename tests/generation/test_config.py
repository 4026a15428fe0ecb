from __future__ import annotations

import pytest
import torch

from seqkit.generation.beam_search import BeamSearchGenerator
from seqkit.generation.config import GeneratorConfig, GeneratorFactory
from seqkit.generation.errors import GenerationError
from seqkit.generation.sampler import GreedySampler, MinPSampler, TopKSampler, TopPSampler
from seqkit.generation.sampling import SamplingGenerator
from seqkit.generation.step_processor import BannedTokenProcessor, RepetitionPenaltyProcessor
from tests.generation.tiny_models import TinyDecoderModel


def test_beam_search_config_builds_a_beam_search_generator() -> None:
    config = GeneratorConfig(beam_size=3, length_penalty=0.5, max_gen_len=7, banned_token_ids=[3])
    gen = GeneratorFactory().create(config, eos_idx=2, pad_idx=0)
    assert isinstance(gen, BeamSearchGenerator)
    assert (gen.beam_size, gen.length_penalty, gen.max_gen_len) == (3, 0.5, 7)
    assert isinstance(gen.step_processors[0], BannedTokenProcessor)


@pytest.mark.parametrize(
    ("options", "sampler_type"),
    [
        ({"kind": "greedy"}, GreedySampler),
        ({"kind": "sampling", "top_k": 5}, TopKSampler),
        ({"kind": "sampling", "top_p": 0.9}, TopPSampler),
        ({"kind": "sampling", "min_p": 0.1}, MinPSampler),
    ],
)
def test_sampling_configs_pick_their_sampler(options, sampler_type) -> None:
    gen = GeneratorFactory().create(GeneratorConfig(**options, repetition_penalty=1.2), eos_idx=2)
    assert isinstance(gen, SamplingGenerator)
    assert isinstance(gen.sampler, sampler_type)
    assert isinstance(gen.step_processors[0], RepetitionPenaltyProcessor)
    out = gen.generate(TinyDecoderModel().eval(), [torch.tensor([1, 5])])
    assert len(out.hypotheses[0]) == 1


def test_inconsistent_configs_are_rejected() -> None:
    with pytest.raises(GenerationError, match="at most one of top_k, top_p and min_p"):
        GeneratorConfig(kind="sampling", top_k=3, top_p=0.5)
    with pytest.raises(GenerationError, match="only used with kind: sampling"):
        GeneratorConfig(kind="beam_search", top_p=0.5)
    with pytest.raises(GenerationError, match="unknown"):
        GeneratorConfig(kind="nucleus")  # type: ignore[arg-type]
