from __future__ import annotations

import pytest
import torch

from seqkit.generation.errors import GenerationError
from seqkit.generation.sampler import TopKSampler
from seqkit.generation.sampling import SamplingGenerator
from seqkit.generation.step_processor import BannedTokenProcessor, ForcedTokenProcessor
from tests.generation import reference
from tests.generation.tiny_models import KVState, TinyDecoderModel, TinyEncoderDecoderModel

EOS = 2


@pytest.fixture
def model() -> TinyDecoderModel:
    torch.manual_seed(0)
    return TinyDecoderModel().eval()


def _prompts() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return [torch.randint(3, 13, (n,), generator=g) for n in (1, 4, 2, 6)]


def test_greedy_equals_no_cache_reference_for_ragged_prompts(model) -> None:
    prompts = _prompts()
    out = SamplingGenerator(eos_idx=EOS, max_gen_len=12).generate(model, prompts)
    for prompt, hyps in zip(prompts, out.hypotheses):
        expected = reference.greedy(model, prompt, eos=EOS, max_gen_len=12)
        assert hyps[0].tokens.tolist() == expected
        assert hyps[0].finished == (expected[-1] == EOS)
        assert hyps[0].score == pytest.approx(float(hyps[0].step_scores.sum()))


def test_prompt_order_and_batching_do_not_change_results(model) -> None:
    prompts = _prompts()
    gen = SamplingGenerator(eos_idx=EOS, max_gen_len=10)
    batched = gen.generate(model, prompts).hypotheses
    alone = [gen.generate(model, [p]).hypotheses[0] for p in prompts]
    for a, b in zip(batched, alone):
        assert a[0].tokens.tolist() == b[0].tokens.tolist()
        torch.testing.assert_close(a[0].step_scores, b[0].step_scores, rtol=1e-4, atol=1e-4)


def test_prefill_then_one_token_per_step(model) -> None:
    widths: list[int] = []
    model.register_forward_pre_hook(
        lambda m, args, kwargs: widths.append(args[0].size(1)), with_kwargs=True
    )
    prompts = _prompts()
    out = SamplingGenerator(eos_idx=EOS, max_gen_len=5, min_gen_len=5).generate(model, prompts)
    assert widths[0] == 1  # the shortest prompt
    assert set(widths[1:]) == {1}
    assert out.num_steps == len(widths)
    # The longest prompt (6) plus 5 generated tokens, minus the last token never fed back.
    assert len(widths) == 6 + 5 - 1
    assert all(len(h[0].tokens) == 5 for h in out.hypotheses)


def test_early_exit_when_every_row_is_done() -> None:
    torch.manual_seed(0)
    model = TinyDecoderModel().eval()
    forced_eos = ForcedTokenProcessor({2: EOS})
    out = SamplingGenerator(eos_idx=EOS, max_gen_len=50, step_processors=[forced_eos]).generate(
        model, [torch.tensor([3, 4])]
    )
    assert out.hypotheses[0][0].tokens[-1] == EOS
    assert len(out.hypotheses[0][0].tokens) == 3
    assert out.num_steps == 3


def test_min_length_and_banned_tokens_are_respected(model) -> None:
    gen = SamplingGenerator(
        TopKSampler(5, temperature=2.0),
        eos_idx=EOS,
        max_gen_len=8,
        min_gen_len=4,
        num_gens=6,
        seed=1,
        step_processors=[BannedTokenProcessor([0, 5])],
    )
    out = gen.generate(model, _prompts())
    for group in out.hypotheses:
        assert len(group) == 6
        for hyp in group:
            tokens = hyp.tokens.tolist()
            assert 5 not in tokens
            assert 0 not in tokens
            assert EOS not in tokens[:4]
            assert EOS not in tokens[:-1]


def test_seeded_sampling_is_reproducible_and_matches_reference(model) -> None:
    prompts = [torch.tensor([3, 7, 9]), torch.tensor([4, 4, 12])]
    gen = SamplingGenerator(TopKSampler(4), eos_idx=EOS, max_gen_len=6, seed=11)
    first = gen.generate(model, prompts)
    again = gen.generate(model, prompts)
    assert [h[0].tokens.tolist() for h in first.hypotheses] == [
        h[0].tokens.tolist() for h in again.hypotheses
    ]
    # Batched no-cache reference with the same sampler and generator state.
    rng = torch.Generator().manual_seed(11)
    seqs = torch.stack(prompts)
    done = torch.zeros(2, dtype=torch.bool)
    for _ in range(6):
        lp = model(seqs)[:, -1].float().log_softmax(-1)
        tok = TopKSampler(4)(lp, rng).masked_fill(done, 0)
        seqs = torch.cat([seqs, tok[:, None]], dim=1)
        done |= tok == EOS
        if done.all():
            break
    for row, hyps in enumerate(first.hypotheses):
        expected = seqs[row, 3:].tolist()
        if EOS in expected:
            expected = expected[: expected.index(EOS) + 1]
        assert hyps[0].tokens.tolist() == expected
    other = SamplingGenerator(TopKSampler(4), eos_idx=EOS, max_gen_len=6, seed=12).generate(
        model, prompts
    )
    assert [h[0].tokens.tolist() for h in other.hypotheses] != [
        h[0].tokens.tolist() for h in first.hypotheses
    ]


def test_encoder_decoder_greedy_equals_no_cache_reference() -> None:
    torch.manual_seed(1)
    model = TinyEncoderDecoderModel().eval()
    g = torch.Generator().manual_seed(5)
    sources = [torch.randint(3, 13, (n,), generator=g) for n in (5, 2, 7)]
    prefixes = [torch.tensor([EOS, 9]), torch.tensor([EOS]), torch.tensor([EOS, 9])]
    out = SamplingGenerator(eos_idx=EOS, max_gen_len=9).generate(model, prefixes, sources=sources)
    for src, prefix, hyps in zip(sources, prefixes, out.hypotheses):
        expected = reference.greedy(model, prefix, eos=EOS, max_gen_len=9, source=src)
        assert hyps[0].tokens.tolist() == expected


def test_cache_state_is_used(model) -> None:
    bags = []
    orig = model.forward

    def spy(seqs, layout=None, *, state_bag=None):
        bags.append(state_bag)
        return orig(seqs, layout, state_bag=state_bag)

    model.forward = spy
    SamplingGenerator(eos_idx=EOS, max_gen_len=4).generate(model, [torch.tensor([3, 4])])
    assert all(b is bags[0] for b in bags)
    assert bags[0] is not None
    assert bags[0].get_state(model.attn, KVState).k.size(1) == bags[0].step_nr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompts": []}, "at least one prompt"),
        ({"prompts": [torch.tensor([[1, 2]])]}, "prompt 0 must be a non-empty 1-D"),
        ({"prompts": [torch.tensor([3])], "sources": [torch.tensor([3])]}, "decoder-only"),
    ],
)
def test_bad_inputs_are_reported(model, kwargs, message) -> None:
    with pytest.raises(GenerationError, match=message):
        SamplingGenerator(eos_idx=EOS).generate(model, **kwargs)


def test_encoder_decoder_needs_sources() -> None:
    with pytest.raises(GenerationError, match="pass sources="):
        SamplingGenerator(eos_idx=EOS).generate(TinyEncoderDecoderModel(), [torch.tensor([EOS])])


def test_bad_generator_options_are_reported() -> None:
    with pytest.raises(GenerationError, match="max_gen_len"):
        SamplingGenerator(eos_idx=EOS, max_gen_len=0)
    with pytest.raises(GenerationError, match="min_gen_len"):
        SamplingGenerator(eos_idx=EOS, max_gen_len=3, min_gen_len=4)
    with pytest.raises(GenerationError, match="num_gens"):
        SamplingGenerator(eos_idx=EOS, num_gens=0)


def test_prefill_asks_seqkit_models_for_the_last_position_only() -> None:
    from seqkit.models.llama import LLAMA_ARCHS, create_llama_model

    torch.manual_seed(0)
    llama = create_llama_model(LLAMA_ARCHS["tiny"]()).eval()
    calls: list[tuple[int, bool]] = []
    llama.register_forward_hook(
        lambda m, args, kwargs, out: calls.append((args[0].size(1), kwargs.get("last_only"))),
        with_kwargs=True,
    )
    prompts = [torch.tensor([5, 6, 7, 8]), torch.tensor([9, 10, 11])]
    out = SamplingGenerator(eos_idx=EOS, max_gen_len=3).generate(llama, prompts)
    assert calls[0] == (3, True)  # prefill: only the last column is projected
    assert all(width == 1 and not last for width, last in calls[1:])
    expected = [reference.greedy(llama, p, eos=EOS, max_gen_len=3) for p in prompts]
    assert [h[0].tokens.tolist() for h in out.hypotheses] == expected
