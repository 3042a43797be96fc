"""Secrets in code, found with detect-secrets: a repository's working tree
and every commit of its history, plus committed .env files. A secret is
masked the moment it is read and registered for log redaction, so no output
of the audit can carry it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.core.scan import scan_diff, scan_file, scan_line
from detect_secrets.settings import Settings, default_settings, get_filters, transient_settings

from common.redaction import redact

_ENV_FILE = re.compile(r"(^|/)\.env(\.[A-Za-z0-9_-]+)?$")
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist", ".defaults")
_ENV_TESTS = (".test", ".testing", ".ci")
_TEST_DIRS = frozenset({"test", "tests", "testdata", "fixtures", "__fixtures__", "spec"})
_GIT_SECONDS = 120
BASELINE = ".secrets.baseline"
"""detect-secrets' file of reviewed findings: hashes, never secrets."""
_VERIFY_FILTER = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"


def mask(secret: str) -> str:
    """A secret shown safely: a short prefix for long values, then stars."""
    redact(secret)
    keep = 4 if len(secret) >= 16 else 0
    return secret[:keep] + "********"


def _shown(found: PotentialSecret) -> tuple[str, str]:
    return found.type, mask(found.secret_value or "")


WEB_PLUGINS = (
    "AWSKeyDetector", "AzureStorageKeyDetector", "DiscordBotTokenDetector", "GitHubTokenDetector",
    "GitLabTokenDetector", "MailchimpDetector", "NpmDetector", "OpenAIDetector",
    "PrivateKeyDetector", "PypiTokenDetector", "SendGridDetector", "SlackDetector",
    "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
)  # fmt: skip
"""Detectors for text served to browsers: those that match a key's own
format, plus the keyword detector under `_credential`'s stricter test.
Entropy detectors would flag every bundle."""
_STRONG_NAME = re.compile(r"secret|passw|pwd|priv|token|auth|credential", re.I)
PUBLIC_KEYS = ("AIza", "pk_", "pk.")
SECRET_NAME = re.compile(
    r"(secret|secretkey|password|passwd|pwd|privatekey|credentials?|accesskey|secretaccesskey"
    r"|apitoken|authtoken|accesstoken|refreshtoken|bearertoken)$"
)
"""The end of a name (lower case, separators dropped) that names a secret
itself: `DB_PASSWORD`, `clientSecret`, `aws.secretAccessKey`."""
"""Keys made to be public: Google browser keys, Stripe and Mapbox publishable."""


def _credential(found: PotentialSecret, line: str) -> bool:
    """Whether a keyword hit in browser code is a credential, not a label
    (a password field's caption) or a browser key (Google's `AIza...`)."""
    if found.type != "Secret Keyword":
        return True
    value = found.secret_value or ""
    has_both = any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
    public = value.startswith(PUBLIC_KEYS)
    return len(value) >= 8 and has_both and not public and _named_secret(line, value)


def _named_secret(line: str, value: str) -> bool:
    """Whether the name `value` is assigned to names a secret itself
    (`clientSecret`, `DB_PASSWORD`), not a thing about one (`passwordInputId`,
    `SECRET_HEADER`); without a name to read, whether the line has a strong one."""
    match = re.search(r"([A-Za-z_$][\w$.-]*)[\"']?\s*[:=]+\s*[\"'`]" + re.escape(value), line)
    if match is None:
        return bool(_STRONG_NAME.search(line))
    return bool(SECRET_NAME.search(re.sub(r"[^a-z0-9]", "", match.group(1).lower())))


def scan_text(text: str) -> list[tuple[str, str]]:
    """(kind, masked value) of each credential in text served to browsers (a
    public source map's sources, a config file)."""
    plugins = [{"name": name} for name in (*WEB_PLUGINS, "KeywordDetector")]
    with transient_settings({"plugins_used": plugins}) as settings:
        _offline(settings)
        return [
            _shown(s) for line in text.splitlines() for s in scan_line(line) if _credential(s, line)
        ]


def _offline(settings: Settings) -> None:
    """Never verify a candidate with its issuer: that would send the secret
    to a third party (and reach the network from a test)."""
    settings.disable_filters(_VERIFY_FILTER)
    get_filters.cache_clear()


@dataclass(frozen=True)
class Hit:
    """One secret in a repository."""

    kind: str
    file: str
    line: int
    commit: str
    masked: str
    hashed: str = ""
    """detect-secrets' SHA-1 of the value, as a baseline lists it."""

    @classmethod
    def of(cls, found: PotentialSecret, file: str, commit: str) -> Hit:
        """A hit from a detect-secrets finding, masked at once."""
        kind, masked = _shown(found)
        return cls(kind, file, found.line_number, commit, masked, found.secret_hash)

    @property
    def rule(self) -> str:
        """The finding id this hit is reported as."""
        if self.kind == ".env file":
            return "repo.env_file_committed"
        if self.kind == "Private Key":
            return "repo.private_key_committed"
        return "repo.secret_committed"

    def evidence(self) -> str:
        """`file:line @ commit: kind value`, the value masked."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} @ {self.commit}: {self.kind} {self.masked}".rstrip()


_ENTROPY_KINDS = frozenset({"Base64 High Entropy String", "Hex High Entropy String"})
_NAMES_A_SECRET = re.compile(r"secret|passw|pwd|priv|token|auth|credential|key", re.I)
_DIGESTS = ("sha1-", "sha256-", "sha384-", "sha512-")


def is_bare_entropy(secret: str, plugin: object, line: str) -> bool:
    """detect-secrets filter: a random-looking string on a line that names no
    secret (a pinned commit SHA, an SRI `integrity` digest, a checksum) is
    not a credential; keys with a format of their own are found by their
    format detectors whatever the line says."""
    if getattr(plugin, "secret_type", "") not in _ENTROPY_KINDS:
        return False
    return secret.startswith(_DIGESTS) or not _NAMES_A_SECRET.search(line)


def scan_repo(root: Path) -> list[Hit]:
    """Every secret in the working tree and in the history of `root`; a
    secret seen in both is reported once, at the commit that added it."""
    with default_settings() as settings:
        settings.filters[f"{__name__}.is_bare_entropy"] = {}
        _offline(settings)
        tree = list(_tree(root))
        # Files of old commits are not on disk; the filter that drops
        # missing files would drop every line of history.
        settings.disable_filters("detect_secrets.filters.common.is_invalid_file")
        get_filters.cache_clear()
        history = list(_history(root)) if (root / ".git").exists() else []
    seen = {(h.file, h.kind, h.hashed) for h in history}
    hits = history + [h for h in tree if (h.file, h.kind, h.hashed) not in seen]
    reviewed = _reviewed(root)
    return [h for h in hits if h.file != BASELINE and (h.file, h.hashed) not in reviewed]


def _reviewed(root: Path) -> set[tuple[str, str]]:
    """(file, hash) of the values the repository's own detect-secrets baseline
    lists and nobody marked a real secret: reviewed, so not reported."""
    try:
        results = json.loads((root / BASELINE).read_text())["results"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    values = {
        (name, str(item.get("hashed_secret")))
        for name, items in results.items()
        for item in items
        if item.get("is_secret") is not True
    }
    # A .env file the baseline reviewed (every value in it) is allowed as a
    # file too: its hit carries no value hash.
    files = {
        (name, "")
        for name, items in results.items()
        if items and all(item.get("is_secret") is not True for item in items)
    }
    return values | files


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args],  # noqa: S607  # git from PATH, like a user's shell
        capture_output=True,
        text=True,
        errors="replace",
        timeout=_GIT_SECONDS,
        check=True,
    )
    return done.stdout


def _history(root: Path) -> Iterator[Hit]:
    log = _git(
        root, "log", "--all", "-p", "--unified=0", "--no-color", "--no-ext-diff", "--format=%x00%H"
    )
    for chunk in log.split("\x00")[1:]:
        commit, _, diff = chunk.partition("\n")
        short = commit[:12]
        for path in re.findall(r"^\+\+\+ b/(.+)$", diff, re.M):
            if _is_env(path):
                yield Hit(".env file", path, 0, short, "")
        if diff.strip():
            yield from (Hit.of(found, found.filename, short) for found in scan_diff(diff))


def _tree(root: Path) -> Iterator[Hit]:
    for path in _tree_files(root):
        relative = str(path.relative_to(root))
        if _is_env(relative):
            yield Hit(".env file", relative, 0, "working tree", "")
        yield from (Hit.of(found, relative, "working tree") for found in scan_file(str(path)))


def _tree_files(root: Path) -> Iterator[Path]:
    if (root / ".git").exists():
        # Committed lines are scanned in the history, where the commit that
        # added them is known: here only what is not committed yet.
        listed = _git(root, "ls-files", "-mo", "--exclude-standard", "-z").split("\0")
        yield from (root / p for p in listed if p and (root / p).is_file())
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", "node_modules", ".venv")]
        yield from (Path(folder) / f for f in files)


def _is_env(path: str) -> bool:
    """A committed environment file; templates (`.env.example`) and test
    settings (`.env.test`, any under a tests/ or fixtures/ folder) are not,
    though the values in them are still scanned like any file's."""
    if not _ENV_FILE.search(path) or path.endswith(_ENV_TEMPLATES + _ENV_TESTS):
        return False
    return not _TEST_DIRS.intersection(path.lower().split("/")[:-1])
