"""Optional native build: with H115_COMPILE=1, mypyc compiles the dispatch core to C extensions.

The project's metadata is in pyproject.toml; this file only adds the extension modules, named
in `dispatch/native.py` (`COMPILED`). `.ci/install.sh` builds them in place with
`pip install --no-build-isolation -e .` (mypyc type-checks against the installed packages).
The same sources run interpreted when they are not built, or with `H115_PURE_PYTHON=1`, and
give the same results: compiled classes also enforce the type hints at run time.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from setuptools import setup


def compiled_modules() -> list[str]:
    """`dispatch.native.COMPILED` as source paths, read without importing the package."""
    tree = ast.parse(Path("dispatch/native.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED":
            names = ast.literal_eval(node.value)
            return [name.replace(".", "/") + ".py" for name in names]
    raise RuntimeError("dispatch/native.py defines no COMPILED")


def extensions() -> list[object]:
    if os.environ.get("H115_COMPILE") != "1":
        return []
    from mypyc.build import mypycify

    # one shared library inside the package (dispatch/_compiled__mypyc...), not at the top level
    return list(mypycify(compiled_modules(), opt_level="3", group_name="dispatch._compiled"))


setup(ext_modules=extensions())
