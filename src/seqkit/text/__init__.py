"""Tokenizers, tokenizer training and corpus binarization.

``TokenizerHub.load(name_or_path)`` returns a :class:`TextTokenizer`; its
``create_encoder(task=, lang=, mode=)`` and ``create_decoder()`` turn text into id tensors
and back (modes in :mod:`seqkit.text.modes`). Families: ``sentencepiece``, ``byte``,
``char``, ``huggingface``. :func:`preprocess` binarizes corpora on the native data
pipeline into datasets written by :class:`seqkit.data.TokenWriter`. See ``docs/text.md``.
"""

from __future__ import annotations

from seqkit.text.byte import BYTE_FAMILY, ByteTokenizer, byte_family
from seqkit.text.char import CHAR_FAMILY, CharTokenizer, char_family
from seqkit.text.errors import (
    EncodingModeError,
    PreprocessError,
    TextError,
    TokenizerLoadError,
    TokenizerTrainingError,
    UnknownTokenizerFamilyError,
)
from seqkit.text.family import TokenizerFamily, TokenizerLoader
from seqkit.text.hf import HF_FAMILY, HuggingFaceTokenizer, huggingface_family
from seqkit.text.hub import TokenizerCardResolver, TokenizerHub, TokenizerSource
from seqkit.text.line_policy import LineReport, SkipReason
from seqkit.text.modes import ENCODING_MODES, SpecialTokenLayout, lang_token, resolve_layout
from seqkit.text.preprocess import (
    Column,
    Holdout,
    PreprocessOptions,
    PreprocessResult,
    preprocess,
    split_dirs,
)
from seqkit.text.sentencepiece import (
    SENTENCEPIECE_FAMILY,
    SentencePieceTokenizer,
    sentencepiece_family,
)
from seqkit.text.tokenizer import FlatEncoding, TextTokenDecoder, TextTokenEncoder, TextTokenizer
from seqkit.text.training import TrainedTokenizer, sha256_of, train_sentencepiece
from seqkit.text.vocabulary import VocabularyInfo

__all__ = [
    "BYTE_FAMILY",
    "CHAR_FAMILY",
    "ENCODING_MODES",
    "HF_FAMILY",
    "SENTENCEPIECE_FAMILY",
    "ByteTokenizer",
    "CharTokenizer",
    "Column",
    "EncodingModeError",
    "FlatEncoding",
    "Holdout",
    "HuggingFaceTokenizer",
    "LineReport",
    "PreprocessError",
    "PreprocessOptions",
    "PreprocessResult",
    "SentencePieceTokenizer",
    "SkipReason",
    "SpecialTokenLayout",
    "TextError",
    "TextTokenDecoder",
    "TextTokenEncoder",
    "TextTokenizer",
    "TokenizerCardResolver",
    "TokenizerFamily",
    "TokenizerHub",
    "TokenizerLoadError",
    "TokenizerLoader",
    "TokenizerSource",
    "TokenizerTrainingError",
    "TrainedTokenizer",
    "UnknownTokenizerFamilyError",
    "VocabularyInfo",
    "byte_family",
    "char_family",
    "huggingface_family",
    "lang_token",
    "preprocess",
    "resolve_layout",
    "sentencepiece_family",
    "sha256_of",
    "split_dirs",
    "train_sentencepiece",
]
