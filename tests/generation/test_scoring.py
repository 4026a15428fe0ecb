from __future__ import annotations

import math

import pytest
import torch

from seqkit.generation.errors import GenerationError
from seqkit.generation.sampling import SamplingGenerator
from seqkit.generation.scoring import SequenceScorer, perplexity
from tests.generation.reference import full_logits
from tests.generation.tiny_models import TinyDecoderModel, TinyEncoderDecoderModel

EOS = 2


def _expected(model, context: list[int], target: list[int], source=None) -> list[float]:
    return [
        float(full_logits(model, context + target[:t], source)[target[t]])
        for t in range(len(target))
    ]


def test_decoder_only_scores_match_token_by_token_reference() -> None:
    torch.manual_seed(0)
    model = TinyDecoderModel().eval()
    contexts = [torch.tensor([1, 5]), torch.tensor([1]), torch.tensor([1, 7, 8, 9])]
    targets = [torch.tensor([3, 4, 2]), torch.tensor([6, 2]), torch.tensor([10, 11, 12, 3, 2])]
    out = SequenceScorer(model, batch_size=2).score(targets, contexts=contexts)
    for c, t, lp in zip(contexts, targets, out.token_log_probs):
        assert lp.tolist() == pytest.approx(_expected(model, c.tolist(), t.tolist()), abs=1e-5)
    assert out.seq_log_probs.shape == (3,)
    assert out.num_tokens == 10


def test_without_context_the_first_token_is_context() -> None:
    torch.manual_seed(0)
    model = TinyDecoderModel().eval()
    seqs = [torch.tensor([1, 3, 4, 2]), torch.tensor([1, 6])]
    out = SequenceScorer(model).score(seqs)
    assert [lp.numel() for lp in out.token_log_probs] == [3, 1]
    expected = _expected(model, [1], [3, 4, 2]) + _expected(model, [1], [6])
    assert math.exp(-sum(expected) / 4) == pytest.approx(perplexity(model, seqs), rel=1e-5)


def test_scores_of_generated_tokens_match_generator_step_scores() -> None:
    torch.manual_seed(4)
    model = TinyDecoderModel().eval()
    prompt = torch.tensor([1, 3, 9])
    hyp = SamplingGenerator(eos_idx=EOS, max_gen_len=6).generate(model, [prompt]).hypotheses[0][0]
    out = SequenceScorer(model).score([hyp.tokens], contexts=[prompt])
    torch.testing.assert_close(out.token_log_probs[0], hyp.step_scores, rtol=1e-4, atol=1e-4)


def test_encoder_decoder_scores_match_reference() -> None:
    torch.manual_seed(1)
    model = TinyEncoderDecoderModel().eval()
    sources = [torch.tensor([5, 6, 7, 2]), torch.tensor([8, 2])]
    contexts = [torch.tensor([1, 11]), torch.tensor([1, 11])]
    targets = [torch.tensor([4, 2]), torch.tensor([9, 10, 3, 2])]
    out = SequenceScorer(model).score(targets, contexts=contexts, sources=sources)
    for s, c, t, lp in zip(sources, contexts, targets, out.token_log_probs):
        expected = _expected(model, c.tolist(), t.tolist(), source=s)
        assert lp.tolist() == pytest.approx(expected, abs=1e-5)


def test_scoring_errors_name_the_fix() -> None:
    model = TinyEncoderDecoderModel()
    with pytest.raises(GenerationError, match="pass sources= and contexts="):
        SequenceScorer(model).score([torch.tensor([3])])
    with pytest.raises(GenerationError, match="got 1 contexts for 2 targets"):
        SequenceScorer(TinyDecoderModel()).score(
            [torch.tensor([3]), torch.tensor([4])], contexts=[torch.tensor([1])]
        )
    with pytest.raises(GenerationError, match="zero scored tokens"):
        SequenceScorer(TinyDecoderModel()).score([torch.tensor([1])]).perplexity()
