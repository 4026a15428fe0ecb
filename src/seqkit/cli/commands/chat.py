"""``seqkit lm chat MODEL``: talk with a model in its chat template, replies streamed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from typing import TextIO, final

from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.generation import SamplingGenerator, TopPSampler
from seqkit.generation.chat import ChatSession
from seqkit.models import ModelHub
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.model_ref import resolve_device, resolve_model_ref
from seqkit.text import TokenizerHub

_HELP = "Type a message and press Enter; /reset starts over, /exit (or Ctrl-D) quits."


@final
class LmChatCommand(CliCommand):
    """``seqkit lm chat MODEL``."""

    group = "lm"
    name = "chat"
    help = "chat with a language model (its chat template; replies stream as generated)"
    description = (
        "An interactive conversation: each line read is a user message; the model's reply "
        "is printed token by token. The conversation is written with the tokenizer's chat "
        "template (HF tokenizer_config.json or chat_template.jinja), else as User:/Assistant: "
        "lines. Example: seqkit lm chat HuggingFaceTB/SmolLM2-135M-Instruct"
    )

    def __init__(
        self,
        model_hub: Callable[[], ModelHub],
        tokenizer_hub: Callable[[], TokenizerHub],
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self._model_hub = model_hub
        self._tokenizer_hub = tokenizer_hub
        self._stdin = stdin
        self._stdout = stdout

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "model", metavar="MODEL", help="card, run directory, HF directory or HF repo id"
        )
        parser.add_argument("--system", default=None, help="a system message to start with")
        parser.add_argument("--max-new-tokens", type=int, default=256, help="tokens per reply")
        parser.add_argument(
            "--temperature", type=float, default=0.7, help="sampling temperature (0: greedy)"
        )
        parser.add_argument("--top-p", type=float, default=0.9, help="nucleus sampling threshold")
        parser.add_argument("--seed", type=int, default=None, help="seed for reproducible replies")
        parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")

    @override
    def run(self, args: argparse.Namespace) -> int:
        if args.temperature < 0 or not 0 < args.top_p <= 1:
            raise RecipeError("--temperature must be >= 0 and --top-p in (0, 1].")
        if args.max_new_tokens < 1:
            raise RecipeError(f"--max-new-tokens must be at least 1, not {args.max_new_tokens}.")
        ref = resolve_model_ref(args.model)
        model = self._model_hub().load(ref, device=resolve_device(args.device))
        tokenizer = self._tokenizer_hub().load(ref)
        vocab = tokenizer.vocab_info
        if vocab.eos_idx is None:
            raise RecipeError(f"The tokenizer of {args.model} has no EOS token; cannot chat.")
        sampler = (
            None if args.temperature == 0 else TopPSampler(args.top_p, temperature=args.temperature)
        )
        generator = SamplingGenerator(
            sampler,
            eos_idx=vocab.eos_idx,
            pad_idx=vocab.pad_idx if vocab.pad_idx is not None else 0,
            max_gen_len=args.max_new_tokens,
            seed=args.seed,
        )
        session = ChatSession(model, tokenizer, generator, system=args.system)
        return run_chat(session, self._stdin or sys.stdin, self._stdout or sys.stdout)


def _lines(stdin: TextIO, stdout: TextIO, interactive: bool) -> Iterator[str]:
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            return
        yield line.rstrip("\n")


def run_chat(session: ChatSession, stdin: TextIO, stdout: TextIO) -> int:
    """Read user messages from ``stdin`` line by line, stream each reply to ``stdout``."""
    interactive = stdin.isatty()
    if interactive:
        how = "its chat template" if session.uses_template else "User:/Assistant: lines"
        print(f"Chatting ({how}). {_HELP}", file=stdout, flush=True)
    for line in _lines(stdin, stdout, interactive):
        text = line.strip()
        if not text:
            continue
        if text == "/exit":
            break
        if text == "/reset":
            session.reset()
            print("(conversation reset)", file=stdout, flush=True)
            continue
        for piece in session.send(line):
            stdout.write(piece)
            stdout.flush()
        stdout.write("\n")
        stdout.flush()
    if interactive:
        stdout.write("\n")
    return 0
