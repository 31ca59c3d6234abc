"""What a process holds, read from /proc: threads, descriptors, sockets and TCP peers.

Used to prove that faulted conversations leave nothing behind (psutil is not a dependency;
Linux's /proc says the same in a few lines).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# /proc/net/tcp state codes (include/net/tcp_states.h)
TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
    "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
    "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}  # fmt: skip


@dataclass(frozen=True)
class Holdings:
    """A snapshot of one process."""

    threads: int
    fds: int
    sockets: int
    upstream: dict[str, int]  # TCP states of the process's sockets to the upstream port

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def children(pid: int) -> list[int]:
    """Direct child processes (gunicorn's workers under its master)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed while we looked
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def tcp_table(pid: int | str = "self") -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every IPv4/IPv6 TCP socket in pid's netns."""
    rows: list[tuple[int, int, str, int]] = []
    for name in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{name}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            cols = line.split()
            local, remote, state, inode = cols[1], cols[2], cols[3], int(cols[9])
            rows.append(
                (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16),
                 TCP_STATES.get(state, state), inode)
            )  # fmt: skip
    return rows


def connections_to(pid: int, remote_port: int) -> dict[str, int]:
    """States of `pid`'s own TCP sockets whose peer is `remote_port`."""
    mine = socket_inodes(pid)
    rows = tcp_table(pid)
    states = Counter(s for _l, r, s, inode in rows if r == remote_port and inode in mine)
    return dict(states)


def open_at(local_port: int) -> int:
    """ESTABLISHED connections accepted on `local_port` (any process in this netns)."""
    return sum(
        1 for local, _r, state, _i in tcp_table() if local == local_port and state == "ESTABLISHED"
    )


def holdings(pid: int, upstream_port: int) -> Holdings:
    return Holdings(
        threads=len(list(Path(f"/proc/{pid}/task").iterdir())),
        fds=len(list(Path(f"/proc/{pid}/fd").iterdir())),
        sockets=len(socket_inodes(pid)),
        upstream=connections_to(pid, upstream_port),
    )
