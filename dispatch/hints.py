"""Field types of the domain's dataclasses, for the JSON codecs, whether compiled or not.

`typing.get_type_hints` reads a class's `__annotations__`; mypyc keeps those only loosely for
the classes it compiles (a union becomes `type`), so for a compiled class the annotations are
read from its source instead (shipped beside the extension) and evaluated in its module's
namespace, exactly as `get_type_hints` evaluates the string annotations of `from __future__
import annotations`.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
import typing
from typing import Any

from dispatch.native import source_of

_CACHE: dict[type[Any], dict[str, Any]] = {}


def field_hints(cls: type[Any]) -> dict[str, Any]:
    """The type of each dataclass field of `cls` (inherited fields included)."""
    found = _CACHE.get(cls)
    if found is None:
        found = _CACHE[cls] = _field_hints(cls)
    return found


def _field_hints(cls: type[Any]) -> dict[str, Any]:
    names = [f.name for f in dataclasses.fields(cls)]
    if not hasattr(cls, "__mypyc_attrs__"):
        hints = typing.get_type_hints(cls)
        return {name: hints[name] for name in names}
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):  # a subclass's annotation wins
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        found.update(_source_annotations(klass))
    return {name: found[name] for name in names}


def _source_annotations(cls: type[Any]) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    tree = ast.parse(source_of(cls.__module__).read_text(encoding="utf-8"))
    body = next(
        node.body
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__
    )
    namespace = dict(vars(module))
    out: dict[str, Any] = {}
    for item in body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            text = ast.unparse(item.annotation)
            out[item.target.id] = eval(text, namespace)
    return out
