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


def test_exiting_and_mistyped_extensions_are_isolated() -> None:
    exits = EntryPoint("exits", "tests.composition.extension_fixtures:exits", GROUP)
    wrong = EntryPoint("wrong", "tests.composition.extension_fixtures:wrong_type", GROUP)
    container = DependencyContainer()
    loaded = load_extensions(container, discovered=[exits, GOOD, wrong], strict=False)
    by_name = {r.name: r for r in loaded.reports}
    assert "SystemExit: 3" in (by_name["exits"].error or "")
    assert "DependencyTypeError" in (by_name["wrong"].error or "")
    assert "str, which is not a" in (by_name["wrong"].error or "")
    assert by_name["good"].loaded
    # Nothing a failed extension registered before failing stays behind.
    assert not container.is_registered(Marker, "exits")
    assert not container.is_registered(Marker, "half")
    assert container.resolve(Marker, "good").origin == "good"


def test_a_factory_of_the_wrong_type_is_named_on_resolve() -> None:
    from seqkit.runtime import DependencyTypeError

    container = DependencyContainer()
    container.register(Marker, lambda _: 42, key="bad")  # type: ignore[arg-type,return-value]
    with pytest.raises(DependencyTypeError, match=r"builtins\.int, which is not a"):
        container.resolve(Marker, "bad")
