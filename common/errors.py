"""Errors on the control path.

    Exception
    ├── ConfigError (common.config.base)   a config file or check is invalid
    ├── TransientError                      retry with backoff (UNAVAILABLE, reset stream)
    └── FatalError                          stop and say why (UNAUTHENTICATED, PERMISSION_DENIED)

Probe failures are never exceptions: they are data inside a Result.
"""

from __future__ import annotations


class TransientError(Exception):
    """Worth retrying: the collector is restarting, the network blipped."""


class FatalError(Exception):
    """Retrying cannot help: the token is wrong, the agent is not allowed."""
