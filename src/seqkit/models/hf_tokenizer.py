"""A tokenizer in the Hugging Face layout, beside an exported model.

Two kinds of seqkit tokenizers have a Hugging Face form:

* ``huggingface`` tokenizers already are one: their files (``tokenizer.json``,
  ``tokenizer_config.json``, ``special_tokens_map.json``, chat templates...) are copied.
* ``sentencepiece`` models are converted to a ``tokenizer.json`` with ``transformers``'
  SentencePiece converter, which follows the model's own normalizer settings, so
  ``AutoTokenizer`` encodes text to the ids seqkit's encoder gives. The post-processor
  adds the special tokens of the export's encoding mode (``prompt``: ``<s> text`` for
  decoder-only models, ``source``: ``text </s>`` for encoder-decoders), as
  ``add_special_tokens=True`` does for HF Llama/Marian tokenizers. The ``.model`` file is
  kept as ``tokenizer.model``.

Other families (``byte``, ``char``) have no Hugging Face counterpart; exporting them fails
with :class:`~seqkit.models.ModelError`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Final

from seqkit.models.errors import ModelError
from seqkit.text import HuggingFaceTokenizer, SentencePieceTokenizer, TextTokenizer

HF_TOKENIZER_FILES: Final = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
)
"""The files of a Hugging Face tokenizer directory that travel with it (those present)."""

_PIECE_NORMAL: Final = 1
_PIECE_UNKNOWN: Final = 2
_PIECE_CONTROL: Final = 3
_PIECE_USER_DEFINED: Final = 4


def hf_tokenizer_dir(path: Path) -> Path:
    """The directory of a Hugging Face tokenizer given as its ``tokenizer.json`` or directory."""
    return path if path.is_dir() else path.parent


def copy_hf_tokenizer_files(source: Path, directory: Path) -> list[str]:
    """Copy the tokenizer files of ``source`` (a directory or its ``tokenizer.json``) into
    ``directory``; return the names copied. Raises :class:`ModelError` without a
    ``tokenizer.json``."""
    source_dir = hf_tokenizer_dir(source)
    if not (source_dir / "tokenizer.json").is_file():
        raise ModelError(f"{source_dir} holds no tokenizer.json; it is not an HF tokenizer.")
    directory.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in HF_TOKENIZER_FILES:
        if (source_dir / name).is_file():
            if (source_dir / name).resolve() != (directory / name).resolve():
                shutil.copy2(source_dir / name, directory / name)
            copied.append(name)
    return copied


def write_hf_tokenizer(
    tokenizer: TextTokenizer,
    source: Path | None,
    directory: Path,
    *,
    mode: str,
    max_length: int,
) -> None:
    """Write ``tokenizer`` (loaded from ``source``) in the HF layout into ``directory``.

    ``mode`` is the seqkit encoding mode whose special tokens ``add_special_tokens=True``
    adds (SentencePiece conversions only; an HF tokenizer keeps its own post-processor).
    """
    if isinstance(tokenizer, HuggingFaceTokenizer):
        if source is None:
            raise ModelError("The Hugging Face tokenizer's files are unknown (no path).")
        copied = copy_hf_tokenizer_files(source, directory)
        if "tokenizer_config.json" not in copied:
            _write_json(
                directory / "tokenizer_config.json", _tokenizer_config(tokenizer, max_length)
            )
        return
    if isinstance(tokenizer, SentencePieceTokenizer):
        _write_sentencepiece(tokenizer, directory, mode=mode, max_length=max_length)
        return
    raise ModelError(
        f"A '{getattr(tokenizer, 'family', type(tokenizer).__name__)}' tokenizer has no "
        "Hugging Face form (only sentencepiece and huggingface tokenizers export); export "
        "without it (--no-tokenizer) or pass another one (--tokenizer)."
    )


def _write_sentencepiece(
    tokenizer: SentencePieceTokenizer, directory: Path, *, mode: str, max_length: int
) -> None:
    try:
        from tokenizers import AddedToken, processors
        from transformers.convert_slow_tokenizer import SpmConverter, import_protobuf
    except ImportError as ex:
        raise ModelError(
            "Converting a SentencePiece tokenizer to tokenizer.json needs the 'transformers' "
            "and 'tokenizers' packages (and protobuf)."
        ) from ex
    blob: bytes = tokenizer.processor.serialized_model_proto()
    proto: Any = import_protobuf().ModelProto()  # type: ignore[no-untyped-call]
    proto.ParseFromString(blob)
    kind = proto.trainer_spec.model_type  # 1: unigram, 2: bpe, 3: word, 4: char
    vocab: Any
    if kind == 1:
        vocab = [(piece.piece, piece.score) for piece in proto.pieces]
    elif kind == 2:
        vocab = {piece.piece: idx for idx, piece in enumerate(proto.pieces)}
    else:
        raise ModelError(
            "Only unigram and BPE SentencePiece models convert to tokenizer.json; this one "
            f"has model_type {kind}."
        )
    converted: Any = SpmConverter.build_tokenizer_from_spm_proto(  # type: ignore[no-untyped-call]
        proto, vocab, legacy=True
    )
    if converted is None:
        raise ModelError("transformers could not convert the SentencePiece model.")
    specials = [
        AddedToken(piece.piece, special=True, normalized=False)
        for piece in proto.pieces
        if piece.type in (_PIECE_UNKNOWN, _PIECE_CONTROL)
    ]
    converted.add_special_tokens(specials)
    prefix, suffix = tokenizer.resolve_special_ids(task=None, lang=None, mode=mode)
    pieces = [tokenizer.index_to_token(i) for i in (*prefix, *suffix)]
    single = [
        *(tokenizer.index_to_token(i) for i in prefix),
        "$A",
        *(tokenizer.index_to_token(i) for i in suffix),
    ]
    pair = [*single, *(f"{t}:1" if t != "$A" else "$B:1" for t in single)]
    converted.post_processor = processors.TemplateProcessing(
        single=" ".join(single),
        pair=" ".join(pair),
        special_tokens=sorted({(p, tokenizer.token_to_index(p) or 0) for p in pieces}),
    )
    directory.mkdir(parents=True, exist_ok=True)
    converted.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer.model").write_bytes(blob)
    _write_json(directory / "tokenizer_config.json", _tokenizer_config(tokenizer, max_length))
    _write_json(directory / "special_tokens_map.json", _special_tokens(tokenizer))


def _special_tokens(tokenizer: TextTokenizer) -> dict[str, str]:
    vocab = tokenizer.vocab_info
    tokens: dict[str, str] = {}
    for role, idx in (
        ("bos", vocab.bos_idx),
        ("eos", vocab.eos_idx),
        ("unk", vocab.unk_idx),
        ("pad", vocab.pad_idx),
    ):
        if idx is not None:
            tokens[f"{role}_token"] = tokenizer.index_to_token(idx)
    return tokens


def _tokenizer_config(tokenizer: TextTokenizer, max_length: int) -> dict[str, object]:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **_special_tokens(tokenizer),
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
    }


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
