"""Instruction data for ``seqkit lm finetune``: JSONL examples to masked token rows.

Each line is either ``{"prompt": ..., "response": ...}`` or a chat,
``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}``. The loss
falls only on response (assistant) tokens and the EOS that closes each of them.

A chat is written with the tokenizer's own chat template when it has one
(:func:`tokenize_chat`): the whole conversation is rendered and tokenized once, and each
assistant turn's span is the text between the rendering of the turns before it (with the
generation prompt) and the rendering that includes it, so the loss covers the reply and
whatever the template closes it with (``<|im_end|>``, ``</s>``...). Without a template,
chats are written as ``User: ...`` / ``Assistant: ...`` lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from seqkit.recipes.errors import RecipeDataError
from seqkit.recipes.lm.jsonl import iter_jsonl
from seqkit.text.errors import ChatTemplateError
from seqkit.text.tokenizer import TextTokenizer

_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True, kw_only=True)
class Segment:
    """A piece of an example's text and whether the model is trained to produce it."""

    text: str
    """The text."""

    is_target: bool
    """Whether its tokens (and a closing EOS) are in the loss."""


def format_prompt(template: str, prompt: str) -> str:
    """The text that precedes a response (also used to prompt the fine-tuned model)."""
    return template.replace("{prompt}", prompt)


@dataclass(frozen=True, kw_only=True)
class Chat:
    """A ``messages`` example kept whole, to be written with a chat template."""

    messages: list[dict[str, str]]
    """The validated messages (``role`` and ``content`` strings)."""

    where: str
    """``file:line`` of the example, for messages."""


def read_instruction_file(path: Path, template: str) -> Iterator[list[Segment]]:
    """The segments of every example of JSONL ``path``, streamed line by line; errors name
    file and line, and a file without any example is an error too."""
    for item in read_instruction_examples(path, template, keep_chats=False):
        assert not isinstance(item, Chat)
        yield item


def read_instruction_examples(
    path: Path, template: str, *, keep_chats: bool
) -> Iterator[list[Segment] | Chat]:
    """Like :func:`read_instruction_file`, but with ``keep_chats`` a ``messages`` example
    comes back as a :class:`Chat` (for :func:`tokenize_chat`) instead of segments."""
    for record, where in iter_jsonl(path, what="Instruction file", items="examples"):
        if keep_chats and isinstance(record, dict) and "messages" in record:
            yield Chat(messages=_check_messages(record["messages"], where), where=where)
        else:
            yield _segments(record, template, where)


def _segments(record: object, template: str, where: str) -> list[Segment]:
    if isinstance(record, dict) and "messages" in record:
        return _chat_segments(record["messages"], where)
    if isinstance(record, dict) and "prompt" in record and "response" in record:
        prompt, response = record["prompt"], record["response"]
        if isinstance(prompt, str) and isinstance(response, str) and response:
            return [
                Segment(text=format_prompt(template, prompt), is_target=False),
                Segment(text=response, is_target=True),
            ]
    raise RecipeDataError(
        f'{where}: an example must be {{"prompt": str, "response": str (non-empty)}} or '
        f'{{"messages": [{{"role": ..., "content": ...}}, ...]}}.'
    )


def _check_messages(messages: object, where: str) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise RecipeDataError(f"{where}: 'messages' must be a non-empty list.")
    checked: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in _ROLES or not isinstance(content, str):
            raise RecipeDataError(
                f'{where}: message {i} must be {{"role": one of {list(_ROLES)}, '
                f'"content": str}}, not {message!r}.'
            )
        checked.append({"role": str(role), "content": content})
    if not any(m["role"] == "assistant" for m in checked):
        raise RecipeDataError(f"{where}: the chat has no assistant message to learn from.")
    return checked


def _chat_segments(messages: object, where: str) -> list[Segment]:
    segments: list[Segment] = []
    for message in _check_messages(messages, where):
        role, content = message["role"], message["content"]
        if role == "assistant":
            segments.append(Segment(text="Assistant: ", is_target=False))
            segments.append(Segment(text=content, is_target=True))
        else:
            segments.append(Segment(text=f"{role.capitalize()}: {content}\n", is_target=False))
    if not any(s.is_target for s in segments):
        raise RecipeDataError(f"{where}: the chat has no assistant message to learn from.")
    return segments


@dataclass(frozen=True, kw_only=True)
class MaskedExample:
    """One tokenized example: ``ids`` and, per target position, whether it is in the loss."""

    ids: list[int]
    """``BOS`` + every segment's tokens (+ ``EOS`` after each target segment)."""

    loss_mask: list[bool]
    """``loss_mask[i]`` says whether predicting ``ids[i + 1]`` counts."""


def tokenize_example(
    segments: Sequence[Segment],
    encode_ids: Callable[[str], Sequence[int]],
    *,
    bos_idx: int,
    eos_idx: int,
    max_len: int,
) -> tuple[MaskedExample, bool]:
    """Tokenize ``segments``; return the example and whether it had to be truncated."""
    ids = [bos_idx]
    targets: list[bool] = [False]
    for segment in segments:
        piece = list(encode_ids(segment.text))
        if segment.is_target:
            piece.append(eos_idx)
        ids.extend(piece)
        targets.extend([segment.is_target] * len(piece))
    truncated = len(ids) > max_len + 1
    ids, targets = ids[: max_len + 1], targets[: max_len + 1]
    return MaskedExample(ids=ids, loss_mask=targets[1:]), truncated


class OffsetEncoder(Protocol):
    """An encoder that also gives each token's character span (Hugging Face encoders)."""

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]: ...


def assistant_spans(
    tokenizer: TextTokenizer, messages: Sequence[Mapping[str, str]]
) -> tuple[str, list[tuple[int, int]]] | None:
    """The chat rendered with ``tokenizer``'s template and the character span of each
    assistant turn: from where the turns before it plus the generation prompt end (or where
    that rendering parts from the next one) to the end of the rendering that includes it.
    ``None`` when a conversation cut after a reply does not render as a prefix of the whole
    one (a template that rewrites earlier turns), so spans cannot be told apart."""
    full = tokenizer.apply_chat_template(messages)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        try:
            before = tokenizer.apply_chat_template(messages[:i], add_generation_prompt=True)
            after = tokenizer.apply_chat_template(messages[: i + 1])
        except ChatTemplateError:
            return None  # e.g. a template that cannot render a conversation cut short
        if not full.startswith(after):
            return None
        # Usually `before` is a prefix of `after`; where a template writes the generation
        # prompt slightly differently (trailing whitespace), the reply starts where they part.
        start = _common_prefix_len(before, after)
        if len(after) > start:
            spans.append((start, len(after)))
    return full, spans


def _common_prefix_len(a: str, b: str) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def tokenize_chat(
    tokenizer: TextTokenizer,
    encoder: OffsetEncoder,
    messages: Sequence[Mapping[str, str]],
    *,
    max_len: int,
) -> tuple[MaskedExample, bool] | None:
    """Tokenize a chat with the tokenizer's template, the loss on assistant turns only;
    return the example and whether it was truncated, or ``None`` (see
    :func:`assistant_spans`)."""
    found = assistant_spans(tokenizer, messages)
    if found is None:
        return None
    text, spans = found
    ids, offsets = encoder.encode_with_offsets(text)
    targets = [any(a <= start < b for a, b in spans) for start, _ in offsets]
    truncated = len(ids) > max_len + 1
    ids, targets = ids[: max_len + 1], targets[: max_len + 1]
    return MaskedExample(ids=ids, loss_mask=targets[1:]), truncated
