"""Run the fake standalone: `python -m tests.fake_openai --port 8765 [--echo] [--api-key K]`.

Prints one JSON line with `base_url`, `ws_url` and `api_key`, then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .script import Say, Script
from .server import FakeOpenAI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_openai", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default=None, help="key to accept (default: random sk-test-)")
    parser.add_argument(
        "--echo",
        action="store_true",
        help="answer each input_audio_buffer.append with the same audio",
    )
    parser.add_argument(
        "--say",
        default="Hello from the fake model.",
        help="what the model says on response.create (non-echo mode)",
    )
    parser.add_argument(
        "--uvloop", action="store_true", help="run on uvloop when installed (less CPU per frame)"
    )
    args = parser.parse_args(argv)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    fake = FakeOpenAI(
        port=args.port,
        api_key=args.api_key,
        script=Script(fallback=Say(args.say), echo=args.echo),
        uvloop=args.uvloop,
    )
    with fake:
        print(
            json.dumps(
                {
                    "base_url": fake.base_url,
                    "ws_url": fake.ws_url,
                    "api_key": fake.api_key,
                    "echo": args.echo,
                }
            ),
            flush=True,
        )
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
