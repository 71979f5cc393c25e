#!/usr/bin/env bash
# Installs hanoi115 on a fresh Debian 12 machine (as root) into ./.venv.
#   bash .ci/install.sh          the service: Python packages, the embedded SQLite default
#   bash .ci/install.sh --test   plus what the tests need: PostgreSQL 15 + PostGIS + pgRouting
#                                (started), Debian's Chromium for browser tests, test packages
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_pkgs=(python3 python3-venv python3-dev build-essential ca-certificates)
if [ "$want_test" = 1 ]; then
  apt_pkgs+=(postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting chromium)
fi
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip "setuptools>=70.1"
if [ "$want_test" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
else
  .venv/bin/python -m pip install -q -e .
fi
# The dispatch core compiled in place by mypyc (setup.py, dispatch/native.py; ~30 s). Old
# extensions go first: one left behind by a module no longer compiled would shadow its source.
.venv/bin/python -m pip install -q "mypy>=1.10"
find dispatch -name '*.so' -delete
H115_COMPILE=1 .venv/bin/python setup.py -q build_ext --inplace >.venv/build-native.log 2>&1 \
  || { cat .venv/build-native.log; echo "compiling the dispatch core failed" >&2; exit 1; }
# built from the sources as they are now (an unchanged library is copied with its old time)
find dispatch -name '*.so' -exec touch {} +

if [ "$want_test" = 1 ]; then
  # Start the cluster (exit code 2 means it was already running).
  pg_ctlcluster --skip-systemctl-redirect 15 main start || [ $? -eq 2 ]
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
  done
  # A fresh Debian cluster asks for a password over TCP; give postgres a known one for tests.
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  su postgres -c "psql -q -d template1 -c 'CREATE EXTENSION IF NOT EXISTS postgis'" >/dev/null
fi
echo "hanoi115 installed in $(pwd)/.venv"
