"""The type stub src/seqkit/_native.pyi must describe exactly what the module exports."""

from __future__ import annotations

import ast
from pathlib import Path

from seqkit import _native

STUB = Path(__file__).resolve().parents[2] / "src" / "seqkit" / "_native.pyi"


def _stub_names() -> dict[str, set[str]]:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    names: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names[node.name] = set()
        elif isinstance(node, ast.ClassDef):
            names[node.name] = {
                item.name for item in node.body if isinstance(item, ast.FunctionDef)
            }
    return names


def test_stub_matches_module() -> None:
    stub = _stub_names()
    exported = {name for name in dir(_native) if not name.startswith("_")}
    assert set(stub) == exported
    for cls_name, members in stub.items():
        cls = getattr(_native, cls_name)
        if isinstance(cls, type):
            public = {m for m in dir(cls) if not m.startswith("_")}
            assert members - {"__iter__", "__next__", "__init__"} == public, cls_name


def test_count_lines_handles_crlf_and_missing_newline(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"a\r\nb\nc")
    assert _native.count_lines(str(path)) == 3
    assert _native.num_threads() >= 1
