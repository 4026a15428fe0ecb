"""Render Hugging Face chat templates (Jinja) as ``transformers`` does (optional ``jinja2``).

The environment matches the one ``transformers`` renders with: a sandboxed, immutable
Jinja environment with ``trim_blocks`` and ``lstrip_blocks``, the ``loopcontrols``
extension, a ``{% generation %}`` block tag (rendered as its body), a ``tojson`` filter that
keeps non-ASCII text and accepts ``indent``/``separators``/``sort_keys``, and the globals
``raise_exception``, ``strftime_now``, ``dict`` and ``namespace``. A template sees
``messages``, ``add_generation_prompt``, ``tools``, ``documents`` and the tokenizer's special
tokens (``bos_token``, ``eos_token``...), plus any extra keyword given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from seqkit.text.errors import ChatTemplateError

_MIN_JINJA = (3, 1)


def _jinja() -> Any:
    try:
        import jinja2
        import jinja2.ext
        import jinja2.nodes
        import jinja2.sandbox
    except ImportError as ex:
        raise ChatTemplateError(
            "Chat templates need the 'jinja2' package (it comes with transformers and torch): "
            "pip install 'seqkit[hf]' or pip install jinja2."
        ) from ex
    version = tuple(int(p) for p in jinja2.__version__.split(".")[:2] if p.isdigit())
    if version < _MIN_JINJA:
        raise ChatTemplateError(
            f"Chat templates need jinja2>=3.1 (found {jinja2.__version__}); upgrade it."
        )
    return jinja2


def jinja_available() -> bool:
    """Whether chat templates can be rendered here (``jinja2`` importable)."""
    try:
        _jinja()
    except ChatTemplateError:
        return False
    return True


def _to_json(
    value: object,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@lru_cache(maxsize=16)
def _compile(template: str) -> Any:
    jinja2 = _jinja()

    extension: Any = jinja2.ext.Extension
    namespace: Any = jinja2.utils.Namespace

    class _GenerationTag(extension):  # type: ignore[misc]
        """``{% generation %}...{% endgeneration %}`` renders its body unchanged."""

        tags = {"generation"}  # noqa: RUF012 - the Jinja extension API

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            call = self.call_method("_body")
            return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return str(caller())

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    class _Namespace(namespace):  # type: ignore[misc]
        def __setitem__(self, name: str, value: object) -> None:
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    f"a chat template may not set {name!r} on a namespace"
                )
            super().__setitem__(name, value)

    class _Dict:
        """``dict(...)`` and ``dict.fromkeys(...)`` without access to the type itself."""

        def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any) -> dict[Any, Any]:
            return dict.fromkeys(*args)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _to_json
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = _Dict()
    env.globals["namespace"] = _Namespace
    try:
        return env.from_string(template)
    except jinja2.exceptions.TemplateSyntaxError as ex:
        raise ChatTemplateError(f"The chat template is not valid Jinja: {ex}.") from ex


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def render_chat_template(
    template: str,
    messages: Sequence[Mapping[str, object]],
    *,
    add_generation_prompt: bool = False,
    tools: Sequence[Mapping[str, object]] | None = None,
    documents: Sequence[Mapping[str, object]] | None = None,
    **variables: object,
) -> str:
    """Render ``messages`` with Jinja ``template`` as ``transformers``'
    ``apply_chat_template(..., tokenize=False)`` does; ``variables`` are the special tokens
    (``bos_token``...) and any extra template inputs."""
    compiled = _compile(template)
    jinja2 = _jinja()
    try:
        return str(
            compiled.render(
                messages=_plain(list(messages)),
                tools=None if tools is None else _plain(list(tools)),
                documents=None if documents is None else _plain(list(documents)),
                add_generation_prompt=add_generation_prompt,
                **variables,
            )
        )
    except jinja2.exceptions.TemplateError as ex:
        raise ChatTemplateError(f"The chat template refused the conversation: {ex}") from ex
