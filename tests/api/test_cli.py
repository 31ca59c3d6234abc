"""`widget-api check-config` and `serve` refuse invalid company configs with file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from widget_api.cli import main


@pytest.fixture
def bad_companies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "companies"
    folder.mkdir()
    (folder / "globex.toml").write_text(
        'display_name = "Globex"\nsummary = "s"\npersona = "p"\ngreeting = "g"\nvoice = "robot"\n'
        '[meetings]\nprovider = "url"\nbase_url = "https://globex.example/book"\n'
    )
    monkeypatch.setenv("WIDGET_COMPANIES_DIR", str(folder))
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "data"))
    return folder


@pytest.mark.parametrize("command", [["check-config"], ["serve", "--port", "1"]])
def test_invalid_config_exits_non_zero_naming_file_and_field(
    bad_companies: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"{bad_companies / 'globex.toml'}: voice:" in err


def test_check_config_accepts_the_bundled_demo(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WIDGET_COMPANIES_DIR", raising=False)
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path))
    assert main(["check-config"]) == 0
    assert "ok: acme (Acme Relay)" in capsys.readouterr().out
