"""The `knowledge` CLI's view of the server settings: the same `WIDGET_*` variables and `.env`.

The CLI must start fast and `knowledge/` stays independent of the web app, so it reads only
the storage keys it needs instead of importing `widget_api.settings` (which would import the
Flask app through the package). Names, variables and defaults are those of
`widget_api.settings.Settings`; tests/knowledge/test_cli.py checks that they agree.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge.embedding import DEFAULT_BACKEND, Backend


def bundled_companies_dir() -> Path:
    """`widget_api/demo_companies`, found without importing the web app."""
    spec = importlib.util.find_spec("widget_api")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) / "demo_companies" if locations else Path("demo_companies")


class KnowledgeSettings(BaseSettings):
    """Where the knowledge base lives and which companies exist."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_prefix="WIDGET_"
    )

    data_dir: Path = Path("data")
    companies_dir: Path = Field(default_factory=bundled_companies_dir)
    chroma_path: Path | None = None
    chroma_host: str | None = None
    chroma_port: int = 8000
    embedding_model_path: Path | None = None
    embedding_backend: Backend = DEFAULT_BACKEND
    model_cache_dir: Path | None = None

    @property
    def effective_chroma_path(self) -> Path:
        return (self.chroma_path or self.data_dir / "chroma").resolve()

    def configured_companies(self) -> set[str]:
        """Company ids with a config file (and the knowledge collections they name)."""
        import tomllib

        import yaml

        found: set[str] = set()
        folder = Path(self.companies_dir)
        if not folder.is_dir():
            return found
        for path in folder.iterdir():
            if path.suffix not in (".toml", ".yaml", ".yml") or not path.is_file():
                continue
            try:
                if path.suffix == ".toml":
                    data = tomllib.loads(path.read_text(encoding="utf-8"))
                else:
                    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (OSError, ValueError, yaml.YAMLError):
                data = {}
            found.add(str(data.get("id") or path.stem))
            if data.get("knowledge_collection"):
                found.add(str(data["knowledge_collection"]))
        return found
