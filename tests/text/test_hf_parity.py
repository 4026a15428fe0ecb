"""HF tokenizers encode, decode and render chat templates exactly as ``transformers`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seqkit.text import EncodingModeError, HuggingFaceTokenizer
from seqkit.text.errors import ChatTemplateError

from ..hf_fixtures import build_hf_tokenizer

pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

TEXTS = [
    "In the beginning God created the heavens and the earth.",
    "",
    " ",
    "  leading and trailing spaces  ",
    "line one\nline two\n\n\ttabbed",
    "héllo wörld, ünïcode — 日本語のテキスト 🙂 naïve café",
    "special tokens inline: <s> hello </s> and <|im_start|>user\nhi<|im_end|>",
    "<|endoftext|>",
    "numbers 1234567890 and punctuation !?.,;:'\"()[]{}",
    " ".join(["And God said, Let there be light: and there was light."] * 60),
]

CHATS: list[list[dict[str, str]]] = [
    [{"role": "user", "content": "Hello!"}],
    [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Who made the light? ünïcode 🙂"},
        {"role": "assistant", "content": "God did."},
        {"role": "user", "content": "  And then?  "},
    ],
    [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
    ],
]


@pytest.fixture(scope="module", params=["bos", "chatml"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = build_hf_tokenizer(tmp_path_factory.mktemp(request.param), request.param)
    ours = HuggingFaceTokenizer.from_path(directory)
    theirs = transformers.AutoTokenizer.from_pretrained(str(directory))
    return request.param, ours, theirs


def test_encode_matches_autotokenizer(pair: Any) -> None:
    kind, ours, theirs = pair
    encoder = ours.create_encoder()
    for text in TEXTS:
        expected = theirs(text)["input_ids"]
        assert encoder(text).tolist() == expected, text
    batch = [t.tolist() for t in encoder.encode_batch(TEXTS)]
    assert batch == [theirs(t)["input_ids"] for t in TEXTS]
    flat = encoder.encode_batch_flat(TEXTS)
    assert flat.tokens.tolist() == [i for t in TEXTS for i in theirs(t)["input_ids"]]
    no_specials = [theirs(t, add_special_tokens=False)["input_ids"] for t in TEXTS]
    assert [encoder.encode_ids(t) for t in TEXTS] == no_specials
    # Only the bos tokenizer's post-processor adds BOS; chatml (like SmolLM2) adds nothing.
    first = encoder("hello").tolist()[0]
    assert (first == ours.vocab_info.bos_idx) == (kind == "bos")


def test_bos_eos_overrides(pair: Any) -> None:
    _, ours, theirs = pair
    bos, eos = ours.vocab_info.bos_idx, ours.vocab_info.eos_idx
    plain = theirs("hello world", add_special_tokens=False)["input_ids"]
    assert ours.create_encoder(add_bos=True)("hello world").tolist() == [bos, *plain]
    assert ours.create_encoder(add_bos=False)("hello world").tolist() == plain
    both = ours.create_encoder(add_bos=True, add_eos=True)("hello world").tolist()
    assert both == [bos, *plain, eos]
    assert ours.create_encoder(add_bos=False, add_eos=True)("hello world").tolist() == [
        *plain,
        eos,
    ]
    # prompt: the tokenizer's own prefix, never EOS; default: the prefix, then EOS.
    native = theirs("hello world")["input_ids"]
    assert ours.create_encoder(mode="prompt")("hello world").tolist() == native
    assert ours.create_encoder(mode="default")("hello world").tolist() == [*native, eos]


def test_override_without_token_is_an_error(tmp_path: Path) -> None:
    directory = build_hf_tokenizer(tmp_path / "t", "chatml")
    ours = HuggingFaceTokenizer.from_path(directory)
    ours._vocab = type(ours._vocab)(size=ours._vocab.size, eos_idx=ours._vocab.eos_idx)
    with pytest.raises(EncodingModeError, match="add_bos=True"):
        ours.create_encoder(add_bos=True)


def test_decode_matches_autotokenizer(pair: Any) -> None:
    _, ours, theirs = pair
    skip, keep = ours.create_decoder(), ours.create_decoder(skip_special_tokens=False)
    for text in TEXTS:
        ids = theirs(text)["input_ids"] + [ours.vocab_info.eos_idx]
        assert skip(ids) == theirs.decode(ids, skip_special_tokens=True), text
        assert keep(ids) == theirs.decode(ids, skip_special_tokens=False), text
    rows = [theirs(t)["input_ids"] for t in TEXTS]
    assert skip.decode_batch(rows) == theirs.batch_decode(rows, skip_special_tokens=True)


def test_chat_template_matches_transformers(pair: Any) -> None:
    kind, ours, theirs = pair
    assert ours.chat_template is not None
    for chat in CHATS:
        if kind == "bos" and chat[-1]["role"] == "assistant" and len(chat) == 2:
            pass
        for gen in (False, True):
            expected = theirs.apply_chat_template(chat, tokenize=False, add_generation_prompt=gen)
            assert ours.apply_chat_template(chat, add_generation_prompt=gen) == expected
            ids = theirs.apply_chat_template(chat, tokenize=True, add_generation_prompt=gen)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            rendered = ours.apply_chat_template(chat, add_generation_prompt=gen)
            assert ours.create_encoder(add_bos=False, add_eos=False).encode_ids(rendered) == list(
                ids
            )


def test_chat_template_raise_exception(tmp_path: Path) -> None:
    ours = HuggingFaceTokenizer.from_path(build_hf_tokenizer(tmp_path / "b", "bos"))
    bad = [{"role": "assistant", "content": "first"}]
    with pytest.raises(ChatTemplateError, match="alternate"):
        ours.apply_chat_template(bad)


def test_no_chat_template_is_a_clear_error(tmp_path: Path) -> None:
    directory = build_hf_tokenizer(tmp_path / "c", "chatml")
    (directory / "chat_template.jinja").unlink()
    ours = HuggingFaceTokenizer.from_path(directory)
    assert ours.chat_template is None
    with pytest.raises(ChatTemplateError, match="no chat template"):
        ours.apply_chat_template([{"role": "user", "content": "hi"}])


def test_template_globals(tmp_path: Path) -> None:
    from seqkit.text.chat_template import render_chat_template

    template = (
        "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
        "{% if loop.index > 5 %}{% break %}{% endif %}{% endfor %}"
        "{{ ns.n }}|{{ messages | tojson }}|{{ dict(a=1) | tojson }}|{{ bos_token }}"
        "{% generation %}G{% endgeneration %}|{{ strftime_now('%Y') | length }}"
    )
    out = render_chat_template(template, [{"role": "user", "content": "é"}], bos_token="<s>")
    assert out == '1|[{"role": "user", "content": "é"}]|{"a": 1}|<s>G|4'
