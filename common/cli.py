"""The command-line parser every Vantage program uses: defaults shown in
--help, `--version`, and a bad flag ends in one line naming the problem
rather than a usage dump or a traceback."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from common import __version__


class Parser(argparse.ArgumentParser):
    """argparse with the Vantage conventions; `prog` names the program.

    Sub-commands made by `add_subparsers().add_parser` are Parsers too.
    """

    def __init__(
        self, prog: str, description: str | None = None, epilog: str | None = None, **kw: Any
    ) -> None:
        kw.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(prog=prog, description=description, epilog=epilog, **kw)
        if " " not in prog:  # the program itself, not one of its sub-commands
            self.add_argument("--version", action="version", version=f"{prog} {__version__}")

    def error(self, message: str) -> NoReturn:
        """Exit 2 with `prog: error: message` on one line, pointing at --help."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
