"""Read the attribute docstrings of config dataclasses (the string under each field)."""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap


def field_docstrings(cls: type[object]) -> dict[str, str]:
    """Map each field of ``cls`` (and its bases) to its attribute docstring.

    A field's docstring is the string literal statement right after its annotated
    assignment, as Sphinx and IDEs read it. Classes whose source is unavailable (built in
    a REPL, or frozen) contribute nothing rather than failing.
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        docs.update(_own_docstrings(klass))
    return docs


def _own_docstrings(klass: type[object]) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):
        return {}
    try:
        module = ast.parse(source)
    except SyntaxError:
        return {}
    class_defs = [node for node in module.body if isinstance(node, ast.ClassDef)]
    if not class_defs:
        return {}
    body = class_defs[0].body
    docs: dict[str, str] = {}
    for stmt, following in itertools.pairwise(body):
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[stmt.target.id] = inspect.cleandoc(following.value.value)
    return docs
