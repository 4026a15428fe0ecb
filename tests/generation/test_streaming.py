"""Streaming generation (TextCompleter.stream), incremental decoding and chat sessions."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from seqkit.cli.commands.chat import run_chat
from seqkit.generation import BeamSearchGenerator, SamplingGenerator, TextCompleter, TopPSampler
from seqkit.generation.chat import ChatSession
from seqkit.generation.streaming import IncrementalDecoder, stream_tokens
from seqkit.text import HuggingFaceTokenizer
from seqkit.text.byte import ByteTokenizer
from tests.generation.tiny_models import TinyDecoderModel

from ..hf_fixtures import build_hf_tokenizer

PROMPTS = ["In the", "And God said", "ü"]


@pytest.fixture
def lm() -> TinyDecoderModel:
    torch.manual_seed(0)
    return TinyDecoderModel(vocab_size=260, dim=16).eval()


def test_incremental_decoder_never_splits_a_character() -> None:
    tokenizer = ByteTokenizer()
    text = "héllo 日本🙂!"
    ids = tokenizer.create_encoder(add_bos=False, add_eos=False).encode_ids(text)
    incremental = IncrementalDecoder(tokenizer.create_decoder())
    pieces = [incremental.push(i) for i in ids]
    pieces.append(incremental.flush())
    assert [p for p in pieces if p] == list(text)
    assert "".join(pieces) == text


def test_incremental_decoder_flushes_a_dangling_byte() -> None:
    tokenizer = ByteTokenizer()
    ids = tokenizer.create_encoder(add_bos=False, add_eos=False).encode_ids("a日")[:-1]
    incremental = IncrementalDecoder(tokenizer.create_decoder())
    shown = "".join(incremental.push(i) for i in ids)
    assert shown == "a"
    assert shown + incremental.flush() == tokenizer.create_decoder()(ids)


@pytest.mark.parametrize("seed", [None, 3])
def test_stream_joins_to_the_completion(lm: TinyDecoderModel, seed: int | None) -> None:
    tokenizer = ByteTokenizer()
    sampler = None if seed is None else TopPSampler(0.9, temperature=1.5)
    gen = SamplingGenerator(sampler, eos_idx=2, max_gen_len=24, seed=seed)
    completer = TextCompleter(lm, tokenizer, gen)
    for prompt in PROMPTS:
        pieces = list(completer.stream(prompt))
        assert "".join(pieces) == completer(prompt)
        assert all(pieces)


def test_stream_tokens_equal_generate(lm: TinyDecoderModel) -> None:
    tokenizer = ByteTokenizer()
    gen = SamplingGenerator(eos_idx=2, max_gen_len=16)
    prompt = tokenizer.create_encoder(mode="prompt")("Blessed")
    expected = gen.generate(lm, [prompt]).hypotheses[0][0].tokens.tolist()
    assert list(stream_tokens(gen, lm, prompt)) == expected
    beam = BeamSearchGenerator(beam_size=2, eos_idx=2, max_gen_len=8)
    best = beam.generate(lm, [prompt]).hypotheses[0][0].tokens.tolist()
    assert list(stream_tokens(beam, lm, prompt)) == best


@pytest.fixture(scope="module")
def chatml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hf_tokenizer(tmp_path_factory.mktemp("chatml"), "chatml")


def test_chat_session_renders_the_template_like_transformers(chatml: Path) -> None:
    transformers = pytest.importorskip("transformers")
    tokenizer = HuggingFaceTokenizer.from_path(chatml)
    torch.manual_seed(0)
    model = TinyDecoderModel(vocab_size=tokenizer.vocab_info.size, dim=16, max_len=512).eval()
    eos = tokenizer.vocab_info.eos_idx
    assert eos is not None
    gen = SamplingGenerator(eos_idx=eos, max_gen_len=12)
    session = ChatSession(model, tokenizer, gen, system="Be brief.")
    reply = "".join(session.send("Hello, ünïcode 🙂"))
    assert session.messages[-1] == {"role": "assistant", "content": reply}
    list(session.send("And then?"))
    assert [m["role"] for m in session.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    theirs = transformers.AutoTokenizer.from_pretrained(str(chatml))
    session.messages.append({"role": "user", "content": "Last one."})
    expected = theirs.apply_chat_template(
        session.messages, tokenize=True, add_generation_prompt=True
    )
    if hasattr(expected, "keys"):
        expected = expected["input_ids"]
    assert session.prompt_ids().tolist() == list(expected)
    session.reset()
    assert session.messages == [{"role": "system", "content": "Be brief."}]


def test_chat_without_template_uses_plain_lines(lm: TinyDecoderModel) -> None:
    tokenizer = ByteTokenizer()
    session = ChatSession(lm, tokenizer, SamplingGenerator(eos_idx=2, max_gen_len=6))
    assert not session.uses_template
    session.messages.append({"role": "user", "content": "Hi"})
    decoded = tokenizer.create_decoder(skip_special_tokens=False)(session.prompt_ids())
    assert decoded.endswith("User: Hi\nAssistant: ")


def test_run_chat_streams_replies(lm: TinyDecoderModel) -> None:
    tokenizer = ByteTokenizer()
    session = ChatSession(lm, tokenizer, SamplingGenerator(eos_idx=2, max_gen_len=6))
    out = io.StringIO()
    assert run_chat(session, io.StringIO("Hi\n\n/reset\nAgain\n/exit\nignored\n"), out) == 0
    assert "(conversation reset)" in out.getvalue()
    assert [m["content"] for m in session.messages if m["role"] == "user"] == ["Again"]
