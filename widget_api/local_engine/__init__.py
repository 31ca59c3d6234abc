"""The local text engine: the widget's fallback when the Realtime API is not available."""

from widget_api.local_engine.engine import LocalEngine

__all__ = ["LocalEngine"]
