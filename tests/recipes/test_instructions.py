from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqkit.recipes.errors import RecipeDataError
from seqkit.recipes.lm.instructions import (
    read_instruction_file,
    tokenize_example,
)


def _write(path: Path, records: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def _ids(text: str) -> list[int]:
    return [100 + len(word) for word in text.split()]


def test_prompt_response_masks_only_the_response(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", [{"prompt": "who are you", "response": "a model"}])
    [segments] = list(read_instruction_file(path, "Q: {prompt} A:"))
    assert [s.text for s in segments] == ["Q: who are you A:", "a model"]
    example, truncated = tokenize_example(segments, _ids, bos_idx=1, eos_idx=2, max_len=64)
    assert not truncated
    prompt_len = 1 + len(_ids("Q: who are you A:"))
    assert example.ids == [1, *_ids("Q: who are you A:"), *_ids("a model"), 2]
    # loss_mask[i] covers predicting ids[i + 1]: only the response tokens and the EOS.
    assert example.loss_mask == [False] * (prompt_len - 1) + [True] * 3


def test_chat_messages_train_on_every_assistant_turn(tmp_path: Path) -> None:
    chat = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello there"},
            {"role": "user", "content": "bye"},
            {"role": "assistant", "content": "farewell"},
        ]
    }
    [segments] = list(read_instruction_file(_write(tmp_path / "c.jsonl", [chat]), "{prompt}"))
    targets = [s.text for s in segments if s.is_target]
    assert targets == ["hello there", "farewell"]
    example, _ = tokenize_example(segments, _ids, bos_idx=1, eos_idx=2, max_len=64)
    predicted = [t for t, m in zip(example.ids[1:], example.loss_mask) if m]
    assert predicted == [*_ids("hello there"), 2, *_ids("farewell"), 2]


def test_truncation_is_reported() -> None:
    from seqkit.recipes.lm.instructions import Segment

    segments = [Segment(text="a b c", is_target=False), Segment(text="d e f g", is_target=True)]
    example, truncated = tokenize_example(segments, _ids, bos_idx=1, eos_idx=2, max_len=4)
    assert truncated
    assert len(example.ids) == 5
    assert len(example.loss_mask) == 4


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "d.jsonl:2: not valid JSON"),
        ('{"prompt": "x"}', "d.jsonl:2: an example must be"),
        ('{"messages": [{"role": "robot", "content": "x"}]}', "message 0 must be"),
        ('{"messages": [{"role": "user", "content": "x"}]}', "no assistant message"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "d.jsonl", [{"prompt": "a", "response": "b"}, line])
    with pytest.raises(RecipeDataError, match=message.replace("[", r"\[")):
        list(read_instruction_file(path, "{prompt}"))
