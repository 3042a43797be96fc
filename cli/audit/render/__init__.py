"""Renderers: a `Report` in, one document out. They only present; every
judgement was made by the checks."""

from __future__ import annotations

from collections.abc import Callable

from cli.audit.model import Report
from cli.audit.render import html, jsonout, markdown, text

RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": text.render,
    "md": markdown.render,
    "html": html.render,
    "json": jsonout.render,
}
"""--format value -> renderer."""

__all__ = ["RENDERERS"]
