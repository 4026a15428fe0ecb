"""The import layers of docs/architecture.md hold: no module imports from a higher layer.

Every ``import``/``from ... import`` in ``src/seqkit`` counts, wherever it sits: at module
level, inside a function (lazy), or under ``if TYPE_CHECKING:``; so does
``importlib.import_module("seqkit....")`` with a literal name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "seqkit"

ROOT = "seqkit"
"""The package root: the notebook API (``setup()``, ``load_model``...), a composition root."""

# Lowest first. A module may import its own package, any package of a lower layer, and
# another package of its own layer (the package graph must stay acyclic, see below).
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("runtime", frozenset({"runtime", "errors", "_version", "_native"})),
    ("data", frozenset({"data"})),
    ("foundations", frozenset({"nn", "text", "assets", "config", "optim", "metrics"})),
    ("components", frozenset({"models", "gang", "checkpoint"})),
    ("engines", frozenset({"trainer", "generation"})),
    ("recipes", frozenset({"recipes"})),
    ("cli", frozenset({"cli"})),
    ("composition", frozenset({"composition", ROOT, "__main__"})),
)

ALLOWED_UPWARD: frozenset[tuple[str, str]] = frozenset(
    {
        # The console script's entry point builds the container: main() calls
        # seqkit.setup() when no container is given. No other cli module may.
        ("seqkit.cli.main", ROOT),
    }
)
"""(importing module, imported package) pairs that may point upward, each with its reason."""


@dataclass(frozen=True)
class Import:
    module: str
    """The importing module, e.g. ``seqkit.recipes.training``."""

    line: int
    target: str
    """The imported module, e.g. ``seqkit.metrics.recorders``."""

    def __str__(self) -> str:
        path = self.module.replace(".", "/")
        return f"src/{path}.py:{self.line}: {self.module} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(module: str, source: str, *, is_package: bool = False) -> Iterator[Import]:
    """Every seqkit import in ``source`` (the text of ``module``), lazy ones included."""
    tree = ast.parse(source)
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target == ROOT:
                # `from seqkit import x`: x is a subpackage, or a name of the root itself.
                for alias in node.names:
                    # a subpackage, a module, or the compiled extension (_native.pyi / .so)
                    if (PACKAGE / alias.name).is_dir() or any(PACKAGE.glob(f"{alias.name}.*")):
                        yield Import(module, node.lineno, f"{ROOT}.{alias.name}")
                    else:
                        yield Import(module, node.lineno, ROOT)
            else:
                yield Import(module, node.lineno, target)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield Import(module, node.lineno, node.args[0].value)


def package_of(module: str) -> str:
    """``seqkit.recipes.lm.train`` -> ``recipes``; the root -> ``seqkit``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def layer_of(package: str) -> int:
    for index, (_, packages) in enumerate(LAYERS):
        if package in packages:
            return index
    raise AssertionError(
        f"Package seqkit.{package} is in no layer: add it to LAYERS in {__file__} and to "
        "docs/architecture.md."
    )


def seqkit_imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        source = path.read_text(encoding="utf-8")
        for imp in imports_of(module, source, is_package=path.name == "__init__.py"):
            if imp.target == ROOT or imp.target.startswith(ROOT + "."):
                found.append(imp)
    return found


def upward(imports: list[Import]) -> list[Import]:
    bad = []
    for imp in imports:
        source, target = package_of(imp.module), package_of(imp.target)
        if source == target or (imp.module, target) in ALLOWED_UPWARD:
            continue
        if layer_of(target) > layer_of(source):
            bad.append(imp)
    return bad


def describe(imp: Import) -> str:
    source, target = package_of(imp.module), package_of(imp.target)
    return (
        f"{imp} ({source} is in layer {LAYERS[layer_of(source)][0]!r}, {target} in the "
        f"higher layer {LAYERS[layer_of(target)][0]!r})"
    )


def test_every_package_has_a_layer() -> None:
    packages = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").is_file())
        or (p.suffix in (".py", ".pyi") and p.stem != "__init__")
    }
    for package in sorted(packages):
        layer_of(package)


def test_no_import_points_to_a_higher_layer() -> None:
    bad = upward(seqkit_imports())
    assert not bad, "Imports against the layers (docs/architecture.md):\n" + "\n".join(
        describe(imp) for imp in bad
    )


def test_packages_of_one_layer_import_each_other_without_cycles() -> None:
    edges: dict[str, set[str]] = {}
    for imp in seqkit_imports():
        source, target = package_of(imp.module), package_of(imp.target)
        if source != target and layer_of(source) == layer_of(target):
            edges.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(p for p in edges if reaches(p, p, {p}))
    assert not cycles, f"Packages importing each other in a cycle: {cycles} ({edges})"


def test_the_scanner_sees_lazy_and_type_checking_back_edges() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from seqkit.models import ModelHub\n"
        "def f():\n"
        "    import seqkit\n"
        "    from ..cli.command import CliCommand\n"
        "    from seqkit import recipes\n"
        "    importlib.import_module('seqkit.trainer')\n"
    )
    found = list(imports_of("seqkit.nn.attention", source))
    bad = upward([imp for imp in found if imp.target.startswith(ROOT)])
    assert [(imp.line, imp.target) for imp in bad] == [
        (3, "seqkit.models"),
        (5, "seqkit"),
        (6, "seqkit.cli.command"),
        (7, "seqkit.recipes"),
        (8, "seqkit.trainer"),
    ]
    assert "src/seqkit/nn/attention.py:3" in describe(bad[0])


def test_only_the_entry_point_reaches_the_composition_root_from_the_cli() -> None:
    reaching = {
        imp.module
        for imp in seqkit_imports()
        if package_of(imp.module) == "cli" and package_of(imp.target) in {"composition", ROOT}
    }
    assert reaching <= {"seqkit.cli.main"}
