"""The Python snippets of docs/assets.md run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from seqkit.assets import AssetStore
from seqkit.composition import create_container

DOC = Path(__file__).resolve().parents[2] / "docs" / "assets.md"


def _snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_quick_start_snippet_runs(tmp_path: Path) -> None:
    code = _snippets()[0] + "\nassert path.name == 'web.en' and path.is_file()\n"
    env = {
        **os.environ,
        "SEQKIT_USER_ASSET_DIR": str(tmp_path / "user"),
        "SEQKIT_CACHE_DIR": str(tmp_path / "cache"),
        "SEQKIT_OFFLINE": "1",
    }
    env.pop("SEQKIT_ASSET_DIR", None)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_extension_snippet_adds_a_layer(tmp_path: Path) -> None:
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "x.yaml").write_text("name: from-extension\ndataset: d\n")
    namespace: dict[str, object] = {"__file__": str(tmp_path / "ext.py")}
    exec(_snippets()[1], namespace)
    container = create_container(load_extension_points=False)
    register = namespace["register"]
    assert callable(register)
    register(container)
    store = container.resolve(AssetStore)
    assert "from-extension" in store.retrieve_names()
    assert "my-extension" in store.layers()
