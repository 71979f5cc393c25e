"""Exact JSON round trip of the domain's state objects (Call, Unit) for the read-model tables.

Generic over dataclasses: points become `[lon, lat]`, enums their values, nested dataclasses
and lists of them dicts and lists. Floats stay floats, so a decoded object compares equal to
the one that was encoded.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import StrEnum
from typing import Any, TypeVar

from dispatch.hints import field_hints
from dispatch.model import Point

T = TypeVar("T")


def to_doc(obj: object) -> dict[str, Any]:
    """Encode a dataclass instance as a JSON-ready dict."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"not a dataclass instance: {obj!r}")
    return {f.name: _dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    """Decode what `to_doc` produced back into an instance of `cls`."""
    hints = field_hints(cls)
    kwargs = {name: _load(hint, doc[name]) for name, hint in hints.items() if name in doc}
    return cls(**kwargs)


def _dump(value: Any) -> Any:
    if isinstance(value, Point):
        return [value.lon, value.lat]
    if isinstance(value, StrEnum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_doc(value)
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _dump(v) for k, v in value.items()}
    return value


def _load(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _load(inner[0], value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_load(item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(hint)
        return {k: _load(item, v) for k, v in value.items()}
    if hint is Point:
        return Point(float(value[0]), float(value[1]))
    if hint is float:
        return float(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_doc(hint, value)
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return hint(value)
    return value
