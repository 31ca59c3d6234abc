"""Company configs: the bundled demo loads, invalid files stop start-up naming file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from widget_api.companies import CompanyConfigError, CompanyRegistry
from widget_api.errors import ApiError
from widget_api.settings import BUNDLED_COMPANIES_DIR

VALID = """
display_name = "Globex"
summary = "Globex sells widgets."
persona = "You are Sam from Globex."
greeting = "Hi, Sam here."
[meetings]
provider = "cal.com"
base_url = "https://cal.com/globex"
durations = [15, 30]
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_bundled_demo_company_loads_with_clips_docs_and_origins() -> None:
    registry = CompanyRegistry.load(BUNDLED_COMPANIES_DIR, env={})
    acme = registry.get("acme")
    assert acme.display_name == "Acme Relay"
    assert acme.model == "gpt-realtime-2" and acme.voice == "marin"
    assert len(acme.clips) >= 3
    assert acme.required_lead_fields[:2] == ["name", "email"]
    docs = registry.docs_dir("acme")
    assert docs is not None
    assert {p.stem for p in docs.glob("*.md")} >= {
        "features", "pricing", "security", "integrations", "faq",
    }  # fmt: skip


def test_unknown_company_is_api_error_404() -> None:
    registry = CompanyRegistry.load(BUNDLED_COMPANIES_DIR, env={})
    with pytest.raises(ApiError) as info:
        registry.get("nope")
    assert (info.value.code, info.value.status) == ("unknown_company", 404)


def test_yaml_and_toml_files_both_load(tmp_path: Path) -> None:
    _write(tmp_path, "globex.toml", VALID)
    _write(
        tmp_path,
        "initech.yaml",
        "display_name: Initech\nsummary: TPS reports.\npersona: You are Bob.\n"
        "greeting: Hello.\nmeetings: {provider: url, base_url: 'https://initech.example/book'}\n"
        "allowed_origins: ['HTTPS://WWW.Initech.example:443']\n",
    )
    registry = CompanyRegistry.load(tmp_path, env={})
    assert sorted(c.id for c in registry.all()) == ["globex", "initech"]
    # Configured origins are normalised (case, default port).
    assert registry.get("initech").allowed_origins == ["https://www.initech.example"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('voice = "robot"\n', "voice"),
        ('transport = "carrier-pigeon"\n', "transport"),
        ('allowed_origins = ["https://acme.com/path"]\n', "allowed_origins"),
        ('allowed_origins = ["ftp://acme.com"]\n', "allowed_origins"),
        ('allowed_origins = ["https://user@acme.com"]\n', "allowed_origins"),
        ('allowed_origins = ["https://*.com"]\n', "allowed_origins"),
        ('[theme]\nprimary_color = "blue"\n', "theme.primary_color"),
        ('[turn_detection]\ntype = "semantic_vad"\neagerness = "frantic"\n', "turn_detection"),
        ('language = "english"\n', "language"),
        ('colour = "red"\n', "colour"),
        ('required_lead_fields = ["shoe_size"]\n', "required_lead_fields"),
    ],
)
def test_invalid_field_names_file_and_field(tmp_path: Path, extra: str, field: str) -> None:
    # Top-level keys must precede the [meetings] table in TOML.
    path = _write(
        tmp_path, "globex.toml", extra + VALID if not extra.startswith("[") else VALID + extra
    )
    with pytest.raises(CompanyConfigError) as info:
        CompanyRegistry.load(tmp_path, env={})
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}: {field}")


def test_meeting_default_must_be_an_offered_duration(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "globex.toml", VALID.replace("[15, 30]", "[15, 30]\ndefault_duration = 45")
    )
    with pytest.raises(CompanyConfigError) as info:
        CompanyRegistry.load(tmp_path, env={})
    assert info.value.problems[0].startswith(f"{path}: meetings")


def test_missing_required_field_and_syntax_error_reported_together(tmp_path: Path) -> None:
    broken = _write(tmp_path, "broken.toml", "display_name = \n")
    missing = _write(tmp_path, "globex.toml", VALID.replace('greeting = "Hi, Sam here."\n', ""))
    with pytest.raises(CompanyConfigError) as info:
        CompanyRegistry.load(tmp_path, env={})
    problems = info.value.problems
    assert any(p.startswith(f"{broken}: cannot parse") for p in problems)
    assert any(p.startswith(f"{missing}: greeting") for p in problems)


def test_id_must_match_file_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "globex.toml", 'id = "initech"\n' + VALID)
    with pytest.raises(CompanyConfigError) as info:
        CompanyRegistry.load(tmp_path, env={})
    assert info.value.problems[0].startswith(f"{path}: id")


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CompanyConfigError):
        CompanyRegistry.load(tmp_path, env={})


def test_admin_token_from_env_or_generated_once(tmp_path: Path) -> None:
    companies = tmp_path / "companies"
    shutil.copytree(BUNDLED_COMPANIES_DIR, companies)
    env_token = "s3cret-token-" + "x" * 20
    from_env = CompanyRegistry.load(companies, env={"ACME_ADMIN_TOKEN": env_token})
    assert from_env.get("acme").admin_token.get_secret_value() == env_token  # type: ignore[union-attr]
    first = CompanyRegistry.load(companies, env={}, secrets_dir=tmp_path / "data")
    again = CompanyRegistry.load(companies, env={}, secrets_dir=tmp_path / "data")
    token = first.get("acme").admin_token
    assert token is not None and len(token.get_secret_value()) >= 32
    assert again.get("acme").admin_token == token
    # The secret never appears in the config's serialised form.
    assert "admin_token" not in first.get("acme").model_dump()
