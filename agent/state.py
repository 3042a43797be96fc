"""The agent's state directory: a lock so that two agents never share it,
one spool per collector, and the last config each collector sent.

    STATE_DIR/lock                      flock'ed while the agent runs
    STATE_DIR/spool/<collector>/*.seg   results not yet acked (agent.spool)
    STATE_DIR/config/<collector>.pb     the last Config, written atomically
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

import structlog
from google.protobuf.message import DecodeError

from vantage.v1 import vantage_pb2 as pb

log = structlog.get_logger("agent.state")


def slug(collector: str) -> str:
    """A file name for a collector address (`127.0.0.1:9790` -> `127.0.0.1_9790`)."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", collector)


class StateDir:
    """Paths and files under the agent's state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock_fd = -1

    def lock(self) -> None:
        """Take the directory for this process; ValueError if another agent has it."""
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ValueError(
                f"--state-dir {self.root} is in use by another agent: give each its own"
            ) from None
        self._lock_fd = fd

    def unlock(self) -> None:
        """Let the directory go (at exit the kernel does it anyway)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def spool_dir(self, collector: str) -> Path:
        """Where the results for `collector` are spooled."""
        return self.root / "spool" / slug(collector)

    def _config_path(self, collector: str) -> Path:
        return self.root / "config" / f"{slug(collector)}.pb"

    def save_config(self, collector: str, config: pb.Config) -> None:
        """Keep `config` so that a restart without the collector can probe on it."""
        path = self._config_path(collector)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            f.write(config.SerializeToString())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def saved_config(self, collector: str) -> pb.Config | None:
        """The config last saved for `collector`, or None."""
        path = self._config_path(collector)
        try:
            return pb.Config.FromString(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, DecodeError) as exc:
            log.warning("state.saved_config_unreadable", file=str(path), error=str(exc))
            return None
