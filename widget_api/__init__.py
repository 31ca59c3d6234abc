"""Flask backend of the AI sales widget: session route, tool endpoint, relay, CRM."""

from widget_api.app import create_app

__all__ = ["create_app"]
