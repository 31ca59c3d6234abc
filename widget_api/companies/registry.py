"""Load every company file from one folder, once, and look companies up by id.

One file per company: `<companyId>.toml`, `.yaml` or `.yml`. Any invalid file stops start-up with
a `CompanyConfigError` naming the file, the field and the reason, because a half-configured
sales widget on a customer's site is worse than a server that refuses to start.
"""

from __future__ import annotations

import logging
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from widget_api.companies.models import CompanyConfig
from widget_api.errors import ApiError
from widget_api.files import create_secret_file

log = logging.getLogger(__name__)

CONFIG_SUFFIXES = (".toml", ".yaml", ".yml")
# An admin token opens every lead of a company; shorter ones are refused at start-up.
MIN_ADMIN_TOKEN_CHARS = 32


class CompanyConfigError(Exception):
    """A company file is missing, unreadable or invalid; `problems` lists file: field: reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid company configuration:\n  " + "\n  ".join(problems))


def _read(path: Path) -> dict[str, Any]:
    try:
        if path.suffix == ".toml":
            with path.open("rb") as fh:
                data: Any = tomllib.load(fh)
        else:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CompanyConfigError([f"{path}: cannot parse: {reason}"]) from None
    if not isinstance(data, dict):
        raise CompanyConfigError([f"{path}: the file must hold a table/mapping of settings"])
    return data


def _describe(path: Path, exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        problems.append(f"{path}: {field}: {err['msg']}")
    return problems


def load_company_file(path: Path) -> CompanyConfig:
    """Parse and validate one company file; the id defaults to (and must equal) the file stem."""
    data = _read(path)
    data.setdefault("id", path.stem)
    if data["id"] != path.stem:
        raise CompanyConfigError([f"{path}: id: must equal the file name ({path.stem!r})"])
    data.pop("admin_token", None)  # secrets come from the environment, never the file
    try:
        return CompanyConfig.model_validate(data)
    except ValidationError as exc:
        raise CompanyConfigError(_describe(path, exc)) from None


def _admin_token(
    company: CompanyConfig, env: Mapping[str, str], secrets_dir: Path | None
) -> SecretStr | None:
    """The company's admin token: from its env var, else generated once into `secrets_dir`.

    Raises CompanyConfigError for a token shorter than MIN_ADMIN_TOKEN_CHARS (the length only,
    never the token, is named).
    """
    if company.admin_token_env and env.get(company.admin_token_env):
        token, where = env[company.admin_token_env].strip(), f"${company.admin_token_env}"
    elif secrets_dir is None:
        return None
    else:
        token_file = admin_token_path(secrets_dir, company.id)
        create_secret_file(token_file, secrets.token_urlsafe(32))
        token, where = token_file.read_text().strip(), str(token_file)
    if len(token) < MIN_ADMIN_TOKEN_CHARS:
        raise CompanyConfigError([
            f"{company.id}: admin token in {where} has {len(token)} characters; at least "
            f"{MIN_ADMIN_TOKEN_CHARS} are required (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`)"
        ])  # fmt: skip
    return SecretStr(token)


def admin_token_path(secrets_dir: Path, company_id: str) -> Path:
    """Where a generated admin token is kept when the company names no env var (or it is unset)."""
    return secrets_dir / "admin_tokens" / company_id


class CompanyRegistry:
    """All configured companies, validated up front; lookups never touch the disk."""

    def __init__(self, companies: list[CompanyConfig], folder: Path | None = None) -> None:
        self._companies = {c.id: c for c in companies}
        self.folder = folder

    @classmethod
    def load(
        cls,
        folder: Path,
        *,
        env: Mapping[str, str] | None = None,
        secrets_dir: Path | None = None,
    ) -> CompanyRegistry:
        """Load every company file in `folder`; all problems are reported together."""
        folder = Path(folder)
        if not folder.is_dir():
            raise CompanyConfigError([f"{folder}: the companies folder does not exist"])
        files = sorted(p for p in folder.iterdir() if p.suffix in CONFIG_SUFFIXES and p.is_file())
        if not files:
            raise CompanyConfigError([f"{folder}: no company files (*.toml, *.yaml) found"])
        problems: list[str] = []
        companies: list[CompanyConfig] = []
        seen: dict[str, Path] = {}
        for path in files:
            try:
                company = load_company_file(path)
            except CompanyConfigError as exc:
                problems.extend(exc.problems)
                continue
            if company.id in seen:
                problems.append(f"{path}: id: {company.id!r} is also defined in {seen[company.id]}")
                continue
            seen[company.id] = path
            try:
                token = _admin_token(company, env or {}, secrets_dir)
            except CompanyConfigError as exc:
                problems.extend(exc.problems)
                continue
            companies.append(company.model_copy(update={"admin_token": token}))
        if problems:
            raise CompanyConfigError(problems)
        log.info("loaded %d company config(s) from %s", len(companies), folder)
        return cls(companies, folder)

    def get(self, company_id: str) -> CompanyConfig:
        """The company with this id; `unknown_company` (404) otherwise."""
        company = self._companies.get(company_id)
        if company is None:
            raise ApiError("unknown_company")
        return company

    def all(self) -> list[CompanyConfig]:
        return list(self._companies.values())

    def docs_dir(self, company_id: str) -> Path | None:
        """A company's docs folder beside its file (`<folder>/<id>/docs`), ingested on start."""
        if self.folder is None:
            return None
        path = self.folder / company_id / "docs"
        return path if path.is_dir() else None
