"""A build cache for compiled graphs, keyed by input, places, profile and build-code checksums.

Tests and benchmarks share it (default /work/main/var/test-graphs via the caller; override
with H115_TEST_GRAPH_CACHE) so the 30 s urban-core build happens once per code version.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from routing.artifact import META_FILE, file_sha256
from routing.build import build_graph
from routing.places import resolve_sources
from routing.profile import load_profile

_BUILD_MODULES = ("artifact.py", "build.py", "compile.py", "places.py", "profile.py")


def code_version() -> str:
    """sha256 over the source of the modules that decide the artifact's content."""
    digest = hashlib.sha256()
    for name in _BUILD_MODULES:
        digest.update((resources.files("routing") / name).read_bytes())
    return digest.hexdigest()


def cache_key(
    osm_file: Path,
    profile_file: Path | None = None,
    *,
    hospitals_file: Path | None = None,
    districts_file: Path | None = None,
) -> str:
    """Folder name for a build: input, profile, code and place-file checksums (12 hex digits
    each). Place files default as in `build_graph` (the standard names beside `osm_file`)."""
    profile = load_profile(profile_file)
    sources = resolve_sources(
        osm_file, hospitals_file=hospitals_file, districts_file=districts_file
    )
    places = hashlib.sha256()
    for kind, path in sorted(sources.items()):
        places.update(f"{kind}:{file_sha256(path) if path else None};".encode())
    return (
        f"{file_sha256(osm_file)[:12]}-{profile.sha256[:12]}-{code_version()[:12]}"
        f"-{places.hexdigest()[:12]}"
    )


def cached_build(
    osm_file: Path,
    cache_root: Path,
    *,
    profile_file: Path | None = None,
    hospitals_file: Path | None = None,
    districts_file: Path | None = None,
) -> Path:
    """The graph folder for `osm_file` (and its place files) under `cache_root`, built once
    (process-safe)."""
    cache_root.mkdir(parents=True, exist_ok=True)
    places = {"hospitals_file": hospitals_file, "districts_file": districts_file}
    target = cache_root / cache_key(osm_file, profile_file, **places)
    if (target / META_FILE).exists():
        return target
    with open(cache_root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same graph
        if (target / META_FILE).exists():
            return target
        tmp = Path(tempfile.mkdtemp(dir=cache_root, prefix=".build-"))
        try:
            build_graph(osm_file, tmp, profile_file=profile_file, **places)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
