"""`legaltv` commands for the content domain."""

from __future__ import annotations


def register(sub, add_common) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
