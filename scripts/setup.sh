#!/usr/bin/env bash
# Set up landmarkgan in ./.venv on a fresh machine: CPU PyTorch first (so no CUDA wheels are pulled
# in), then the package. With --test: also the test extras and Debian's chromium + chromium-driver
# (for the browser test of the web page). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python -m pip install -q "torch==2.13.0"
fi
if [ "${1:-}" = "--test" ]; then
    .venv/bin/python -m pip install -q -e ".[test]"
    if ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
        SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
        echo "installing Debian's chromium and chromium-driver for the browser test..."
        $SUDO apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
    fi
else
    .venv/bin/python -m pip install -q -e .
fi
