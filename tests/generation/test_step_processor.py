from __future__ import annotations

import pytest
import torch

from seqkit.generation.errors import GenerationError
from seqkit.generation.step_processor import (
    BannedTokenProcessor,
    ForcedTokenProcessor,
    MinLengthProcessor,
    RepetitionPenaltyProcessor,
)


def test_repetition_penalty_matches_ctrl_rule() -> None:
    logits = torch.tensor([[2.0, -1.0, 3.0, 0.5]])
    seqs = torch.tensor([[0, 1, 1]])
    RepetitionPenaltyProcessor(2.0)(seqs, logits, torch.tensor([0]))
    assert logits.tolist() == [[1.0, -2.0, 3.0, 0.5]]


def test_banned_tokens_get_minus_inf() -> None:
    logits = torch.zeros(2, 5)
    BannedTokenProcessor([3, 0])(torch.zeros(2, 1, dtype=torch.long), logits, torch.zeros(2))
    assert torch.isinf(logits[:, [0, 3]]).all()
    assert torch.isfinite(logits[:, [1, 2, 4]]).all()


def test_forced_tokens_apply_only_at_their_step() -> None:
    logits = torch.zeros(3, 6)
    gen_lens = torch.tensor([0, 1, 2])
    ForcedTokenProcessor({0: 4, 1: 2})(torch.zeros(3, 1, dtype=torch.long), logits, gen_lens)
    assert logits[0].argmax() == 4
    assert torch.isinf(logits[0]).sum() == 5
    assert logits[1].argmax() == 2
    assert torch.isinf(logits[1]).sum() == 5
    assert torch.isfinite(logits[2]).all()


def test_min_length_bans_eos_until_reached() -> None:
    logits = torch.zeros(2, 4)
    MinLengthProcessor(2, eos_idx=3)(
        torch.zeros(2, 1, dtype=torch.long), logits, torch.tensor([1, 2])
    )
    assert torch.isinf(logits[0, 3])
    assert torch.isfinite(logits[1, 3])


def test_out_of_vocabulary_ids_are_reported() -> None:
    with pytest.raises(
        GenerationError, match=r"\[9\] are outside the model's vocabulary of size 5"
    ):
        BannedTokenProcessor([9])(
            torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 5), torch.zeros(1)
        )
    with pytest.raises(GenerationError, match="repetition penalty"):
        RepetitionPenaltyProcessor(0.0)


def test_vocabulary_limit_bans_ids_past_the_tokenizer() -> None:
    from seqkit.generation.step_processor import VocabularyLimitProcessor

    logits = torch.zeros(2, 6)
    VocabularyLimitProcessor(4)(torch.zeros(2, 1, dtype=torch.long), logits, torch.zeros(2))
    assert torch.isinf(logits[:, 4:]).all()
    assert torch.isfinite(logits[:, :4]).all()
