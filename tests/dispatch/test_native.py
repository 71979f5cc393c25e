"""The compiled dispatch core (mypyc, `dispatch.native`): used after the install, the same
results as the interpreted sources, and never a build older than its source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dispatch import native
from tests.dispatch.test_simulation_golden import GOLDEN, SCENARIO

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, *args: str, pure: bool) -> str:
    env = dict(os.environ)
    env.pop("H115_PURE_PYTHON", None)
    if pure:
        env["H115_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout.strip().splitlines()[-1]


def test_the_install_runs_the_dispatch_core_compiled() -> None:
    """`.ci/install.sh` builds the extensions; unless asked not to, they are what runs."""
    if os.environ.get("H115_PURE_PYTHON") == "1":
        assert native.mode() == "interpreted"
        return
    assert native.mode() == "compiled", "run `bash .ci/install.sh` (it compiles the core)"
    import dispatch.service

    assert not str(dispatch.service.__file__).endswith(".py")


def test_pure_python_is_one_switch_away() -> None:
    code = (
        "import dispatch.service, dispatch.native as n\n"
        "print(n.mode(), dispatch.service.__file__.endswith('.py'))"
    )
    assert _python(code, pure=True) == "interpreted True"


def test_interpreted_run_matches_the_golden_file_too(hoankiem_graph_dir: Path) -> None:
    """The golden test runs in this process's mode; this runs the other one's sources."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from dispatch.simulation.runner import run_scenario\n"
        "from dispatch.simulation.scenario import load_scenario\n"
        "from tests.dispatch.test_simulation_golden import pinned\n"
        "from routing.engine import Router\n"
        "router = Router.load(Path(sys.argv[2]))\n"
        "r = run_scenario(load_scenario(Path(sys.argv[1])), router=router)\n"
        "print(json.dumps(pinned(r.kpis)))\n"
    )
    got: dict[str, Any] = json.loads(
        _python(code, str(SCENARIO), str(hoankiem_graph_dir), pure=True)
    )
    assert got == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_a_build_older_than_its_source_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "_ROOT", tmp_path)
    package = tmp_path / "dispatch"
    package.mkdir()
    source = package / "model.py"
    source.write_text("x = 1\n", encoding="utf-8")
    assert native.extension_of("dispatch.model") is None
    assert native.stale(["dispatch.model"]) == []  # nothing built: nothing stale
    suffix = native.importlib.machinery.EXTENSION_SUFFIXES[0]
    shim = package / ("model" + suffix)
    library = package / ("_compiled__mypyc" + suffix)
    shim.write_bytes(b"")
    library.write_bytes(b"")
    os.utime(shim, (1_000_000, 1_000_000))  # shims keep their first build's time
    os.utime(source, (2_000_000, 2_000_000))
    os.utime(library, (3_000_000, 3_000_000))
    assert native.extension_of("dispatch.model") == shim
    assert native.stale(["dispatch.model"]) == []
    os.utime(source, (4_000_000, 4_000_000))  # the source was edited after the build
    assert native.stale(["dispatch.model"]) == ["dispatch.model"]
