#!/usr/bin/env bash
# Installs the product into ./.venv from scratch. Usage: scripts/install.sh [--test]
#   --test  also installs the test extras and Debian's chromium (+ espeak-ng, sox) for browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
# torch first, pinned to the CPU build this machine's pip finds locally; otherwise
# sentence-transformers would pull several GB of CUDA wheels.
python -m pip install --quiet "torch==2.13.0"
if [ "${1:-}" = "--test" ]; then
  python -m pip install --quiet -e ".[test]"
  if ! command -v chromium >/dev/null 2>&1 || ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium espeak-ng sox >/dev/null
    else
      echo "install.sh: chromium, espeak-ng and sox are needed for the browser tests (apt-get install chromium espeak-ng sox)" >&2
    fi
  fi
else
  python -m pip install --quiet -e .
fi
