"""Print pyproject's runtime dependencies plus the named extras, one per line, for pip -r."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def main(extras: list[str]) -> None:
    project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"pyproject.toml has no extra {extra!r}; known: {sorted(optional)}")
        requirements.extend(optional[extra])
    print("\n".join(requirements))


if __name__ == "__main__":
    main(sys.argv[1:])
