from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.recipes.errors import RecipeDataError
from seqkit.recipes.mt.config import MtDataSection
from seqkit.recipes.mt.parallel_data import read_aligned, read_pairs, read_tsv, split_valid


def test_aligned_files_skip_blank_pairs(tmp_path: Path) -> None:
    (tmp_path / "a.en").write_text("one\n\nthree\n")
    (tmp_path / "a.es").write_text("uno\ndos\ntres\n")
    assert read_aligned(tmp_path / "a.en", tmp_path / "a.es") == [("one", "uno"), ("three", "tres")]


def test_misaligned_files_fail(tmp_path: Path) -> None:
    (tmp_path / "a.en").write_text("one\ntwo\n")
    (tmp_path / "a.es").write_text("uno\n")
    with pytest.raises(RecipeDataError, match=r"has 2 lines but .* has 1"):
        read_aligned(tmp_path / "a.en", tmp_path / "a.es")


def test_tsv_needs_exactly_one_tab(tmp_path: Path) -> None:
    path = tmp_path / "p.tsv"
    path.write_text("a\tb\nc\td\te\n")
    with pytest.raises(RecipeDataError, match="line 2 has 3 tab-separated fields"):
        read_tsv(path)


def test_read_pairs_needs_some_source() -> None:
    with pytest.raises(RecipeDataError, match="No training pairs"):
        read_pairs(MtDataSection())


def test_source_and_target_files_come_together() -> None:
    with pytest.raises(ValueError, match="must be given together"):
        MtDataSection(source_file=Path("x"))


def test_split_valid_is_seeded_and_disjoint() -> None:
    pairs = [(str(i), str(i)) for i in range(50)]
    train, valid = split_valid(pairs, 10, seed=3)
    assert len(valid) == 10
    assert not set(train) & set(valid)
    assert split_valid(pairs, 10, seed=3) == (train, valid)
    with pytest.raises(RecipeDataError, match="leaves no training pairs"):
        split_valid(pairs, 50, seed=3)
