"""The data folder and secrets are private to the server's user; admin tokens are long enough."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from widget_api.cli import main
from widget_api.files import create_secret_file, private_dir, private_sqlite_file
from widget_api.settings import BUNDLED_COMPANIES_DIR, Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: what the code creates is private by itself, not by luck."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_secrets_are_0600_from_the_open_on(tmp_path: Path, open_umask: None) -> None:
    key = Settings(data_dir=tmp_path / "data", _env_file=None).signing_key()  # type: ignore[call-arg]
    assert len(key) >= 48
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "secret_key") == 0o600
    assert not list((tmp_path / "data").glob(".*.tmp"))  # the temporary name is gone


def test_workers_racing_to_create_a_secret_all_read_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret_key"
    won: list[bool] = []
    barrier = threading.Barrier(8)

    def create(i: int) -> None:
        barrier.wait()
        won.append(create_secret_file(path, f"secret-{i}-" + "x" * 40))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert won.count(True) == 1
    assert path.read_text().startswith("secret-") and len(path.read_text()) > 40


def test_an_existing_open_data_folder_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert mode(private_dir(folder)) == 0o700


def test_sqlite_and_its_wal_are_not_world_readable(tmp_path: Path, open_umask: None) -> None:
    db = tmp_path / "data" / "widget.db"
    private_sqlite_file(f"sqlite:///{db}")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    parts = [db, db.with_name("widget.db-wal"), db.with_name("widget.db-shm")]
    assert all(p.exists() for p in parts)
    assert {p.name: mode(p) for p in parts} == {p.name: 0o600 for p in parts}
    conn.close()


@pytest.fixture
def acme_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    companies = tmp_path / "companies"
    shutil.copytree(BUNDLED_COMPANIES_DIR, companies)
    monkeypatch.setenv("WIDGET_COMPANIES_DIR", str(companies))
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.mark.parametrize("command", [["check-config"], ["serve", "--port", "1"]])
def test_a_short_admin_token_stops_check_config_and_start_up(
    acme_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:  # fmt: skip
    short = "short-admin-token-31-characters"
    assert len(short) == 31
    monkeypatch.setenv("ACME_ADMIN_TOKEN", short)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "$ACME_ADMIN_TOKEN has 31 characters; at least 32" in err
    assert short not in err  # the length is named, never the token


def test_a_short_token_file_is_refused_too(acme_env: Path, capsys: pytest.CaptureFixture) -> None:
    tokens = acme_env / "data" / "admin_tokens"
    tokens.mkdir(parents=True)
    (tokens / "acme").write_text("too-short\n")
    assert main(["check-config"]) == 2
    assert "has 9 characters" in capsys.readouterr().err


def test_a_32_character_token_is_accepted(
    acme_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACME_ADMIN_TOKEN", "x" * 32)
    assert main(["check-config"]) == 0
    assert "ok: acme" in capsys.readouterr().out
