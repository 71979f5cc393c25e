"""A faster `__init__` for frozen slotted dataclasses (events, `Meta`, `Candidate`).

A frozen dataclass's generated `__init__` writes each field with `object.__setattr__`, which
costs about twice a direct write of the slot. `fast_init` replaces it by one with the same
signature (names, defaults, keyword-only markers, `__post_init__`) that writes each slot
through its member descriptor. The class stays frozen: assigning or deleting a field after
construction still raises `FrozenInstanceError`. Simulated years build millions of these.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def fast_init(cls: type[T]) -> type[T]:
    """Give `cls` (a frozen dataclass with slots) a slot-writing `__init__`; returns `cls`.
    A class compiled by mypyc is returned as it is: its native constructor is faster still."""
    if hasattr(cls, "__mypyc_attrs__"):
        return cls
    params = dataclasses.fields(cls)  # type: ignore[arg-type]
    flags = vars(cls).get("__dataclass_params__")
    if flags is None or not flags.frozen or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with slots")
    namespace: dict[str, Any] = {}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in params:
        if not f.init or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain fields are supported")
        slot = getattr(cls, f.name)
        if type(slot).__name__ != "member_descriptor":
            raise TypeError(f"{cls.__name__}.{f.name} is not a slot")
        namespace[f"_set_{f.name}"] = slot.__set__
        text = f.name
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            text += f"=_default_{f.name}"
        (keyword if f.kw_only else positional).append(text)
        body.append(f"    _set_{f.name}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    args = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    exec(f"def __init__({args}):\n" + "\n".join(body or ["    pass"]), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = dict(cls.__init__.__annotations__)
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010
    return cls
