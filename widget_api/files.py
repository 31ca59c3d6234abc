"""The data folder and the secrets in it: private to the server's user from the first byte.

The folder holds every company's leads (SQLite and its WAL), the knowledge base (Chroma) and
the generated secrets, so it is created 0700 and the processes that write it run with umask
077. Secrets are created 0600 by `open` itself: a chmod after writing would leave a window in
which another user could read them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PRIVATE_UMASK = 0o077


def restrict_umask() -> int:
    """Files and folders this process creates from now on are its user's only; returns the
    previous umask. Called at process start by `widget-api` and the CLIs that write data."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; tighten it if it exists and is ours."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # not ours (e.g. a mounted volume): leave it
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
    return path


def create_secret_file(path: Path, content: str) -> bool:
    """Write `content` to `path` as 0600 unless it exists; False when another process won.

    Written under a temporary name and linked into place, so a concurrent reader (another
    worker starting at the same moment) sees either no file or the whole secret, never a
    half-written one, and two workers never end up with different secrets.
    """
    if path.exists():
        return False
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def private_sqlite_file(database_url: str) -> None:
    """Create a SQLite database file 0600 before SQLite opens it.

    SQLite gives its -wal and -shm files the database file's permissions, so this keeps all
    three private; an existing world-readable file is tightened.
    """
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or database_url.endswith(":memory:"):
        return
    path = Path(database_url[len(prefix) :].split("?", 1)[0])
    if not path.name:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    with contextlib.suppress(PermissionError):
        for suffix in ("", "-wal", "-shm"):
            part = path.with_name(path.name + suffix)
            if part.exists() and part.stat().st_mode & 0o077:
                part.chmod(0o600)
