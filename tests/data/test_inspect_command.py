from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.cli.main import main
from seqkit.data import write_tokens


def test_seqkit_data_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tokens(tmp_path / "ds", [[1, 2, 3], [4]])
    assert main(["data", "inspect", str(tmp_path / "ds")]) == 0
    out = capsys.readouterr().out
    assert "uint16, 2 documents, 4 tokens" in out
    assert "max 3" in out


def test_seqkit_data_inspect_names_a_bad_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "inspect", str(tmp_path)]) == 2
    assert "index.json" in capsys.readouterr().err
