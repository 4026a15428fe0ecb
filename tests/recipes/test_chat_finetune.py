"""Chats are tokenized with the tokenizer's chat template, the loss on assistant turns only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqkit.recipes.lm.instructions import (
    Chat,
    assistant_spans,
    read_instruction_examples,
    tokenize_chat,
)
from seqkit.text import HuggingFaceTokenizer

from ..hf_fixtures import build_hf_tokenizer

transformers = pytest.importorskip("transformers")

# ChatML with {% generation %} marks, so transformers can compute its own assistant mask.
TRACKED_CHATML = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>\\n' }}{% endgeneration %}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Finish: In the beginning"},
    {"role": "assistant", "content": "God created the heavens and the earth."},
    {"role": "user", "content": "And then? ünïcode 🙂"},
    {"role": "assistant", "content": "Light."},
]


@pytest.fixture(scope="module")
def chatml_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = build_hf_tokenizer(tmp_path_factory.mktemp("chatml"), "chatml")
    (directory / "chat_template.jinja").write_text(TRACKED_CHATML, encoding="utf-8")
    return directory


def test_mask_equals_transformers_assistant_mask(chatml_dir: Path) -> None:
    ours = HuggingFaceTokenizer.from_path(chatml_dir)
    theirs = transformers.AutoTokenizer.from_pretrained(str(chatml_dir))
    out = theirs.apply_chat_template(
        CHAT, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    encoder = ours.create_encoder(add_bos=False, add_eos=False)
    found = tokenize_chat(ours, encoder, CHAT, max_len=10_000)
    assert found is not None
    example, truncated = found
    assert not truncated
    assert example.ids == list(out["input_ids"])
    # loss_mask[i] says whether ids[i + 1] is a target.
    assert [False, *example.loss_mask] == [bool(m) for m in out["assistant_masks"]]
    targets = [t for t, m in zip(example.ids[1:], example.loss_mask) if m]
    decoded = ours.create_decoder(skip_special_tokens=False)(targets)
    assert decoded == "God created the heavens and the earth.<|im_end|>\nLight.<|im_end|>\n"


def test_llama2_template_spans(tmp_path: Path) -> None:
    ours = HuggingFaceTokenizer.from_path(build_hf_tokenizer(tmp_path / "b", "bos"))
    chat = CHAT[1:]
    found = assistant_spans(ours, chat)
    assert found is not None
    text, spans = found
    assert [text[a:b] for a, b in spans] == [
        " God created the heavens and the earth. </s>",
        " Light. </s>",
    ]
    found_example = tokenize_chat(ours, ours.create_encoder(add_bos=False), chat, max_len=8)
    assert found_example is not None
    example, truncated = found_example
    assert truncated
    assert len(example.ids) == 9
    assert example.ids[0] == ours.vocab_info.bos_idx  # the template writes it


def test_chats_kept_whole_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    lines = [{"messages": CHAT}, {"prompt": "p", "response": "r"}]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    kept = list(read_instruction_examples(path, "{prompt}", keep_chats=True))
    assert isinstance(kept[0], Chat)
    assert kept[0].where == f"{path}:1"
    assert not isinstance(kept[1], Chat)
    plain = list(read_instruction_examples(path, "{prompt}", keep_chats=False))
    assert not any(isinstance(x, Chat) for x in plain)
