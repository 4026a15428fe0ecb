"""Where special tokens go for each encoding mode.

===========  =========================================  ==========================
mode         layout                                     used by
===========  =========================================  ==========================
``default``  ``<s> text </s>``                          language-model training
``prompt``   ``<s> text``                               prompting a decoder-only model
``source``   ``__xx__ text </s>`` (``text </s>``)       encoder input in translation
``target``   ``<s> __yy__ text </s>`` (``<s> text </s>``) decoder side in translation
===========  =========================================  ==========================

The target layout is the full decoder sequence: a recipe feeds ``seq[:-1]`` to the decoder
and scores ``seq[1:]``, so the model is conditioned on ``<s> __yy__`` and learns to emit
the text followed by ``</s>``. As in NLLB/fairseq2 the source language token starts the
encoder input; unlike fairseq2 (which reuses ``</s>`` as decoder start) we start the
target with ``<s>``, so one vocabulary serves both LM and MT without a special case.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, final

from seqkit.text.errors import EncodingModeError

ENCODING_MODES: Final = ("default", "prompt", "source", "target")
TASKS: Final = ("language_modeling", "translation")


class Special(enum.Enum):
    """A special token whose id depends on the vocabulary."""

    BOS = "<s>"
    EOS = "</s>"


def lang_token(lang: str) -> str:
    """The vocabulary symbol for language ``lang``: ``__de__`` for ``"de"``."""
    return f"__{lang}__"


@final
@dataclass(frozen=True, kw_only=True)
class SpecialTokenLayout:
    """The symbols put before and after the encoded text; strings are language tokens."""

    mode: str
    """The resolved mode (one of :data:`ENCODING_MODES`)."""

    prefix: tuple[Special | str, ...]
    """Symbols before the text."""

    suffix: tuple[Special | str, ...]
    """Symbols after the text."""


def resolve_layout(
    *, task: str | None = None, lang: str | None = None, mode: str | None = None
) -> SpecialTokenLayout:
    """Return the special-token layout for ``task``/``lang``/``mode``; see the module table.

    ``mode=None`` means ``"source"`` for ``task="translation"`` and ``"default"`` otherwise.
    """
    if task is not None and task not in TASKS:
        raise EncodingModeError(
            f"Unknown task {task!r}; use one of {', '.join(TASKS)} (or leave it unset)."
        )
    if mode is None:
        mode = "source" if task == "translation" else "default"
    if mode not in ENCODING_MODES:
        raise EncodingModeError(
            f"Unknown encoding mode {mode!r}; use one of {', '.join(ENCODING_MODES)}."
        )
    if task == "translation" and mode not in ("source", "target"):
        raise EncodingModeError(
            f"Task 'translation' encodes in mode 'source' or 'target', not {mode!r}."
        )
    if lang is not None and mode not in ("source", "target"):
        raise EncodingModeError(
            f"lang={lang!r} was given with mode {mode!r}; language tokens exist only in "
            "modes 'source' and 'target' (pass mode='source' or mode='target')."
        )
    langs: tuple[str, ...] = () if lang is None else (lang_token(lang),)
    if mode == "default":
        return SpecialTokenLayout(mode=mode, prefix=(Special.BOS,), suffix=(Special.EOS,))
    if mode == "prompt":
        return SpecialTokenLayout(mode=mode, prefix=(Special.BOS,), suffix=())
    if mode == "source":
        return SpecialTokenLayout(mode=mode, prefix=langs, suffix=(Special.EOS,))
    return SpecialTokenLayout(mode=mode, prefix=(Special.BOS, *langs), suffix=(Special.EOS,))
