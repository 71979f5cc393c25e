"""Which dispatch modules run compiled (mypyc C extensions, built by `setup.py`), and the guard
that runs them interpreted instead when asked to or when a build is older than its source.

Python imports an extension module before a `.py` of the same name, so a compiled module left
behind after its source changed would silently run old code. `install()` (called by
`dispatch/__init__.py`, before any of these modules loads) checks each extension against its
source and, if any is older, or if `H115_PURE_PYTHON=1`, makes every one of them load from its
`.py` instead (all or none: compiled and interpreted classes of the group do not mix). Only
the standard library here: `setup.py` reads `COMPILED` from this file at build time.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

# The simulator's hot path (millions of commands and events per simulated year), which is
# also the live service's: domain model, events, transitions, commands, policy, service.
COMPILED = (
    "dispatch.model",
    "dispatch.events",
    "dispatch.undo",
    "dispatch.transitions",
    "dispatch.commands",
    "dispatch.snaps",
    "dispatch.policy",
    "dispatch.workflow",
    "dispatch.timeline",
    "dispatch.livelog",
    "dispatch.memory",
    "dispatch.service",
    "dispatch.simulation.engine",
    "dispatch.simulation.metrics",
    "dispatch.simulation.travel",
)
GROUP_LIBRARY = "dispatch._compiled__mypyc"  # their shared code (`setup.py`'s group name)
_ROOT = Path(__file__).resolve().parent.parent
_state: dict[str, str] = {}


def source_of(name: str) -> Path:
    """The `.py` file of a module in `COMPILED`."""
    return _ROOT.joinpath(*name.split(".")).with_suffix(".py")


def extension_of(name: str) -> Path | None:
    """The built extension of a module in `COMPILED` (or `GROUP_LIBRARY`), if there is one."""
    source = source_of(name)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = source.with_name(source.stem + suffix)
        if candidate.exists():
            return candidate
    return None


def stale(names: Sequence[str] = COMPILED) -> list[str]:
    """Modules whose source changed after the build: newer than the group library, which
    holds the compiled code of them all (the per-module extensions are fixed shims that a
    rebuild leaves as they were)."""
    library = extension_of(GROUP_LIBRARY)
    if library is None:
        return []
    built_s = library.stat().st_mtime
    return [n for n in names if source_of(n).stat().st_mtime > built_s]


class _SourceFirst:
    """A meta-path finder that loads the `COMPILED` modules from their `.py` files."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED:
            return None
        source = source_of(fullname)
        loader = importlib.machinery.SourceFileLoader(fullname, str(source))
        return importlib.util.spec_from_file_location(fullname, source, loader=loader)


def install() -> None:
    """Decide once per process whether the compiled modules may be used (see module doc)."""
    if _state:
        return
    built = [n for n in COMPILED if extension_of(n) is not None]
    if not built:
        _state["mode"] = "interpreted"
        return
    old = stale(built)
    whole = len(built) == len(COMPILED) and extension_of(GROUP_LIBRARY) is not None
    if os.environ.get("H115_PURE_PYTHON") == "1" or old or not whole:
        if old:
            log.warning(
                "compiled dispatch modules are older than their sources (%s): running them "
                "interpreted; rebuild with `bash .ci/install.sh`",
                ", ".join(old),
            )
        sys.meta_path.insert(0, _SourceFirst())
        _state["mode"] = "interpreted"
        return
    _state["mode"] = "compiled"


def mode() -> str:
    """'compiled' when the `COMPILED` modules run as C extensions, else 'interpreted'."""
    install()
    loaded = sys.modules.get("dispatch.model")
    if loaded is not None:  # what was actually imported
        return "interpreted" if str(loaded.__file__).endswith(".py") else "compiled"
    return _state["mode"]
