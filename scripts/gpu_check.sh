#!/usr/bin/env bash
# Proves the CUDA paths in a few minutes on one GPU (scripts/gpu_check.py; docs/performance.md says how to run it).
# With no arguments it checks --device cuda; --device cpu --tiny is the CI mode. It installs nothing: it runs the
# checkout's package with $PYTHON, else ./.venv/bin/python, else python3 (on a GPU machine: the one with CUDA torch).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" scripts/gpu_check.py "$@"
