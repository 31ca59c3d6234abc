"""Exceptions the knowledge package raises to its callers."""

from __future__ import annotations


class KnowledgeUnavailable(Exception):
    """The Chroma store cannot be reached (server down, folder unusable)."""


class LoadError(Exception):
    """A source could not be loaded; the message is one clear line for the marketer."""
