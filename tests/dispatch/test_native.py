"""The compiled dispatch core (mypyc, `dispatch.native`): used after the install, the same
results as the interpreted sources, and never a build older than its source."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import importlib.util
import inspect
import json
import os
import pickle
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


def _written_out() -> list[type]:
    """Every class whose `__init__` is written out (see dispatch.events `HAND_INIT`)."""
    from dispatch import events as ev
    from dispatch.commands import Meta
    from dispatch.model import Assignment, Call, Point
    from dispatch.policy import Candidate
    from dispatch.timeline import Timeline
    from dispatch.transitions import Batch

    return [*ev.EVENT_TYPES.values(), ev.StoredEvent, Meta, Batch, Point, Assignment, Call,
            Timeline, Candidate]  # fmt: skip


def test_every_dataclass_written_out_is_checked() -> None:
    """A dataclass of the compiled modules with `init=False` must be in the list above."""
    listed = {c.__qualname__ for c in _written_out()}
    for name in native.COMPILED:
        module = importlib.import_module(name)
        for value in vars(module).values():
            params = getattr(value, "__dataclass_params__", None)
            ours = isinstance(value, type) and value.__module__ == name
            if ours and params is not None and not params.init:
                assert value.__qualname__ in listed, f"{name}.{value.__qualname__}"


@pytest.mark.parametrize("cls", _written_out(), ids=lambda c: c.__name__)
def test_each_written_out_init_takes_exactly_the_dataclass_parameters(cls: type) -> None:
    """What `dataclasses` would generate: every field, in order, keyword-only where the field
    is, with its default (a default factory: None, filled in by the `__init__`)."""
    assert not vars(cls)["__dataclass_params__"].init
    twin = _interpreted_twin(cls)  # compiled, some signatures are not introspectable
    params = list(inspect.signature(twin).parameters.values())
    fields = dataclasses.fields(twin)
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        kind = (
            inspect.Parameter.KEYWORD_ONLY if f.kw_only else inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        assert p.kind == kind, f.name
        if f.default is not dataclasses.MISSING:
            assert p.default == f.default, f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert p.default is None, f.name
        else:
            assert p.default is inspect.Parameter.empty, f.name


def _interpreted_twin(cls: type) -> type:
    """The class as its source defines it, from a fresh interpreted load of its module."""
    source = native.source_of(cls.__module__)
    spec = importlib.util.spec_from_file_location(f"_twin_{cls.__module__}", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    twin: type = getattr(module, cls.__qualname__)
    return twin


@pytest.mark.parametrize("cls", _written_out(), ids=lambda c: c.__name__)
def test_each_written_out_init_sets_every_field(cls: type) -> None:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        values[f.name] = _sample(cls.__name__, f.name)
    made = cls(**values)
    assert {f.name: getattr(made, f.name) for f in dataclasses.fields(cls)} == values
    # copies and pickles too (compiled, they cannot create a bare object and fill it in)
    assert copy.deepcopy(made) == made and copy.copy(made) == made
    assert pickle.loads(pickle.dumps(made)) == made


def _sample(owner: str, name: str) -> Any:
    """A distinct value per field name, of a type the field accepts."""
    from dispatch import events as ev
    from dispatch.model import (
        CallStatus,
        CancelReason,
        EventSource,
        Point,
        Priority,
        UnitStatus,
        UnitType,
    )

    if (owner, name) == ("Call", "status"):
        return CallStatus.ASSIGNED
    special: dict[str, Any] = {
        "source": EventSource.CREW,
        "cancel_reason": CancelReason.NO_PATIENT,
        "assignments": [],
        "version": 4,
        "dispatch_count": 2,
        "rank": 1,
        "hospital_overridden": True,
        "origin": Point(105.84, 21.04),
        "unit_type": UnitType.AMBULANCE,
        "status": UnitStatus.ON_SCENE,
        "from_status": UnitStatus.EN_ROUTE,
        "to_status": UnitStatus.ON_SCENE,
        "priority": Priority.P2,
        "reason": CancelReason.HOAX,
        "home": Point(105.8, 21.0),
        "pin": Point(105.81, 21.01),
        "position": Point(105.82, 21.02),
        "caller_device_location": Point(105.83, 21.03),
        "crew_size": 3,
        "seq": 7,
        "overridden": True,
        "tracked": False,
        "event": ev.CallClosed(at_s=1.0, actor="a", source=EventSource.CREW, call_id="c"),
        "events": [],
        "expected_versions": {"unit:A1": 2},
        "before": {},
    }
    if name in special:
        return special[name]
    if name.endswith("_s") or name.endswith(("_kph", "_deg", "_m")) or name in ("lon", "lat"):
        return float(len(name))
    return f"v-{name}"
