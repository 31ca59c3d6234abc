#!/usr/bin/env bash
# Builds the wheel, installs it (non-editable) into a fresh venv and serves the demo from an
# unrelated folder: proves the package runs where it is installed (migrations, demo company and
# widget assets are package data, not files next to a source checkout).
# Checks /healthz, /widget/acme, /embed.js and one text answer over the relay WebSocket.
# Usage: scripts/check_wheel.sh   (exit 0 when every check passes)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python3}
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Build from a copy of the tracked (and new, unignored) files, so the build leaves no
# build/ or egg-info behind in the checkout.
mkdir "$WORK/src"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$WORK/src" 2>/dev/null || true)
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
# torch first, pinned to the CPU build (a bare dependency would pull CUDA wheels).
"$VPY" -m pip install --quiet "torch==2.13.0"
"$VPY" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$WORK/src"
"$VPY" -m pip install --quiet "$WORK"/dist/widget_api-*.whl
echo "check_wheel: installed $(ls "$WORK"/dist)"

# An unrelated folder: no source tree, no .env, nothing importable from the checkout.
RUN="$WORK/elsewhere"
mkdir "$RUN"
PORT=$("$VPY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$RUN"
env -i PATH="$WORK/venv/bin:/usr/bin:/bin" HOME="$RUN" HF_HUB_OFFLINE=1 \
  WIDGET_DATA_DIR="$RUN/data" \
  "$WORK/venv/bin/widget-api" serve --port "$PORT" >"$RUN/server.log" 2>&1 &
SERVER_PID=$!

if ! "$VPY" - "$PORT" "$SERVER_PID" <<'EOF'
"""Talks to the installed server like a browser would (HTTP pages, then the relay in text mode)."""

import json
import os
import sys
import time
import urllib.request

from websockets.sync.client import connect

base = f"http://127.0.0.1:{sys.argv[1]}"


def get(path: str) -> tuple[int, str]:
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return response.status, response.read().decode("utf-8", "replace")


deadline = time.monotonic() + 180  # first start: migrations, model load, ingest of the demo docs
while True:
    try:
        status, _ = get("/healthz")
        break
    except OSError:
        try:
            os.kill(int(sys.argv[2]), 0)
        except ProcessLookupError:
            sys.exit("check_wheel: the server exited")
        if time.monotonic() > deadline:
            sys.exit("check_wheel: server did not answer /healthz")
        time.sleep(1)
assert status == 200, status
status, page = get("/widget/acme")
assert status == 200 and "widget.js" in page, (status, page[:200])
status, loader = get("/embed.js")
assert status == 200 and "company" in loader, status

item = {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "Do you offer a free trial?"}]}
url = base.replace("http://", "ws://") + "/ws/realtime/acme?mode=text"
with connect(url, origin=base, open_timeout=10) as ws:
    ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
    ws.send(json.dumps({"type": "response.create"}))
    answer = None
    while True:
        event = json.loads(ws.recv(timeout=60))
        if event["type"] == "response.output_text.done":
            answer = event["text"]
        if event["type"] == "response.done":
            break
assert answer and "14" in answer, answer
print(json.dumps({"check_wheel": "ok", "healthz": 200, "widget_page": 200, "embed_js": 200,
                  "text_answer_chars": len(answer)}))
EOF
then
  echo "check_wheel: FAILED; server log:" >&2
  tail -n 40 "$RUN/server.log" >&2
  exit 1
fi
