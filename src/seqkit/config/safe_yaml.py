"""Safe YAML loading that rejects duplicate keys and remembers where every key was written.

PyYAML's ``safe_load`` silently keeps the last of two equal keys, so a typo in a config or
an asset card can drop a value without a word (RELIABILITY.md #4). The loaders here use
``yaml.SafeLoader`` (no Python object tags, ever), refuse duplicate keys naming both lines,
refuse anchors and aliases (``&name``/``*name``, and so ``<<`` merges of them: a ten-line
"billion laughs" file would otherwise expand to gigabytes once its value is walked), and
return each document with the 1-based line of every key so that later validation errors
can point at ``file:line``::

    for doc in load_yaml_documents(path):
        doc.data            # plain dicts, lists, str, int, float, bool, None
        doc.line_of("model", "dim")   # line where model.dim is written
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from seqkit.errors import SeqkitError

# libyaml's parser (when PyYAML was built with it) is several times faster; the
# constructor, and therefore the safety checks below, are the same Python code.
try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

KeyPath = tuple[str | int, ...]
"""The keys (mapping keys and list indices) leading from a document's root to a value."""

_MERGE_TAG: Final = "tag:yaml.org,2002:merge"


class YamlError(SeqkitError, ValueError):
    """A YAML file is malformed or has a duplicate key; the message names file and line."""

    def __init__(self, message: str, *, source: str, line: int | None = None) -> None:
        self.source = source
        """The file (or ``<string>``) that holds the fault."""
        self.line = line
        """The 1-based line of the fault, when known."""
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, kw_only=True)
class YamlDocument:
    """One document of a YAML stream, with the line of every key in it."""

    data: object
    """The document's value built from plain Python types."""

    source: str
    """The file the document came from, or ``<string>``."""

    line: int
    """The 1-based line where the document starts."""

    index: int
    """The 0-based position of the document in its stream."""

    key_lines: dict[KeyPath, int] = field(default_factory=dict)
    """Maps the path of every mapping key and list item to its 1-based line."""

    def line_of(self, *keys: str | int) -> int:
        """The line of ``keys`` (e.g. ``line_of("model", "dim")``), or of the closest parent.

        Falls back to the document's first line when no prefix of ``keys`` is known.
        """
        path: KeyPath = tuple(keys)
        while path:
            line = self.key_lines.get(path)
            if line is not None:
                return line
            path = path[:-1]
        return self.line

    def where(self, *keys: str | int) -> str:
        """``source:line`` of ``keys``, ready for an error message."""
        return f"{self.source}:{self.line_of(*keys)}"


class _StrictLoader(_BaseLoader):
    """``SafeLoader`` that refuses duplicate mapping keys."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, object]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError as ex:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a scalar", key_node.start_mark
                ) from ex
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first written on line {seen[key]}); "
                    "remove one of them",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _refuse_anchors(text: str, source: str) -> None:
    """Raise at the first anchor or alias of ``text``: cards and configs are plain trees.

    An alias makes the loaded value share (and a consumer walking it repeat) the anchored
    node, so ten lines of nested aliases grow to 10**9 items; no config needs them.
    """
    loader = _BaseLoader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if event is None:
                break
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            if isinstance(event, AliasEvent):
                raise YamlError(
                    f"YAML aliases are not allowed ('*{event.anchor}'); write the value out "
                    "in full instead of referring to an anchor",
                    source=source,
                    line=line,
                )
            if isinstance(event, NodeEvent) and event.anchor is not None:
                raise YamlError(
                    f"YAML anchors are not allowed ('&{event.anchor}'); cards and configs "
                    "must be plain trees: remove the anchor and write values out in full",
                    source=source,
                    line=line,
                )
    finally:
        loader.dispose()


def _collect_lines(node: Node, path: KeyPath, out: dict[KeyPath, int], seen: set[int]) -> None:
    # Anchors are refused before this runs; the check keeps the walk linear regardless.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key_path = (*path, str(key_node.value))
            out.setdefault(key_path, key_node.start_mark.line + 1)
            _collect_lines(value_node, key_path, out, seen)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            item_path = (*path, index)
            out.setdefault(item_path, item.start_mark.line + 1)
            _collect_lines(item, item_path, out, seen)


def _iter_documents(text: str, source: str) -> Iterator[YamlDocument]:
    loader = _StrictLoader(text)
    index = 0
    try:
        _refuse_anchors(text, source)
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # an empty stream yields one empty document
                break
            key_lines: dict[KeyPath, int] = {}
            _collect_lines(node, (), key_lines, set())
            data = loader.construct_document(node)
            yield YamlDocument(
                data=data,
                source=source,
                line=node.start_mark.line + 1,
                index=index,
                key_lines=key_lines,
            )
            index += 1
    except yaml.MarkedYAMLError as ex:
        mark = ex.problem_mark or ex.context_mark
        line = None if mark is None else mark.line + 1
        problem = ex.problem or ex.context or "malformed YAML"
        raise YamlError(f"invalid YAML: {problem}", source=source, line=line) from ex
    except yaml.YAMLError as ex:
        raise YamlError(f"invalid YAML: {ex}", source=source) from ex
    finally:
        loader.dispose()


def load_yaml_string_documents(text: str, *, source: str = "<string>") -> list[YamlDocument]:
    """Parse every document of ``text``; ``source`` names it in errors."""
    return list(_iter_documents(text, source))


def load_yaml_documents(path: Path | str) -> list[YamlDocument]:
    """Parse every document of the YAML file at ``path`` (``---`` separates documents)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as ex:
        raise YamlError("the file is not UTF-8 text", source=str(path)) from ex
    except OSError as ex:
        raise YamlError(f"cannot read the file: {ex.strerror or ex}", source=str(path)) from ex
    return load_yaml_string_documents(text, source=str(path))


def load_yaml_string(text: str, *, source: str = "<string>") -> YamlDocument:
    """Parse ``text``, which must hold exactly one document (an empty text gives ``None``)."""
    docs = load_yaml_string_documents(text, source=source)
    if not docs:
        return YamlDocument(data=None, source=source, line=1, index=0)
    if len(docs) > 1:
        raise YamlError(
            f"expected one YAML document but found {len(docs)}; remove the extra '---'",
            source=source,
            line=docs[1].line,
        )
    return docs[0]


def load_yaml(path: Path | str) -> YamlDocument:
    """Parse the YAML file at ``path``, which must hold exactly one document."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as ex:
        raise YamlError("the file is not UTF-8 text", source=str(path)) from ex
    except OSError as ex:
        raise YamlError(f"cannot read the file: {ex.strerror or ex}", source=str(path)) from ex
    return load_yaml_string(text, source=str(path))


__all__ = [
    "KeyPath",
    "YamlDocument",
    "YamlError",
    "load_yaml",
    "load_yaml_documents",
    "load_yaml_string",
    "load_yaml_string_documents",
]
