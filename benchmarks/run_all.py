"""Run every benchmark in this folder, one subprocess each, and print their reports.

Usage: ``python benchmarks/run_all.py [--quick] [NAME ...]`` (``make bench`` runs it).
Each benchmark measures its own baseline in the same run and prints ratios, because
absolute times on shared machines mean little.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[Path]:
    """Every benchmark script in this folder (all ``*.py`` but this runner and helpers)."""
    return sorted(
        p for p in HERE.glob("*.py") if p.name != "run_all.py" and not p.name.startswith("_")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="run only these (file stems, e.g. trainer)")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke check)")
    args = parser.parse_args()

    scripts = discover()
    if args.names:
        known = {p.stem: p for p in scripts}
        unknown = sorted(set(args.names) - set(known))
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; known: {sorted(known)}")
        scripts = [known[name] for name in args.names]

    failed: list[str] = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        command = [sys.executable, str(script), *(["--quick"] if args.quick else [])]
        start = time.perf_counter()
        result = subprocess.run(command, check=False)
        print(f"--- {script.stem}: exit {result.returncode}, {time.perf_counter() - start:.1f} s")
        if result.returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nFailed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
