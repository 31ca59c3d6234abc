"""The four sales tools the Realtime model (or the text engine) may call, and their registry.

Import `ToolRunner`, `ToolContext` and `ToolOutcome` from `widget_api.tools.registry`.
"""
