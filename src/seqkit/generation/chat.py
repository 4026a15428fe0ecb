"""A conversation with a decoder-only model, kept in the tokenizer's chat template.

:class:`ChatSession` holds the messages so far; :meth:`ChatSession.send` adds a user
message and streams the reply (see :mod:`seqkit.generation.streaming`), then adds the reply
to the conversation. Every turn renders the whole conversation with the chat template
(``add_generation_prompt=True``) and tokenizes it as ``transformers``'
``apply_chat_template(..., tokenize=True)`` does (no special tokens added beyond what the
template writes). A tokenizer without a template gets the plain format ``lm finetune``
writes chats in: ``User: ...`` lines, ``Assistant: `` before each reply and EOS after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, final

import torch
from torch import Tensor
from torch.nn import Module

from seqkit.generation.generator import SequenceGenerator
from seqkit.generation.sampling import SamplingGenerator
from seqkit.generation.streaming import stream_text
from seqkit.generation.text_support import TextModel
from seqkit.text.tokenizer import TextTokenizer

# End-of-turn tokens of common chat formats; a reply also stops at one of these.
END_OF_TURN_TOKENS: Final = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|eot|>")


@final
class ChatSession(TextModel):
    """A conversation with ``model``; e.g. ``for piece in chat.send("Hi"): print(piece)``."""

    def __init__(
        self,
        model: Module,
        tokenizer: TextTokenizer,
        generator: SequenceGenerator | None = None,
        *,
        system: str | None = None,
    ) -> None:
        super().__init__(
            model,
            tokenizer,
            generator,
            default_generator=lambda eos, pad: SamplingGenerator(
                eos_idx=eos, pad_idx=pad, max_gen_len=256
            ),
            no_eos="the tokenizer has no EOS token, so a reply could never end; use one with EOS.",
        )
        self._system = system
        self.messages: list[dict[str, str]] = []
        self.reset()
        self._encoder = tokenizer.create_encoder(add_bos=False, add_eos=False)
        vocab = tokenizer.vocab_info
        self.stop_ids = frozenset(
            idx
            for idx in (tokenizer.token_to_index(t) for t in END_OF_TURN_TOKENS)
            if idx is not None and idx != vocab.unk_idx
        )

    @property
    def uses_template(self) -> bool:
        """Whether turns are written with the tokenizer's chat template."""
        return self.tokenizer.chat_template is not None

    def reset(self) -> None:
        """Forget the conversation (the system message, if any, stays)."""
        self.messages = []
        if self._system is not None:
            self.messages.append({"role": "system", "content": self._system})

    def prompt_ids(self) -> Tensor:
        """The ids the model continues to write the next assistant reply."""
        if self.uses_template:
            text = self.tokenizer.apply_chat_template(self.messages, add_generation_prompt=True)
            ids = self._encoder.encode_ids(text)
        else:
            ids = self._plain_ids()
        return torch.tensor(ids, dtype=torch.int64, device=self._device)

    def _plain_ids(self) -> list[int]:
        vocab = self.tokenizer.vocab_info
        encode = self._encoder.encode_ids
        ids = [] if vocab.bos_idx is None else [vocab.bos_idx]
        for message in self.messages:
            role, content = message["role"], message["content"]
            if role == "assistant":
                assert vocab.eos_idx is not None
                ids += [*encode("Assistant: "), *encode(content), vocab.eos_idx]
            else:
                ids += encode(f"{role.capitalize()}: {content}\n")
        return ids + encode("Assistant: ")

    def send(self, text: str) -> Iterator[str]:
        """Add the user message ``text`` and stream the reply as text pieces; when the
        iterator is exhausted the reply is part of the conversation."""
        self.messages.append({"role": "user", "content": text})
        try:
            prompt = self.prompt_ids()
        except Exception:
            self.messages.pop()
            raise
        pieces: list[str] = []
        for piece in stream_text(
            self._limited, self.model, prompt, self._decoder, stop_ids=self.stop_ids
        ):
            pieces.append(piece)
            yield piece
        self.messages.append({"role": "assistant", "content": "".join(pieces)})
