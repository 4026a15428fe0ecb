from __future__ import annotations

import logging
from importlib.metadata import EntryPoint

import pytest

from seqkit.composition import ExtensionError, load_extensions
from seqkit.runtime import DependencyContainer
from tests.composition.extension_fixtures import Marker

GROUP = "seqkit.extensions"
GOOD = EntryPoint("good", "tests.composition.extension_fixtures:good", GROUP)
BAD = EntryPoint("bad", "tests.composition.extension_fixtures:bad", GROUP)
MISSING = EntryPoint("missing", "tests.composition.no_such_module:register", GROUP)


def test_good_extension_registers_into_the_container() -> None:
    container = DependencyContainer()
    loaded = load_extensions(container, discovered=[GOOD], strict=False)

    assert [r.name for r in loaded.reports] == ["good"]
    assert loaded.reports[0].loaded
    assert container.resolve(Marker, "good").origin == "good"


def test_failing_extensions_are_reported_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    container = DependencyContainer()
    with caplog.at_level(logging.WARNING):
        loaded = load_extensions(container, discovered=[BAD, GOOD, MISSING], strict=False)

    by_name = {r.name: r for r in loaded.reports}
    assert by_name["good"].loaded
    assert not by_name["bad"].loaded
    assert "ValueError: the bad extension is broken" in (by_name["bad"].error or "")
    assert "extension_fixtures.py" in (by_name["bad"].error or "")
    assert "ModuleNotFoundError" in (by_name["missing"].error or "")
    assert "'bad'" in caplog.text
    assert "'missing'" in caplog.text
    assert container.resolve(Marker, "good").origin == "good"


def test_strict_mode_raises_naming_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQKIT_STRICT_EXTENSIONS", "1")
    with pytest.raises(ExtensionError, match=r"Extension 'bad'.*the bad extension is broken"):
        load_extensions(DependencyContainer(), discovered=[GOOD, BAD])
