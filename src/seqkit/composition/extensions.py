"""Loading third-party extensions from the ``seqkit.extensions`` entry-point group."""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Final

from seqkit.errors import SeqkitError
from seqkit.runtime import DependencyContainer

EXTENSION_GROUP: Final = "seqkit.extensions"
STRICT_ENV: Final = "SEQKIT_STRICT_EXTENSIONS"

log = logging.getLogger(__name__)


class ExtensionError(SeqkitError):
    """An extension failed to load while ``SEQKIT_STRICT_EXTENSIONS=1``."""


@dataclass(frozen=True, kw_only=True)
class ExtensionReport:
    """The outcome of loading one extension entry point."""

    name: str
    """The entry point's name."""

    target: str
    """What the entry point points at, ``module:function``."""

    distribution: str | None
    """The distribution (pip package) that declares it, with its version."""

    error: str | None = None
    """``None`` if it loaded; else the exception and the last traceback lines."""

    @property
    def loaded(self) -> bool:
        """Whether the extension ran without error."""
        return self.error is None


@dataclass(frozen=True)
class LoadedExtensions:
    """Every extension seen by :func:`load_extensions`, in load order."""

    reports: tuple[ExtensionReport, ...]


def _distribution_of(entry_point: EntryPoint) -> str | None:
    dist = entry_point.dist
    if dist is None:
        return None
    return f"{dist.metadata['Name']} {dist.version}"


def _summarize(ex: BaseException) -> str:
    frames = traceback.extract_tb(ex.__traceback__)[-3:]
    where = "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in frames)
    return f"{type(ex).__name__}: {ex} (at {where})"


def strict_extensions() -> bool:
    """Whether a failing extension should stop seqkit instead of being skipped."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def load_extensions(
    container: DependencyContainer,
    *,
    discovered: Iterable[EntryPoint] | None = None,
    strict: bool | None = None,
) -> LoadedExtensions:
    """Call each ``seqkit.extensions`` entry point with ``container``.

    A failing extension (one that raises, calls ``sys.exit``, or registers an object of
    the wrong type) is logged with its name and a traceback summary and skipped, with
    every registration it made undone, or, in strict mode, raised as
    :class:`ExtensionError`. Nothing fails silently: the reports
    are returned and ``seqkit extensions`` prints them.
    """
    strict = strict_extensions() if strict is None else strict
    points = entry_points(group=EXTENSION_GROUP) if discovered is None else discovered
    reports: list[ExtensionReport] = []
    for entry_point in sorted(points, key=lambda ep: ep.name):
        distribution = _distribution_of(entry_point)
        # A failing extension leaves no registration behind: it is all or nothing.
        before = container.snapshot()
        try:
            register: Callable[[DependencyContainer], object] = entry_point.load()
            register(container)
        except (Exception, SystemExit) as ex:
            container.restore(before)
            summary = _summarize(ex)
            if strict:
                raise ExtensionError(
                    f"Extension {entry_point.name!r} ({entry_point.value}, from "
                    f"{distribution or 'an unknown distribution'}) failed: {summary}. Fix or "
                    f"uninstall it, or unset {STRICT_ENV} to skip failing extensions."
                ) from ex
            log.warning(
                "Extension %r (%s) failed and was skipped: %s",
                entry_point.name,
                entry_point.value,
                summary,
            )
            reports.append(
                ExtensionReport(
                    name=entry_point.name,
                    target=entry_point.value,
                    distribution=distribution,
                    error=summary,
                )
            )
            continue
        reports.append(
            ExtensionReport(
                name=entry_point.name, target=entry_point.value, distribution=distribution
            )
        )
    return LoadedExtensions(tuple(reports))
