"""Company configuration: one validated file per company, looked up by id."""

from widget_api.companies.models import (
    CompanyConfig,
    DemoClip,
    MeetingConfig,
    SemanticVad,
    ServerVad,
    Theme,
)
from widget_api.companies.registry import (
    CompanyConfigError,
    CompanyRegistry,
    admin_token_path,
    load_company_file,
)

__all__ = [
    "CompanyConfig",
    "CompanyConfigError",
    "CompanyRegistry",
    "DemoClip",
    "MeetingConfig",
    "SemanticVad",
    "ServerVad",
    "Theme",
    "admin_token_path",
    "load_company_file",
]
