"""The ``seqkit`` console script: global flags, command dispatch, errors to exit codes."""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from collections.abc import Sequence

from seqkit._version import __version__
from seqkit.cli.command import CliCommand, CliGroup
from seqkit.errors import SeqkitError
from seqkit.runtime import DependencyResolver

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_SYSTEM_ERROR = 1

_OS_ERROR_HINTS = {
    errno.ENOSPC: "free some space or write elsewhere; completed files and checkpoints are intact",
    errno.EDQUOT: "free some space or write elsewhere; completed files and checkpoints are intact",
    errno.EROFS: "the filesystem is read-only; write elsewhere",
    errno.EACCES: "fix the permissions or write elsewhere",
    errno.EPERM: "fix the permissions or write elsewhere",
}

log = logging.getLogger("seqkit")


def _global_parser(*, add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqkit",
        add_help=add_help,
        description="seqkit: train, fine-tune, evaluate and run transformer sequence models.",
    )
    parser.add_argument("--version", action="version", version=f"seqkit {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="count", default=0, help="log more")
    verbosity.add_argument("-q", "--quiet", action="count", default=0, help="log less")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks instead of one-line errors"
    )
    return parser


def build_parser(
    groups: Sequence[CliGroup], commands: Sequence[CliCommand]
) -> argparse.ArgumentParser:
    """Build the full argument parser from registered groups and commands."""
    parser = _global_parser()
    top = parser.add_subparsers(dest="_group", metavar="COMMAND")
    group_parsers: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for group in groups:
        group_parser = top.add_parser(group.name, help=group.help, description=group.help)
        group_parser.set_defaults(_parser=group_parser)
        group_parsers[group.name] = group_parser.add_subparsers(dest="_command", metavar="COMMAND")
    for command in commands:
        if command.group is None:
            sub = top.add_parser(
                command.name, help=command.help, description=command.description or command.help
            )
        else:
            if command.group not in group_parsers:
                log.warning(
                    "Command %r names group %r, which is not registered; it is skipped.",
                    command.name,
                    command.group,
                )
                continue
            sub = group_parsers[command.group].add_parser(
                command.name, help=command.help, description=command.description or command.help
            )
        command.configure(sub)
        sub.set_defaults(_run=command.run)
    return parser


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.INFO - 10 * verbose + 10 * quiet
    logging.basicConfig(
        level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s"
    )


def main(argv: Sequence[str] | None = None, *, container: DependencyResolver | None = None) -> int:
    """Run ``seqkit`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    ``container`` defaults to the one :func:`seqkit.setup` builds; tests pass their own.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    # Flags that shape logging and error display are read before setup() runs extensions.
    early, _ = _global_parser(add_help=False).parse_known_args(argv)
    _configure_logging(early.verbose, early.quiet)
    debug: bool = early.debug
    try:
        if container is None:
            import seqkit

            container = seqkit.setup()
        groups = [group for _, group in container.resolve_all(CliGroup)]
        commands = [command for _, command in container.resolve_all(CliCommand)]
        parser = build_parser(groups, commands)
        args = parser.parse_args(argv)
        run = getattr(args, "_run", None)
        if run is None:
            (getattr(args, "_parser", None) or parser).print_help()
            return EXIT_USER_ERROR
        return int(run(args))
    except SeqkitError as ex:
        if debug:
            raise
        print(f"seqkit: error: {ex}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as ex:
        # The machine, not the input: a full disk, a read-only or vanished directory.
        if debug:
            raise
        print(f"seqkit: error: {_describe_os_error(ex)}", file=sys.stderr)
        return EXIT_SYSTEM_ERROR
    except KeyboardInterrupt:
        print("seqkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _describe_os_error(ex: OSError) -> str:
    what = ex.strerror or str(ex)
    where = f" ({ex.filename})" if ex.filename else ""
    hint = _OS_ERROR_HINTS.get(ex.errno or 0)
    return f"{what}{where}" + (f"; {hint}." if hint else ".")


if __name__ == "__main__":
    sys.exit(main())
