"""Training SentencePiece tokenizers and writing a ready-to-use asset card beside them."""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, final

import sentencepiece as spm
import yaml

from seqkit.text.errors import TokenizerTrainingError
from seqkit.text.line_policy import LineReport, iter_clean_lines
from seqkit.text.modes import lang_token
from seqkit.text.sentencepiece import SENTENCEPIECE_FAMILY
from seqkit.text.tokenizer import default_num_threads

ModelType = Literal["unigram", "bpe"]

# SentencePiece drops sentences over this many bytes itself (its max_sentence_length
# default); we skip them first so that they are counted in the report.
MAX_SENTENCE_BYTES: Final = 4192


@final
@dataclass(frozen=True, kw_only=True)
class TrainedTokenizer:
    """What :func:`train_sentencepiece` wrote."""

    model_path: Path
    """The ``.model`` file."""

    card_path: Path
    """The asset card (``<name>.yaml``) that loads it."""

    sha256: str
    """SHA-256 of the model file (also in the card as ``tokenizer_sha256``)."""

    vocab_size: int
    """Number of pieces, special and language tokens included."""

    report: LineReport
    """Lines read from the corpora and lines skipped, with reasons."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def train_sentencepiece(
    corpora: Sequence[Path],
    *,
    output_dir: Path,
    vocab_size: int,
    model_type: ModelType = "unigram",
    name: str | None = None,
    langs: Sequence[str] = (),
    user_defined_symbols: Sequence[str] = (),
    character_coverage: float = 1.0,
    max_sentences: int | None = None,
    num_threads: int | None = None,
    seed: int = 2,
) -> TrainedTokenizer:
    """Train a SentencePiece model on the lines of ``corpora`` and write model and card.

    Ids: ``<unk>=0, <s>=1, </s>=2, <pad>=3``, then language tokens ``__xx__`` for each of
    ``langs`` (so ``create_encoder(lang=...)`` works), then ``user_defined_symbols``.
    Bad lines follow :mod:`seqkit.text.line_policy` and are reported in the result.
    ``max_sentences`` caps the sentences used: a uniform reservoir sample drawn with
    ``random.Random(seed)``, kept in corpus order, so the same corpora and seed give the
    same model bytes in any process.
    """
    if model_type not in ("unigram", "bpe"):
        raise TokenizerTrainingError(f"Unknown model type {model_type!r}; use unigram or bpe.")
    for corpus in corpora:
        if not corpus.is_file():
            raise TokenizerTrainingError(f"Corpus {corpus} does not exist or is not a file.")
    name = name or f"{model_type}{vocab_size}"
    symbols = [lang_token(lang) for lang in langs] + list(user_defined_symbols)
    report = LineReport()

    def sentences() -> Iterator[str]:
        for corpus in corpora:
            yield from iter_clean_lines(corpus, report, max_bytes=MAX_SENTENCE_BYTES)

    # SentencePiece's own sampling (input_sentence_size) is not reproducible across
    # processes even with set_random_generator_seed, so the sample is drawn here.
    sample = (
        sentences() if max_sentences is None else iter(_sample(sentences(), max_sentences, seed))
    )
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=sample,
            model_writer=model,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            input_sentence_size=0,
            shuffle_input_sentence=False,
            unk_id=0,
            bos_id=1,
            eos_id=2,
            pad_id=3,
            user_defined_symbols=symbols,
            max_sentence_length=MAX_SENTENCE_BYTES,
            num_threads=num_threads or default_num_threads(),
            minloglevel=2,
        )
    except RuntimeError as ex:
        inputs = ", ".join(map(str, corpora))
        if report.lines_kept == 0:
            raise TokenizerTrainingError(
                f"{inputs} holds no usable line to train a tokenizer on ({report.summary()}); "
                "give a text file with one sentence or document per line."
            ) from None
        limit = re.search(r"value <= (\d+)", str(ex))
        if limit is not None:
            raise TokenizerTrainingError(
                f"{inputs} is too small for a {vocab_size}-piece vocabulary (at most "
                f"{limit.group(1)} pieces fit its {report.lines_kept} line(s)); lower the "
                "vocabulary size (tokenizer.vocab_size, --vocab-size) or add text."
            ) from None
        raise TokenizerTrainingError(f"SentencePiece training on {inputs} failed: {ex}.") from ex
    if report.lines_kept == 0:
        raise TokenizerTrainingError(f"The corpora hold no usable line ({report.summary()}).")

    output_dir.mkdir(parents=True, exist_ok=True)
    model_path = output_dir / f"{name}.model"
    _write_atomic(model_path, model.getvalue())
    sha = sha256_of(model_path)
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    card = {
        "name": name,
        "tokenizer": model_path.name,
        "tokenizer_family": SENTENCEPIECE_FAMILY,
        "tokenizer_sha256": sha,
        "vocab_size": processor.get_piece_size(),
        "model_type": model_type,
        "langs": list(langs),
    }
    card_path = output_dir / f"{name}.yaml"
    _write_atomic(card_path, yaml.safe_dump(card, sort_keys=False).encode("utf-8"))
    return TrainedTokenizer(
        model_path=model_path,
        card_path=card_path,
        sha256=sha,
        vocab_size=processor.get_piece_size(),
        report=report,
    )


def _sample(lines: Iterator[str], size: int, seed: int) -> list[str]:
    """``size`` lines chosen uniformly (reservoir sampling, Algorithm R), in input order."""
    rng = random.Random(seed)
    kept: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        if i < size:
            kept.append((i, line))
        else:
            j = rng.randrange(i + 1)
            if j < size:
                kept[j] = (i, line)
    return [line for _, line in sorted(kept)]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
