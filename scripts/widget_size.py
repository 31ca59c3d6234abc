"""Payload sizes of the widget: the embed loader and the widget page's total transfer, gzipped.

python -m scripts.widget_size        # prints one JSON object
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

WIDGET = Path(__file__).resolve().parents[1] / "embed_widget"
PAGE_FILES = ("widget.html", "widget.css", "widget.js", "audio-worklet.js")


def _gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


def sizes() -> dict[str, int]:
    """Gzipped bytes: the loader, and everything the widget page loads (without clip media)."""
    page = {name: _gz(WIDGET / name) for name in PAGE_FILES}
    return {
        "embed_js": _gz(WIDGET / "embed.js"),
        "widget_page_total": sum(page.values()),
        **{
            f"widget_{name.replace('.', '_').replace('-', '_')}": size
            for name, size in page.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    print(json.dumps(sizes()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
