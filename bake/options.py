"""The one option parser of the build system's command line, which the nox sessions call with
their arguments as they are: argparse, with both `--opt=value` and `--opt value`, options and
positional arguments in any order, no abbreviations, and every mistake one line that names the
word and lists the valid options. The project's tools (devtools/) parse with it too.
Standard library only."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any, NoReturn

from bake.errors import UsageError

SEPARATOR = "--"
# Set by noxfile.py for the one command a session runs: what the user typed, for the first words
# of an error line. The parser takes it out of the environment, so that what that command runs in
# turn (pytest, act and the workflows' own nox sessions) does not inherit a name not its own.
INVOKED_AS = "BAKE_INVOKED_AS"


class OptionParser(argparse.ArgumentParser):
    """An argparse parser whose errors are a `UsageError` of one line, not a usage and exit 2."""

    def __init__(self, prog: str, description: str | None = None, pass_through: str | None = None) -> None:
        super().__init__(prog=os.environ.pop(INVOKED_AS, None) or prog, description=description, allow_abbrev=False)
        self.pass_through = pass_through  # the tool that gets every word after a literal `--`

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")

    def option_names(self) -> list[str]:
        return [
            action.option_strings[-1] for action in self._actions if action.option_strings and action.dest != "help"
        ]

    def parse(self, words: Sequence[str]) -> argparse.Namespace:
        """`words` parsed; with a pass-through tool, whatever follows a literal `--` is left for
        it, unchecked, in `passed_on` (as are options of that tool this parser knows)."""
        own, rest = list(words), []
        if self.pass_through and SEPARATOR in own:
            at = own.index(SEPARATOR)
            own, rest = own[:at], own[at + 1 :]
        namespace = argparse.Namespace(passed_on=[])
        parsed, unknown = self.parse_known_intermixed_args(own, namespace)
        if unknown:
            self._refuse(unknown[0])
        parsed.passed_on += rest
        return parsed

    def _refuse(self, word: str) -> NoReturn:
        if not word.startswith("-"):
            self.error(f"takes no further positional argument, got {word!r}")
        extra = f"; any {self.pass_through} option after a literal {SEPARATOR}" if self.pass_through else ""
        self.error(f"unknown option {word.partition('=')[0]!r} (options: {', '.join(self.option_names())}{extra})")


class PassOn(argparse.Action):
    """An option of the pass-through tool this parser also accepts before any `--`: its words
    go on to the tool as written (`-k EXPR`, `-x`)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
    ) -> None:
        given = values if isinstance(values, list) else [] if values is None else [values]
        namespace.passed_on = [*getattr(namespace, "passed_on", []), str(option), *map(str, given)]


def pass_on_flag(parser: OptionParser, *names: str) -> None:
    parser.add_argument(*names, action=PassOn, nargs=0, help=argparse.SUPPRESS)


def pass_on_value(parser: OptionParser, *names: str) -> None:
    parser.add_argument(*names, action=PassOn, metavar="VALUE", help=argparse.SUPPRESS)
