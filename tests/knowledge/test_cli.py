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
