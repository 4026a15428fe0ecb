"""``seqkit lm generate`` and ``seqkit lm eval``: using a trained language model."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import final

import torch

from seqkit.data import DataError, read_text
from seqkit.generation import SequenceGenerator, SequenceScorer
from seqkit.generation.chat import ChatSession
from seqkit.models import ModelHub
from seqkit.recipes.errors import RecipeDataError, RecipeError
from seqkit.recipes.lm.samples import create_completer
from seqkit.recipes.model_ref import resolve_device, resolve_model_ref
from seqkit.text import TextTokenizer, TokenizerHub


@dataclass(frozen=True, kw_only=True)
class GenerationRequest:
    """What to complete and how (``seqkit lm generate`` fills it from its flags)."""

    model: str
    """Card name, card file or run directory."""

    prompts: Sequence[str] = ()
    """Prompts to continue."""

    file: Path | None = None
    """More prompts, one per line (a blank line gives a blank output line)."""

    interactive: bool = False
    """Then read prompts from the terminal until end of input."""

    max_new_tokens: int = 64
    """Tokens per completion."""

    temperature: float = 0.8
    """Sampling temperature (0: greedy)."""

    top_p: float = 0.9
    """Nucleus sampling threshold."""

    seed: int | None = None
    """Seed for reproducible samples."""

    device: str | None = None
    """``cpu``, ``cuda``, ``cuda:1``; ``None`` picks one."""

    chat: bool = False
    """Send each prompt as one user turn of a new conversation in the model's chat template
    (the plain "User:/Assistant:" form without one) and print only the reply."""


@final
class LmGenerator:
    """Loads a model and its tokenizer and completes prompts."""

    def __init__(self, *, model_hub: ModelHub, tokenizer_hub: TokenizerHub) -> None:
        self._model_hub = model_hub
        self._tokenizer_hub = tokenizer_hub

    def run(self, request: GenerationRequest) -> None:
        """Complete the prompts of ``request``; print one completion per prompt."""
        if not request.prompts and request.file is None and not request.interactive:
            raise RecipeError(
                "Give prompts as arguments, --file FILE (one per line), or --interactive."
            )
        if request.temperature < 0 or not 0 < request.top_p <= 1:
            raise RecipeError("--temperature must be >= 0 and --top-p in (0, 1].")
        if request.max_new_tokens < 1:
            raise RecipeError(f"--max-new-tokens must be at least 1, not {request.max_new_tokens}.")
        ref = resolve_model_ref(request.model)
        device = resolve_device(request.device)
        model = self._model_hub.load(ref, device=device)
        tokenizer = self._tokenizer_hub.load(ref)
        completer = create_completer(
            model,
            tokenizer,
            max_new_tokens=request.max_new_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
        )
        prompts = list(request.prompts)
        if request.file is not None:
            prompts.extend(read_lines(request.file, keep_empty=True))
        if request.chat:
            self._chat_replies(model, tokenizer, completer.generator, prompts)
            return
        _warn_long_prompts(model, tokenizer, [p for p in prompts if p])
        asked = [p for p in prompts if p]
        answers = iter(completer(asked) if asked else [])
        # A blank prompt line gives a blank output line, so outputs stay aligned with inputs.
        for prompt in prompts:
            completion = next(answers) if prompt else ""
            print(f"{prompt}{_sep(prompt, completion)}{completion}", flush=True)
        if request.interactive:
            for prompt in _interactive_prompts():
                _warn_long_prompts(model, tokenizer, [prompt])
                print(completer(prompt), flush=True)

    @staticmethod
    def _chat_replies(
        model: torch.nn.Module,
        tokenizer: TextTokenizer,
        generator: SequenceGenerator,
        prompts: list[str],
    ) -> None:
        """One reply per prompt, each a fresh conversation; a blank line stays blank."""
        session = ChatSession(model, tokenizer, generator)
        for prompt in prompts:
            if not prompt:
                print(flush=True)
                continue
            session.reset()
            print("".join(session.send(prompt)).strip(), flush=True)


def _sep(prompt: str, completion: str) -> str:
    return " " if prompt and completion and not completion.startswith(" ") else ""


def _interactive_prompts() -> Iterator[str]:
    # The "> " prompt goes to stderr so that stdout holds only the completions.
    print("Type a prompt and press Enter (Ctrl-D to quit).", file=sys.stderr)
    while True:
        sys.stderr.write("> ")
        sys.stderr.flush()
        raw = sys.stdin.buffer.readline()
        if not raw:
            print(file=sys.stderr)
            return
        line = decode_stdin_line(raw)
        if line.strip():
            yield line.strip()


@final
class LmEvaluator:
    """Perplexity of a model on a text file."""

    def __init__(self, *, model_hub: ModelHub, tokenizer_hub: TokenizerHub) -> None:
        self._model_hub = model_hub
        self._tokenizer_hub = tokenizer_hub

    def evaluate(
        self, ref: str, path: Path, *, max_lines: int | None, batch_size: int, device: torch.device
    ) -> dict[str, float]:
        """Token-level loss and perplexity (each line scored with BOS/EOS, EOS included)."""
        ref = resolve_model_ref(ref)
        model = self._model_hub.load(ref, device=device)
        tokenizer = self._tokenizer_hub.load(ref)
        lines = read_lines(path, limit=max_lines)
        if not lines:
            raise RecipeError(f"{path} holds no text to evaluate on.")
        encoder = tokenizer.create_encoder(mode="default", device=device)
        vocab = tokenizer.vocab_info
        pad = vocab.pad_idx if vocab.pad_idx is not None else 0
        scorer = SequenceScorer(model, pad_idx=pad, batch_size=batch_size)
        output = scorer.score(encoder.encode_batch(lines))
        num_tokens = output.num_tokens
        log_prob = float(output.seq_log_probs.sum())
        loss = -log_prob / num_tokens
        return {
            "lines": float(len(lines)),
            "tokens": float(num_tokens),
            "loss": loss,
            "perplexity": math.exp(loss),
        }


def decode_stdin_line(raw: bytes) -> str:
    """A line read from standard input as text; a clear error when it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as ex:
        raise RecipeDataError(
            f"Standard input is not UTF-8 text ({ex.reason} at byte {ex.start}); convert it, "
            "e.g. with iconv -t utf-8."
        ) from None


def _warn_long_prompts(
    model: torch.nn.Module, tokenizer: TextTokenizer, prompts: list[str]
) -> None:
    config = getattr(model, "config", None)
    limit = getattr(config, "max_seq_len", None)
    if not isinstance(limit, int) or not prompts:
        return
    encoder = tokenizer.create_encoder(mode="prompt")
    for prompt in prompts:
        n = len(encoder.encode_ids(prompt))
        if n >= limit:
            print(
                f"warning: a prompt of {n} tokens is as long as the {limit} tokens the model was "
                "trained on, or longer; its completion may be poor.",
                file=sys.stderr,
            )


def read_lines(path: Path, *, limit: int | None = None, keep_empty: bool = False) -> list[str]:
    """The stripped lines of UTF-8 file ``path`` (the first ``limit``), blank ones dropped
    unless ``keep_empty``."""
    if not path.is_file():
        raise RecipeDataError(f"Data file {path} does not exist (or is not a file).")
    builder = read_text(path, rtrim=True, ltrim=True, skip_empty=not keep_empty)
    pipeline = (builder.take(limit) if limit is not None else builder).and_return()
    try:
        return [str(line) for line in pipeline]
    except DataError as ex:
        raise RecipeDataError(f"{path}: {ex}") from ex
    finally:
        pipeline.close()
