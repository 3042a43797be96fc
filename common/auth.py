"""Bearer tokens: the collector's HTTP API tokens and its agent tokens.

Agent tokens come in two kinds:
- **bound** tokens, listed in the collector's config as sha256 digests
  (`agents: [{name, region, token_sha256}]`): a stream holding one may report
  only as that agent name and region;
- **shared** tokens from `VANTAGE_AGENT_TOKENS` or `--agent-tokens-file`, for
  local runs: any name and region, the token itself being the trust domain.

`AgentTokens.identify` turns a presented token into an `Identity`, whose
`key` is what the collector keeps dedup marks under: the bound agent's name,
or the shared token's digest with the claimed name and region. Never a claimed
string alone, so one token cannot move another token's marks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


def bearer_ok(header: str | bytes | None, tokens: Iterable[str]) -> bool:
    """Whether `Authorization: Bearer <token>` names one of `tokens`."""
    presented = bearer_token(header)
    if presented is None:
        return False
    # Compare against every token, so timing does not tell which one matched
    # or how many there are.
    matches = [hmac.compare_digest(presented.encode(), token.encode()) for token in tokens]
    return any(matches)


def bearer_token(header: str | bytes | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, None if absent."""
    if not isinstance(header, str) or not header.startswith("Bearer "):
        return None
    return header.removeprefix("Bearer ") or None


def token_sha256(token: str) -> str:
    """The lowercase hex sha256 of a token, as the config stores it."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random agent token (256 bits, URL-safe)."""
    return "vtk_" + secrets.token_urlsafe(32)


def read_token_file(path: Path) -> tuple[str, ...]:
    """Tokens from a file, one per line (`#` comments and blanks skipped).

    Raises OSError (unreadable) or ValueError naming the file."""
    text = path.read_text(encoding="utf-8")
    tokens = tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    if not tokens:
        raise ValueError(f"{path}: holds no token")
    return tokens


@dataclass(frozen=True)
class Binding:
    """What a bound token allows: one agent name in one region."""

    name: str
    region: str
    token_sha256: str


@dataclass(frozen=True)
class Identity:
    """Who an authenticated stream is. `binding` is None for a shared token."""

    token_sha256: str
    binding: Binding | None

    def refusal(self, agent_id: str, region: str) -> str | None:
        """Why this identity may not report as (`agent_id`, `region`), or None."""
        b = self.binding
        if b is None or (b.name, b.region) == (agent_id, region):
            return None
        return (
            f"this token is bound to agent {b.name!r} in region {b.region!r}; "
            f"the stream claimed agent {agent_id!r} in region {region!r}"
        )

    def key(self, agent_id: str, region: str) -> str:
        """Where this stream's dedup marks live (see the module docstring)."""
        if self.binding is not None:
            return f"agent:{self.binding.name}"
        return f"shared:{self.token_sha256[:16]}:{agent_id}:{region}"


class AgentTokens:
    """The agent tokens in force: bound digests and shared tokens."""

    def __init__(
        self, bindings: Iterable[Binding] = (), shared: Iterable[str] = (), hashed: bool = False
    ) -> None:
        """`shared` holds tokens, or their digests when `hashed`."""
        self.bindings = {b.token_sha256: b for b in bindings}
        self.shared = frozenset(shared if hashed else (token_sha256(t) for t in shared))

    def __bool__(self) -> bool:
        return bool(self.bindings or self.shared)

    def identify(self, header: str | bytes | None) -> Identity | None:
        """The identity of an `authorization` metadata value, None if unknown.

        Tokens are looked up by digest: a dict lookup on a sha256 does not
        leak the token by timing, as comparing the tokens themselves would."""
        token = bearer_token(header)
        if token is None:
            return None
        digest = token_sha256(token)
        binding = self.bindings.get(digest)
        if binding is not None:
            return Identity(digest, binding)
        return Identity(digest, None) if digest in self.shared else None

    def allows(self, identity: Identity) -> bool:
        """Whether `identity` is still valid under these tokens (after a reload)."""
        if identity.binding is not None:
            return self.bindings.get(identity.token_sha256) == identity.binding
        return identity.token_sha256 in self.shared
