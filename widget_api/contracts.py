"""Seams shared by the conversation engines (the relay and the local engine) and the tools.

Both sides import these narrow protocols from here, so neither reaches into the other's
package: the relay never imports the tool registry, and the local engine never imports the
relay. The ToolRunner's `Outcome` satisfies `ToolOutcomeLike`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class ToolOutcomeLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def output(self) -> str: ...
    @property
    def result(self) -> dict[str, Any]: ...
    @property
    def ok(self) -> bool: ...
    @property
    def error_code(self) -> str | None: ...


# (call_id, name, arguments JSON string) -> outcome; never raises for bad input.
RunTool = Callable[[str, str, str], ToolOutcomeLike]
