from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from seqkit.generation.beam_search import BeamSearchGenerator
from seqkit.generation.errors import GenerationError
from seqkit.generation.sampling import SamplingGenerator
from seqkit.generation.text_completer import TextCompleter
from seqkit.generation.text_translator import TextTranslator
from seqkit.text.byte import ByteTokenizer
from tests.generation import reference
from tests.generation.tiny_models import TinyDecoderModel, TinyEncoderDecoderModel

BIBLE = Path(__file__).resolve().parents[2] / "datasets" / "bible"


@pytest.fixture
def tokenizer() -> ByteTokenizer:
    return ByteTokenizer()


@pytest.fixture
def lm() -> TinyDecoderModel:
    torch.manual_seed(0)
    return TinyDecoderModel(vocab_size=260, dim=16).eval()


def test_completer_returns_the_decoded_greedy_continuation(lm, tokenizer) -> None:
    gen = SamplingGenerator(eos_idx=2, max_gen_len=10)
    completer = TextCompleter(lm, tokenizer, gen)
    prompt = "In the"
    expected_ids = reference.greedy(
        lm, tokenizer.create_encoder(mode="prompt")(prompt), eos=2, max_gen_len=10
    )
    expected = tokenizer.create_decoder()(expected_ids)
    assert completer(prompt) == expected
    assert completer([prompt, "And God"])[0] == expected
    text, score = completer(prompt, return_scores=True)
    assert text == expected
    assert math.isfinite(score)
    assert score < 0


def test_completer_perplexity_matches_scorer_math(lm, tokenizer) -> None:
    completer = TextCompleter(lm, tokenizer)
    ids = tokenizer.create_encoder(mode="default")("Amen.")
    logp = sum(
        float(reference.full_logits(lm, ids[:t].tolist(), None)[ids[t]])
        for t in range(1, ids.numel())
    )
    assert completer.perplexity("Amen.") == pytest.approx(math.exp(-logp / (ids.numel() - 1)))


def test_mismatched_eos_is_reported(lm, tokenizer) -> None:
    with pytest.raises(GenerationError, match="eos_idx=7 but the tokenizer's EOS is 2"):
        TextCompleter(lm, tokenizer, SamplingGenerator(eos_idx=7))


def test_translator_runs_beam_search_from_the_target_prefix(tokenizer) -> None:
    torch.manual_seed(1)
    model = TinyEncoderDecoderModel(vocab_size=260, dim=16).eval()
    gen = BeamSearchGenerator(eos_idx=2, beam_size=2, max_gen_len=6)
    translator = TextTranslator(model, tokenizer, gen)
    src = tokenizer.create_encoder(task="translation", mode="source")("Hola")
    expected = reference.beam_search(
        model, torch.tensor([1]), eos=2, k=2, max_gen_len=6, length_penalty=1.0, source=src
    )
    best = tokenizer.create_decoder()(expected[0][1])
    assert translator("Hola") == best
    out = translator(["Hola", "Adios"], return_scores=True)
    assert out[0][0] == best
    assert out[0][1] == pytest.approx(expected[0][0], abs=1e-4)
    target = [ord("a") + 4, ord("b") + 4, 2]
    expected_logp = sum(
        float(reference.full_logits(model, [1, *target[:t]], src)[target[t]]) for t in range(3)
    )
    assert translator.score(["Hola"], ["ab"]) == pytest.approx([expected_logp], abs=1e-5)


def test_translator_rejects_decoder_only_models(lm, tokenizer) -> None:
    with pytest.raises(GenerationError, match="use TextCompleter"):
        TextTranslator(lm, tokenizer)


def test_translator_forces_the_target_language_token(tmp_path) -> None:
    from seqkit.text.sentencepiece import SentencePieceTokenizer
    from seqkit.text.training import train_sentencepiece

    corpus = tmp_path / "corpus.txt"
    en = (BIBLE / "kjv-rv1909.en").read_text(encoding="utf-8").splitlines()[:200]
    es = (BIBLE / "kjv-rv1909.es").read_text(encoding="utf-8").splitlines()[:200]
    corpus.write_text("\n".join(en + es) + "\n", encoding="utf-8")
    trained = train_sentencepiece(
        [corpus], output_dir=tmp_path / "spm", vocab_size=300, langs=["en", "es"]
    )
    tokenizer = SentencePieceTokenizer.from_file(trained.model_path)
    es_id = tokenizer.token_to_index("__es__")
    en_id = tokenizer.token_to_index("__en__")
    torch.manual_seed(2)
    model = TinyEncoderDecoderModel(vocab_size=tokenizer.vocab_info.size, dim=16).eval()
    seen = []
    decode = model.decode

    def spy(seqs, *args, **kwargs):
        seen.append((seqs.clone(), args[2]))
        return decode(seqs, *args, **kwargs)

    model.decode = spy
    sources = []
    encode = model.encode

    def spy_encode(seqs, layout):
        sources.append(seqs.clone())
        return encode(seqs, layout)

    model.encode = spy_encode
    gen = SamplingGenerator(eos_idx=2, max_gen_len=4)
    translator = TextTranslator(model, tokenizer, gen, source_lang="en", target_lang="es")
    out = translator(en[:2])
    assert len(out) == 2
    assert all(isinstance(t, str) for t in out)
    first_tgt, _ = seen[0]
    assert first_tgt[:, :2].tolist() == [[1, es_id], [1, es_id]]
    assert sources[0][:, 0].tolist() == [en_id, en_id]


def test_completer_never_emits_ids_past_the_tokenizer_vocabulary(tokenizer) -> None:
    torch.manual_seed(5)
    wide = TinyDecoderModel(vocab_size=400, dim=16).eval()
    with torch.no_grad():
        wide.out.bias[260:] = 50.0  # the padded rows would win every step
    gen = SamplingGenerator(eos_idx=2, max_gen_len=8)
    completer = TextCompleter(wide, tokenizer, gen)
    assert isinstance(completer("Amen"), str)
    out = completer._limited.generate(wide, [tokenizer.create_encoder(mode="prompt")("Amen")])
    assert int(out.hypotheses[0][0].tokens.max()) < 260
    # The caller's generator is left as it was.
    assert gen.step_processors == []
