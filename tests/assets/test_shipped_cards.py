"""Every card shipped in assets/cards/ validates and resolves to real, verified files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from seqkit.assets import (
    AssetCardValidator,
    StandardAssetDownloadManager,
    StandardAssetStore,
    find_package_cards,
)
from seqkit.assets.layers import create_package_source
from seqkit.assets.schema import file_fields
from seqkit.assets.validate import validate_sources
from seqkit.composition import create_container

REPO = Path(__file__).resolve().parents[2]


def test_package_cards_are_found_in_the_checkout() -> None:
    package = find_package_cards()
    assert package is not None
    assert package.directory == REPO / "assets" / "cards"
    assert package.root == REPO
    assert package.checkout


def test_package_cards_are_found_in_a_wheel_layout(tmp_path: Path) -> None:
    # site-packages/seqkit/assets/cards/ as CMake installs it, including checkout/.
    module = tmp_path / "site-packages" / "seqkit" / "assets" / "paths.py"
    cards = module.parent / "cards"
    shutil.copytree(REPO / "assets" / "cards", cards)
    (cards / "extra").mkdir()
    (cards / "extra" / "x.yaml").write_text("name: wheel-card\ndataset: x.txt\n")
    module.touch()
    package = find_package_cards(module)
    assert package is not None
    assert package.directory == cards
    assert package.root == cards
    assert not package.checkout
    names = StandardAssetStore([create_package_source(module)]).retrieve_names()
    # Cards pointing into the repository are skipped where the repository is absent.
    assert names == ["wheel-card"]
    assert find_package_cards(tmp_path / "elsewhere" / "a" / "b" / "x.py") is None


def test_every_shipped_card_is_valid_against_the_registered_families() -> None:
    container = create_container(load_extension_points=False)
    validator = container.resolve(AssetCardValidator)
    report = validate_sources([create_package_source()], validator)
    assert report.ok, "\n".join(report.problems)
    assert report.checked, "no shipped cards found"


@pytest.mark.parametrize("name", StandardAssetStore([create_package_source()]).retrieve_names())
def test_every_shipped_card_resolves_to_verified_local_files(name: str, tmp_path: Path) -> None:
    store = StandardAssetStore([create_package_source()])
    manager = StandardAssetDownloadManager(tmp_path / "cache", offline=True)
    card = store.retrieve_card(name)
    if card.field("abstract").exists():
        return
    fields = file_fields(card)
    assert fields, f"card {name} names no file"
    for field in fields:
        # Offline: shipped cards may not depend on the network in tests.
        assert manager.resolve_path(card, field).exists()
