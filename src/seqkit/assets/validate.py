"""Validation of whole layers: every malformed file, broken ``base`` and schema problem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from seqkit.assets.schema import AssetCardValidator
from seqkit.assets.source import AssetCardSource, DirectoryCardSource, StaticCardSource
from seqkit.assets.store import StandardAssetStore
from seqkit.errors import SeqkitError


@dataclass(kw_only=True)
class ValidationReport:
    """The outcome of :func:`validate_sources`."""

    checked: list[str] = field(default_factory=list)
    """The cards that were checked (``name`` or ``name@env``)."""

    problems: list[str] = field(default_factory=list)
    """One line per problem, each starting with ``file:line``."""

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


def validate_sources(
    sources: Sequence[AssetCardSource],
    validator: AssetCardValidator,
    *,
    only_layer: str | None = None,
) -> ValidationReport:
    """Load every layer without stopping at the first error, then validate each card.

    With ``only_layer``, only that layer's cards are checked (their bases may still live in
    any layer).
    """
    report = ValidationReport()
    loaded: list[AssetCardSource] = []
    names: list[str] = []
    for source in sources:
        errors: list[SeqkitError]
        if isinstance(source, DirectoryCardSource):
            cards, errors = source.load_leniently()
        else:
            try:
                cards, errors = source.load(), []
            except SeqkitError as ex:
                cards, errors = [], [ex]
        if only_layer is None or source.name == only_layer:
            report.problems.extend(str(error) for error in errors)
            names.extend(card.name for card in cards if card.name not in names)
        loaded.append(StaticCardSource(source.name, cards))
    store = StandardAssetStore(loaded)
    for name in sorted(names):
        report.checked.append(name)
        try:
            card = store.retrieve_card(name)
        except SeqkitError as ex:
            report.problems.append(str(ex))
            continue
        report.problems.extend(str(problem) for problem in validator.validate(card))
    return report
