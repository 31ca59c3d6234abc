"""The marketer CLI: output, summary, exit codes, bad input reported in one line and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.cli import main


@pytest.fixture(autouse=True)
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from the environment only: a data dir under tmp_path, wide rich output."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WIDGET_DATA_DIR", str(tmp_path / "data"))
    for name in ("WIDGET_CHROMA_PATH", "WIDGET_CHROMA_HOST", "WIDGET_EMBEDDING_MODEL_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "300")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "pricing.md").write_text("# Pricing\n\nThe Team plan costs 12 euros per seat.\n")
    (folder / "faq.md").write_text("# FAQ\n\n## Trial\nThe free trial lasts 14 days.\n")
    return folder


def test_bad_file_and_bad_url_are_reported_skipped_and_fail_the_run(
    docs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    code = main(
        [
            "ingest",
            "--company",
            "acme",
            str(docs),
            str(tmp_path / "missing.pdf"),
            "http://127.0.0.1:9/pricing",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1
    failed = [line for line in err.splitlines() if line.startswith("failed:")]
    assert len(failed) == 2
    assert "missing.pdf" in failed[0] and "127.0.0.1:9/pricing" in failed[1]
    assert "2 added, 2 failed" in out
    assert main(["list", "--company", "acme"]) == 0
    listing = capsys.readouterr().out
    assert "pricing.md" in listing and "faq.md" in listing and "2 documents" in listing


def test_successful_ingest_then_search(
    docs: Path, capsys: pytest.CaptureFixture[str], embedder
) -> None:  # type: ignore[no-untyped-def]
    assert main(["ingest", "--company", "acme", str(docs), "--tag", "web"]) == 0
    assert "2 added" in capsys.readouterr().out
    assert main(["ingest", "--company", "acme", str(docs), "--tag", "web"]) == 0
    assert "2 unchanged" in capsys.readouterr().out
    assert main(["search", "--company", "acme", "how long can I try it for free?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. FAQ") and "FAQ > Trial" in out and "docs/faq.md" in out
    assert main(["search", "--company", "acme", "--json", "-k", "1", "price per seat"]) == 0
    [hit] = json.loads(capsys.readouterr().out)
    assert hit["title"] == "Pricing" and hit["tags"] == ["web"]


def test_dry_run_writes_nothing(docs: Path, capsys: pytest.CaptureFixture[str], embedder) -> None:  # type: ignore[no-untyped-def]
    assert main(["ingest", "--company", "acme", "--dry-run", str(docs)]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "2 added" in out
    assert main(["list"]) == 0
    assert "no documents yet" in capsys.readouterr().out


def test_sitemap_ingest_and_remove(
    site: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    base, root = site
    (root / "a.html").write_text(
        "<html><body><main><h1>About</h1><p>We build rockets.</p></main></body></html>"
    )
    (root / "sitemap.xml").write_text(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/a.html</loc></url></urlset>"
    )
    args = ["ingest", "--company", "acme", "--sitemap", f"{base}/sitemap.xml"]
    assert main(args) == 1  # loopback refused without the explicit flag
    assert "private or local" in capsys.readouterr().err
    assert main([*args, "--allow-private-hosts"]) == 0
    assert "1 added" in capsys.readouterr().out
    assert main(["remove", "--company", "acme", f"{base}/a.html"]) == 0
    assert "removed 1 chunks" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["ingest", "--company", "acme", "--bogus", "x"],
        ["ingest", "docs"],
        ["search", "--company", "acme"],
        ["frobnicate"],
        [],
        ["ingest", "--company", "acme"],
        ["search", "--company", "bad/../id", "q"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.strip()


# --- honest CLI behaviours ----------------------------------------------------------------
def test_unknown_company_is_an_error_unless_created(
    docs: Path,
    capsys: pytest.CaptureFixture[str],
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    assert main(["ingest", "--company", "acmee", str(docs)]) == 2
    err = capsys.readouterr().err
    assert "no such company 'acmee'" in err and "--create" in err and "acme" in err
    assert main(["list"]) == 0 and "no documents yet" in capsys.readouterr().out
    assert main(["ingest", "--company", "newco", "--create", str(docs)]) == 0
    capsys.readouterr()
    assert main(["search", "--company", "newco", "free trial"]) == 0  # now it exists


def test_remove_of_nothing_exits_1(
    docs: Path,
    capsys: pytest.CaptureFixture[str],
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    assert main(["ingest", "--company", "acme", str(docs)]) == 0
    capsys.readouterr()
    assert main(["remove", "--company", "acme", "docs/nothing.md"]) == 1
    assert "no such document: docs/nothing.md" in capsys.readouterr().err
    assert main(["remove", "--company", "acmee", "docs/faq.md"]) == 2  # mistyped company
    capsys.readouterr()
    assert main(["remove", "--company", "acme", str(docs / "faq.md")]) == 0
    assert "removed 1 chunks from 1 document(s)" in capsys.readouterr().out


def test_paths_urls_and_sitemaps_in_any_order(
    docs: Path,
    site: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    base, root = site
    (root / "a.html").write_text("<html><body><main><h1>A</h1><p>Alpha page.</p></main></body>")
    (root / "b.html").write_text("<html><body><main><h1>B</h1><p>Beta page.</p></main></body>")
    (root / "sitemap.xml").write_text(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/a.html</loc></url></urlset>"
    )
    argv = ["ingest", "--company", "acme", "--sitemap", f"{base}/sitemap.xml", f"{base}/b.html",
            str(docs), "--allow-private-hosts"]  # fmt: skip
    assert main(argv) == 0
    assert "4 added" in capsys.readouterr().out


def test_loopback_refusal_names_the_flag(
    site: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    base, root = site
    (root / "a.html").write_text("<html><body><p>Alpha page.</p></body></html>")
    assert main(["ingest", "--company", "acme", f"{base}/a.html"]) == 1
    assert "--allow-private-hosts" in capsys.readouterr().err


def test_binary_and_oversized_documents_are_refused_one_line_each(
    docs: Path,
    capsys: pytest.CaptureFixture[str],
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    (docs / "random.md").write_bytes(bytes(range(256)) * 40)
    (docs / "mostly-invalid.md").write_bytes(b"# x\n" + bytes(range(128, 256)) * 30)
    (docs / "huge.txt").write_text("A sentence about logs. " * 60_000)  # ~1.4 MB
    assert main(["ingest", "--company", "acme", str(docs), "--max-text-mb", "1"]) == 1
    captured = capsys.readouterr()
    failed = sorted(line for line in captured.err.splitlines() if line.startswith("failed:"))
    assert len(failed) == 3
    assert "binary content" in failed[1] and "binary content" in failed[2]
    assert "huge.txt" in failed[0] and "over the 1 MB limit" in failed[0]
    assert "--max-text-mb" in failed[0]
    assert "2 added, 3 failed" in captured.out  # the good documents are stored


def test_summary_lists_changes_and_counts_unchanged(
    docs: Path,
    capsys: pytest.CaptureFixture[str],
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    assert main(["ingest", "--company", "acme", str(docs)]) == 0
    capsys.readouterr()
    (docs / "faq.md").write_text("# FAQ\n\n## Trial\nThe free trial lasts 30 days.\n")
    assert main(["ingest", "--company", "acme", str(docs)]) == 0
    out = capsys.readouterr().out
    assert "docs/faq.md" in out and "docs/pricing.md" not in out
    assert "1 changed, 1 unchanged" in out


def test_progress_totals_come_from_the_plan(docs: Path, kb) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[str, int, int]] = []
    report = kb.ingest("acme", [docs], progress=lambda *call: calls.append(call))
    assert ("document", 0, 2) in calls
    totals = {total for phase, _, total in calls if phase == "embed"}
    assert totals == {report.chunks_embedded}
    assert sum(n for phase, n, _ in calls if phase == "embed") == report.chunks_embedded


def test_source_and_base_url_show_in_the_listing(
    docs: Path,
    capsys: pytest.CaptureFixture[str],
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    argv = ["ingest", "--company", "acme", str(docs), "--source", "help-center",
            "--base-url", "https://docs.example.com/"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["list", "--company", "acme"]) == 0
    out = capsys.readouterr().out
    assert "help-center" in out and "https://docs.example.com/faq" in out
    assert main(["remove", "--company", "acme", "--source", "help-center"]) == 0
    assert "from 2 document(s)" in capsys.readouterr().out


def test_no_debug_lines_without_verbose(docs: Path, tmp_path: Path) -> None:
    """In a real process (pytest's own log capture would hide the problem)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "WIDGET_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "knowledge.cli", "ingest", "--company", "acme", str(docs)],
        capture_output=True, text=True, env=env, timeout=240, check=False,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "DEBUG" not in done.stderr and "INFO" not in done.stderr


def test_cli_settings_agree_with_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI reads the server's WIDGET_* variables without importing the web app."""
    from knowledge.settings import KnowledgeSettings
    from widget_api.settings import Settings

    monkeypatch.setenv("WIDGET_CHROMA_PORT", "8123")
    cli, server = KnowledgeSettings(), Settings()
    for name in KnowledgeSettings.model_fields:
        assert getattr(cli, name) == getattr(server, name), name
    assert cli.effective_chroma_path == server.effective_chroma_path
    assert "acme" in cli.configured_companies()
