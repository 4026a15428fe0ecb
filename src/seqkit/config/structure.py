"""Turn plain data (from YAML) into typed config dataclasses and back.

:func:`structure` checks every key and value against the dataclass field types and raises
errors that name the dotted key, the expected type and, for unknown keys, the closest
valid key. :func:`unstructure` is its inverse: dataclasses become dicts, enums their
values and paths strings, so the result can be written as YAML and read back.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, cast, get_args, get_origin

from seqkit.config.errors import ConfigTypeError, UnknownConfigKeyError

T = TypeVar("T")

_NONE_TYPE = type(None)


def field_types(cls: type[object]) -> dict[str, Any]:
    """The resolved type of each init field of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cast(Any, cls)) if f.init}


def type_name(tp: Any) -> str:
    """How a type is shown in error messages and docs (``int | None``, ``list[str]``)."""
    origin = get_origin(tp)
    if tp is _NONE_TYPE or tp is None:
        return "null"
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in get_args(tp))
    if origin is not None:
        args = ", ".join("..." if a is Ellipsis else type_name(a) for a in get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " | ".join(repr(m.value) for m in tp)
    if isinstance(tp, type) and issubclass(tp, Path):
        return "path"
    return getattr(tp, "__name__", str(tp))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _where(path: str) -> str:
    return f"'{path}'" if path else "the config"


def _fail(path: str, tp: Any, value: object, why: str = "") -> ConfigTypeError:
    expected = type_name(tp)
    message = (
        f"Config key {_where(path)} must be {expected}, not {value!r} "
        f"({type(value).__name__}){why}. Fix the value in your config file or "
        f"--config override."
    )
    return ConfigTypeError(message, key=path, expected=expected)


def all_keys(cls: type[object], prefix: str = "") -> list[str]:
    """Every dotted key of dataclass ``cls``, nested dataclasses included."""
    keys: list[str] = []
    for name, tp in field_types(cls).items():
        full = _join(prefix, name)
        keys.append(full)
        inner = dataclass_in(tp)
        if inner is not None:
            keys.extend(all_keys(inner, full))
    return keys


def dataclass_in(tp: Any) -> type[object] | None:
    """The dataclass in ``tp`` (``X`` or ``X | None``), else ``None``."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp
    if get_origin(tp) in (Union, types.UnionType):
        classes = [a for a in get_args(tp) if dataclasses.is_dataclass(a) and isinstance(a, type)]
        if len(classes) == 1:
            return classes[0]
    return None


def unknown_key_error(
    cls: type[object], path: str, key: str, root: type[object] | None = None, root_path: str = ""
) -> UnknownConfigKeyError:
    """The error for ``key`` not being a field of ``cls`` at ``path``, with a suggestion."""
    full = _join(path, key)
    names = list(field_types(cls))
    candidates = all_keys(root, root_path) if root is not None else []
    # The exact key elsewhere in the tree (put under the wrong section) beats a near miss.
    by_leaf = [c for c in candidates if c.rsplit(".", 1)[-1] == key]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    suggestion: str | None
    if by_leaf:
        suggestion = by_leaf[0]
    elif close:
        suggestion = _join(path, close[0])
    else:
        close_full = difflib.get_close_matches(full, candidates, n=1, cutoff=0.6)
        suggestion = close_full[0] if close_full else None
    hint = f" Did you mean '{suggestion}'?" if suggestion else ""
    valid = ", ".join(names)
    message = f"Unknown config key '{full}'.{hint} Valid keys here: {valid}."
    return UnknownConfigKeyError(message, key=full, suggestion=suggestion)


def structure(data: object, tp: type[T] | Any, *, path: str = "") -> T:
    """Convert plain ``data`` into an instance of ``tp``, checking every key and value.

    Numbers written as strings (``3e-4``, which YAML 1.1 reads as text) are accepted for
    ``float`` and ``int`` fields; ints are accepted for floats; everything else must match.
    """
    return cast(T, _structure(data, tp, path, None))


def _structure(data: object, tp: Any, path: str, root: type[object] | None) -> object:
    if tp is Any or tp is object:
        return data
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _structure_dataclass(data, tp, path, root or tp)
    if origin in (Union, types.UnionType):
        return _structure_union(data, tp, path, root)
    if origin is Literal:
        for choice in get_args(tp):
            if data == choice and type(data) is type(choice):
                return data
        raise _fail(path, tp, data)
    if origin in (list, Sequence, tuple):
        return _structure_sequence(data, tp, origin, path, root)
    if origin in (dict, Mapping):
        key_tp, value_tp = get_args(tp) or (str, Any)
        if not isinstance(data, Mapping):
            raise _fail(path, tp, data)
        return {
            _structure(k, key_tp, path, root): _structure(v, value_tp, _join(path, str(k)), root)
            for k, v in data.items()
        }
    if isinstance(tp, type):
        return _structure_scalar(data, tp, path)
    raise _fail(path, tp, data, " (this field type is not supported in configs)")


def _structure_dataclass(data: object, cls: type[object], path: str, root: type[object]) -> object:
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise _fail(path, cls, data, " (a mapping of its fields)")
    types_ = field_types(cls)
    kwargs: dict[str, object] = {}
    for key, value in data.items():
        if not isinstance(key, str) or key not in types_:
            raise unknown_key_error(cls, path, str(key), root)
        kwargs[key] = _structure(value, types_[key], _join(path, key), root)
    try:
        return cls(**kwargs)
    except TypeError as ex:
        missing = [
            f.name
            for f in dataclasses.fields(cast(Any, cls))
            if f.init
            and f.name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            keys = ", ".join(f"'{_join(path, m)}'" for m in missing)
            raise ConfigTypeError(
                f"Config {_where(path)} is missing required key(s) {keys}; add them.",
                key=path,
                expected=cls.__name__,
            ) from ex
        raise
    except ValueError as ex:
        # Dataclasses validate themselves in __post_init__; say which section failed.
        raise ConfigTypeError(
            f"Config {_where(path)} is invalid: {ex}", key=path, expected=cls.__name__
        ) from ex


def _structure_union(data: object, tp: Any, path: str, root: type[object] | None) -> object:
    args = get_args(tp)
    if data is None:
        if _NONE_TYPE in args:
            return None
        raise _fail(path, tp, data)
    # Exact type matches first, so `int | str` keeps 3 as an int and "3" as a str.
    for arg in args:
        if arg is not _NONE_TYPE and isinstance(arg, type) and type(data) is arg:
            return data
    last: ConfigTypeError | UnknownConfigKeyError | None = None
    for arg in args:
        if arg is _NONE_TYPE:
            continue
        try:
            return _structure(data, arg, path, root)
        except UnknownConfigKeyError as ex:
            last = ex
        except ConfigTypeError as ex:
            last = last if isinstance(last, UnknownConfigKeyError) else ex
    if isinstance(last, UnknownConfigKeyError):
        raise last
    raise _fail(path, tp, data)


def _structure_sequence(
    data: object, tp: Any, origin: Any, path: str, root: type[object] | None
) -> object:
    if isinstance(data, str | bytes) or not isinstance(data, Sequence):
        raise _fail(path, tp, data, " (a list)")
    args = get_args(tp)
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(args) != len(data):
            raise _fail(path, tp, data, f" ({len(args)} items)")
        return tuple(
            _structure(v, a, _join(path, str(i)), root) for i, (v, a) in enumerate(zip(data, args))
        )
    item_tp = args[0] if args else Any
    items = [_structure(v, item_tp, _join(path, str(i)), root) for i, v in enumerate(data)]
    return tuple(items) if origin is tuple else items


def _structure_scalar(data: object, tp: type[object], path: str) -> object:
    if issubclass(tp, enum.Enum):
        for member in tp:
            if data == member.value or data == member.name or data is member:
                return member
        raise _fail(path, tp, data)
    if tp is bool:
        if isinstance(data, bool):
            return data
        raise _fail(path, tp, data, " (true or false)")
    if tp is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        if isinstance(data, str):
            try:
                return int(data.replace("_", ""))
            except ValueError:
                pass
        raise _fail(path, tp, data)
    if tp is float:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
        if isinstance(data, str):
            try:
                return float(data)
            except ValueError:
                pass
        raise _fail(path, tp, data)
    if tp is str:
        if isinstance(data, str):
            return data
        raise _fail(path, tp, data, " (quote it if it looks like a number)")
    if issubclass(tp, Path):
        if isinstance(data, str | Path):
            return tp(data)
        raise _fail(path, tp, data)
    if isinstance(data, tp):
        return data
    raise _fail(path, tp, data)


def unstructure(obj: object) -> object:
    """Convert a config object into plain YAML-friendly data (dicts, lists, scalars)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: unstructure(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init
        }
    if isinstance(obj, enum.Enum):
        return unstructure(obj.value)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        return {unstructure(k): unstructure(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [unstructure(v) for v in obj]
    return obj
