"""The four sales tools the Realtime model (or the text engine) may call, and their registry.

Import `ToolRunner`, `ToolContext` and `Outcome` from `widget_api.tools.registry`.
"""
