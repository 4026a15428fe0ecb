from __future__ import annotations

import math

import pytest
import torch

from seqkit.generation.beam_search import BeamSearchGenerator
from seqkit.generation.errors import GenerationError
from seqkit.generation.sampling import SamplingGenerator
from tests.generation import reference
from tests.generation.tiny_models import (
    BigramModel,
    KVState,
    TinyDecoderModel,
    TinyEncoderDecoderModel,
)

PAD, BOS, EOS, A, B = 0, 1, 2, 3, 4


def _bigram() -> BigramModel:
    probs = torch.full((5, 5), 1e-9)
    probs[BOS, [A, B]] = torch.tensor([0.6, 0.4])
    probs[A, [A, B, EOS]] = torch.tensor([0.5, 0.4, 0.1])
    probs[B, [A, B, EOS]] = torch.tensor([0.05, 0.05, 0.9])
    probs[EOS, EOS] = 1.0
    return BigramModel(probs.log())


def test_hand_set_logits_give_the_known_best_hypotheses() -> None:
    model = _bigram()
    prompt = [torch.tensor([BOS])]
    greedy = SamplingGenerator(eos_idx=EOS, max_gen_len=3).generate(model, prompt)
    assert greedy.hypotheses[0][0].tokens.tolist() == [A, A, A]

    beam = BeamSearchGenerator(eos_idx=EOS, beam_size=2, length_penalty=0.0, max_gen_len=3)
    hyps = beam.generate(model, prompt).hypotheses[0]
    assert [h.tokens.tolist() for h in hyps] == [[B, EOS], [A, B, EOS]]
    assert hyps[0].score == pytest.approx(math.log(0.4 * 0.9), abs=1e-5)
    assert hyps[1].score == pytest.approx(math.log(0.6 * 0.4 * 0.9), abs=1e-5)
    assert all(h.finished for h in hyps)
    torch.testing.assert_close(hyps[1].step_scores, torch.tensor([0.6, 0.4, 0.9]).log())


def test_length_penalty_divides_by_length() -> None:
    model = _bigram()
    beam = BeamSearchGenerator(eos_idx=EOS, beam_size=2, length_penalty=1.0, max_gen_len=3)
    for hyp in beam.generate(model, [torch.tensor([BOS])]).hypotheses[0]:
        assert hyp.score == pytest.approx(float(hyp.step_scores.sum()) / len(hyp.tokens))


def test_n_best_and_beam_one_is_greedy() -> None:
    torch.manual_seed(0)
    model = TinyDecoderModel().eval()
    prompts = [torch.tensor([3, 5, 7]), torch.tensor([9])]
    greedy = SamplingGenerator(eos_idx=EOS, max_gen_len=8).generate(model, prompts)
    beam1 = BeamSearchGenerator(eos_idx=EOS, beam_size=1, max_gen_len=8).generate(model, prompts)
    for g, b in zip(greedy.hypotheses, beam1.hypotheses):
        assert g[0].tokens.tolist() == b[0].tokens.tolist()
    top2 = BeamSearchGenerator(eos_idx=EOS, beam_size=4, n_best=2, max_gen_len=8).generate(
        model, prompts
    )
    assert all(len(group) == 2 for group in top2.hypotheses)
    assert all(group[0].score >= group[1].score for group in top2.hypotheses)


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_decoder_only_beam_equals_no_cache_reference(length_penalty) -> None:
    torch.manual_seed(2)
    model = TinyDecoderModel().eval()
    g = torch.Generator().manual_seed(4)
    prompts = [torch.randint(3, 13, (n,), generator=g) for n in (3, 1, 5)]
    beam = BeamSearchGenerator(
        eos_idx=EOS, beam_size=3, max_gen_len=7, length_penalty=length_penalty
    )
    out = beam.generate(model, prompts)
    for prompt, hyps in zip(prompts, out.hypotheses):
        expected = reference.beam_search(
            model, prompt, eos=EOS, k=3, max_gen_len=7, length_penalty=length_penalty
        )
        assert [h.tokens.tolist() for h in hyps] == [toks for _, toks in expected]
        assert [h.score for h in hyps] == pytest.approx([s for s, _ in expected], abs=1e-4)


def test_encoder_decoder_beam_equals_no_cache_reference() -> None:
    torch.manual_seed(3)
    model = TinyEncoderDecoderModel().eval()
    g = torch.Generator().manual_seed(8)
    sources = [torch.randint(3, 13, (n,), generator=g) for n in (4, 6)]
    prefixes = [torch.tensor([EOS, 7]), torch.tensor([EOS, 8])]
    out = BeamSearchGenerator(eos_idx=EOS, beam_size=2, max_gen_len=6).generate(
        model, prefixes, sources=sources
    )
    for src, prefix, hyps in zip(sources, prefixes, out.hypotheses):
        expected = reference.beam_search(
            model, prefix, eos=EOS, k=2, max_gen_len=6, length_penalty=1.0, source=src
        )
        assert [h.tokens.tolist() for h in hyps] == [toks for _, toks in expected]


def test_beam_search_reorders_the_cache_instead_of_recomputing() -> None:
    torch.manual_seed(0)
    model = TinyDecoderModel().eval()
    widths, bags = [], []

    def hook(module, args, kwargs):
        widths.append(args[0].size(1))
        bags.append(kwargs["state_bag"])

    model.register_forward_pre_hook(hook, with_kwargs=True)
    out = BeamSearchGenerator(eos_idx=EOS, beam_size=3, min_gen_len=6, max_gen_len=6).generate(
        model, [torch.tensor([3, 4, 5])]
    )
    assert widths == [3] + [1] * 5
    assert out.num_steps == 6
    state = bags[0].get_state(model.attn, KVState)
    assert state.num_reorders == 5
    assert state.k.size(1) == bags[0].step_nr == 8


def test_bad_beam_options_are_reported() -> None:
    with pytest.raises(GenerationError, match="beam_size"):
        BeamSearchGenerator(eos_idx=EOS, beam_size=0)
    with pytest.raises(GenerationError, match="n_best"):
        BeamSearchGenerator(eos_idx=EOS, beam_size=2, n_best=3)


def test_bad_prompts_are_reported() -> None:
    gen = BeamSearchGenerator(eos_idx=EOS, beam_size=2, max_gen_len=3)
    with pytest.raises(GenerationError, match="at least one prompt"):
        gen.generate(_bigram(), [])
    with pytest.raises(GenerationError, match="prompt 1 must be a non-empty 1-D"):
        gen.generate(_bigram(), [torch.tensor([BOS]), torch.tensor([], dtype=torch.long)])
    with pytest.raises(GenerationError, match="got 1 sources for 2 prompts"):
        gen.generate(_bigram(), [torch.tensor([BOS])] * 2, sources=[torch.tensor([A])])
