"""What a local stack's start refuses on purpose."""

from __future__ import annotations


class StackError(RuntimeError):
    """The local stack cannot start; the message says what to do."""
