"""Install the example extensions for real (pip) and check what `seqkit` makes of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with both example extensions pip-installed into it.

    They go into their own --target directory put on PYTHONPATH, not into the venv, so the
    broken one cannot leak into other tests or into the user's environment.
    """
    target = tmp_path_factory.mktemp("site")
    for package in ("extension", "broken_extension"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--no-cache-dir",
                "--target",
                str(target),
                str(REPO / "examples" / package),
            ],
            check=True,
        )
    return target


def run_seqkit(site: Path, *args: str, strict: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env.pop("SEQKIT_STRICT_EXTENSIONS", None)
    if strict:
        env["SEQKIT_STRICT_EXTENSIONS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "seqkit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.integration
def test_extensions_command_lists_loaded_and_failed(site_dir: Path) -> None:
    result = run_seqkit(site_dir, "extensions")

    assert "loaded  hello  (seqkit_hello:register, seqkit-hello 0.1.0)" in result.stdout
    assert "FAILED  broken  (seqkit_broken:register, seqkit-broken 0.1.0)" in result.stdout
    assert "seqkit-broken always fails to register" in result.stdout
    assert result.returncode == 1  # a failed extension is never silent


@pytest.mark.integration
def test_extension_command_runs_and_broken_extension_is_not_fatal(site_dir: Path) -> None:
    result = run_seqkit(site_dir, "hello", "greet", "Ada")

    assert result.returncode == 0, result.stderr
    assert "Hello, Ada! (from the seqkit-hello extension)" in result.stdout
    assert "Extension 'broken'" in result.stderr  # reported as a warning


@pytest.mark.integration
def test_extension_card_directory_is_visible(site_dir: Path) -> None:
    result = run_seqkit(site_dir, "assets", "list")

    assert result.returncode == 0, result.stderr
    assert "hello-tokenizer" in result.stdout


@pytest.mark.integration
def test_strict_mode_makes_a_broken_extension_fatal(site_dir: Path) -> None:
    result = run_seqkit(site_dir, "extensions", strict=True)

    assert result.returncode == 2
    assert "Extension 'broken'" in result.stderr
    assert "Traceback" not in result.stderr
