"""``seqkit lm generate`` and ``seqkit lm eval``: using a trained language model."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import final

import torch

from seqkit.data import DataError, read_text
from seqkit.generation import SequenceScorer
from seqkit.models import ModelHub
from seqkit.recipes.errors import RecipeDataError, RecipeError
from seqkit.recipes.lm.samples import create_completer
from seqkit.recipes.model_ref import resolve_device, resolve_model_ref
from seqkit.text import TokenizerHub


def add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``seqkit lm generate``."""
    parser.add_argument("model", metavar="MODEL", help="card name, card file or run directory")
    parser.add_argument("prompts", metavar="PROMPT", nargs="*", help="prompts to continue")
    parser.add_argument("--file", type=Path, help="read prompts from this file, one per line")
    parser.add_argument(
        "-i", "--interactive", action="store_true", help="read prompts from the terminal"
    )
    parser.add_argument("--max-new-tokens", type=int, default=64, help="tokens per completion")
    parser.add_argument(
        "--temperature", type=float, default=0.8, help="sampling temperature (0: greedy)"
    )
    parser.add_argument("--top-p", type=float, default=0.9, help="nucleus sampling threshold")
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible samples")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")


@final
class LmGenerator:
    """Loads a model and its tokenizer and completes prompts."""

    def __init__(self, *, model_hub: ModelHub, tokenizer_hub: TokenizerHub) -> None:
        self._model_hub = model_hub
        self._tokenizer_hub = tokenizer_hub

    def run(self, args: argparse.Namespace) -> int:
        """Complete the prompts of ``args``; print one completion per prompt."""
        if not args.prompts and args.file is None and not args.interactive:
            raise RecipeError(
                "Give prompts as arguments, --file FILE (one per line), or --interactive."
            )
        if args.temperature < 0 or not 0 < args.top_p <= 1:
            raise RecipeError("--temperature must be >= 0 and --top-p in (0, 1].")
        ref = resolve_model_ref(args.model)
        device = resolve_device(args.device)
        model = self._model_hub.load(ref, device=device)
        tokenizer = self._tokenizer_hub.load(ref)
        completer = create_completer(
            model,
            tokenizer,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            seed=args.seed,
        )
        prompts = list(args.prompts)
        if args.file is not None:
            prompts.extend(read_lines(args.file))
        for prompt, completion in zip(prompts, completer(prompts) if prompts else []):
            print(f"{prompt}{_sep(prompt, completion)}{completion}", flush=True)
        if args.interactive:
            for prompt in _interactive_prompts():
                print(completer(prompt), flush=True)
        return 0


def _sep(prompt: str, completion: str) -> str:
    return " " if prompt and completion and not completion.startswith(" ") else ""


def _interactive_prompts() -> Iterator[str]:
    # The "> " prompt goes to stderr so that stdout holds only the completions.
    print("Type a prompt and press Enter (Ctrl-D to quit).", file=sys.stderr)
    while True:
        sys.stderr.write("> ")
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            print(file=sys.stderr)
            return
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

    def run(self, args: argparse.Namespace) -> int:
        """Print the perplexity of ``args.model`` on ``args.text_file``."""
        result = self.evaluate(
            args.model,
            Path(args.text_file),
            max_lines=args.max_lines,
            batch_size=args.batch_size,
            device=resolve_device(args.device),
        )
        if args.json:
            print(json.dumps(result))
        else:
            print(
                f"{int(result['lines'])} lines, {int(result['tokens'])} tokens: "
                f"loss {result['loss']:.4f} nats/token, perplexity {result['perplexity']:.2f}"
            )
        return 0


def read_lines(path: Path, *, limit: int | None = None) -> list[str]:
    """The non-empty, stripped lines of UTF-8 file ``path`` (the first ``limit``)."""
    if not path.is_file():
        raise RecipeDataError(f"Data file {path} does not exist (or is not a file).")
    builder = read_text(path, rtrim=True, ltrim=True, skip_empty=True)
    pipeline = (builder.take(limit) if limit is not None else builder).and_return()
    try:
        return [str(line) for line in pipeline]
    except DataError as ex:
        raise RecipeDataError(f"{path}: {ex}") from ex
    finally:
        pipeline.close()
