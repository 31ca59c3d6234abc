"""`kill -9` of a real `widget-api serve` in the middle of a delivery loses nothing.

The sender's claim leases the row; the killed worker never records an outcome, so after the
lease the row is due again and the restarted server delivers it with the same webhook-id.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from scripts.webhook_receiver import WebhookReceiver
from tests.delivery.conftest import SECRET
from tests.faults.server_process import ServerProcess
from widget_api.crm.db import Database
from widget_api.crm.delivery_models import WebhookDelivery
from widget_api.crm.leads import LeadFields, upsert_lead
from widget_api.settings import BUNDLED_COMPANIES_DIR

pytestmark = pytest.mark.slow


def _companies(folder: Path, url: str) -> Path:
    folder.mkdir()
    text = (BUNDLED_COMPANIES_DIR / "acme.toml").read_text()
    hook = f'\n[[webhooks]]\nurl = "{url}"\nsecret_env = "ACME_WEBHOOK_SECRET"\n'
    (folder / "acme.toml").write_text(text + hook)
    if (BUNDLED_COMPANIES_DIR / "acme").is_dir():
        shutil.copytree(BUNDLED_COMPANIES_DIR / "acme", folder / "acme")
    return folder


def _deliveries(db: Database) -> list[tuple[str, int]]:
    stmt = select(WebhookDelivery.state, WebhookDelivery.attempts)
    return [tuple(r) for r in db.run(lambda s: s.execute(stmt).all())]


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_mid_delivery_then_restart_delivers_once(tmp_path: Path) -> None:
    # First attempt: the receiver holds the request (and then does nothing with it).
    plan = lambda _id, nth: "stall" if nth == 1 else "ok"  # noqa: E731
    with WebhookReceiver(SECRET, script=plan, hang_seconds=3.0) as receiver:
        url = f"sqlite:///{tmp_path / 'data' / 'widget.db'}"
        (tmp_path / "data").mkdir()
        db = Database(url)
        db.upgrade()
        upsert_lead(db, "acme", LeadFields(name="Ada", email="ada@example.com"),
                    session_id=None, channel="text")  # fmt: skip
        env = {
            "WIDGET_COMPANIES_DIR": str(_companies(tmp_path / "companies", receiver.url)),
            "ACME_WEBHOOK_SECRET": SECRET,
            "ACME_ADMIN_TOKEN": "a" * 32,
            "WIDGET_ALLOW_PRIVATE_WEBHOOKS": "true",
            "WIDGET_WEBHOOK_TIMEOUT_SECONDS": "1",  # lease: 2 x 1 + 5 = 7 s
            "WIDGET_WEBHOOK_POLL_SECONDS": "0.1",
            "WIDGET_INGEST_DEMO_ON_START": "false",
        }
        first = ServerProcess(tmp_path / "data", url, env).start()
        try:
            _wait(receiver.arrived.is_set, 60, "the first delivery attempt")
            os.killpg(first.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
            first.proc.wait(timeout=10)  # type: ignore[union-attr]
        finally:
            first.stop()
        assert _deliveries(db) == [("pending", 1)]  # leased, never finished
        assert receiver.accepted == {}

        with ServerProcess(tmp_path / "data", url, env):
            _wait(lambda: len(receiver.accepted) == 1, 90, "the redelivery")
            _wait(lambda: _deliveries(db) == [("delivered", 2)], 10, "the delivered state")
        (msg_id,) = receiver.accepted
        assert receiver.attempts[msg_id] == 2  # the same webhook-id both times
        db.dispose()
