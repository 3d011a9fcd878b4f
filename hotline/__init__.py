"""Hotline's composition root: configuration, the ``hotline`` command, start-up and shutdown,
and the PostgreSQL store."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hotline")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
