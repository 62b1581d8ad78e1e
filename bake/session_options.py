"""The options of each nox session, in one table, and the parser of `nox -s SESSION -- ARGS`.

An option that takes a value is written `--opt=value` or `--opt value` (a short one, such as
pytest's `-k`, as `-k value` or `-kvalue`). A word that is neither an option nor an option's
value is a positional argument: a tag, for most sessions. An unknown option is an error of
one line that names it. Standard library only: noxfile.py imports it before any install.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

SEPARATOR = "--"


class OptionError(ValueError):
    """The arguments of a session are not what it takes."""


@dataclass(frozen=True)
class Option:
    names: tuple[str, ...]  # every spelling, e.g. ("-x", "--exitfirst")
    takes_value: bool = False
    env: str | None = None  # the value goes into this environment variable, not onto the command line

    @property
    def name(self) -> str:
        return self.names[-1]


@dataclass(frozen=True)
class SessionOptions:
    options: tuple[Option, ...]
    positional: str | None = "TAG"  # what a positional argument is; None: the session takes none
    max_positionals: int | None = None
    min_positionals: int = 0
    pass_through: str | None = None  # the tool that gets every word after a literal `--`, unchecked

    def find(self, name: str) -> Option | None:
        return next((option for option in self.options if name in option.names), None)


@dataclass
class SessionArgs:
    positionals: list[str] = field(default_factory=list)
    tool_args: list[str] = field(default_factory=list)  # options for the session's tool, as `--opt=value`
    env: dict[str, str] = field(default_factory=dict)  # settings given as options
    given: set[str] = field(default_factory=set)  # the options given, by their main name


# The README's build settings: each sets its environment variable for every step of the run.
BASE = Option(("--base",), takes_value=True, env="BASE")
DATE = Option(("--date",), takes_value=True, env="DATE")
IMAGE_NAME = Option(("--image-name",), takes_value=True, env="IMAGE_NAME")
BUILD_SETTINGS = (BASE, DATE, IMAGE_NAME)
PLATFORM = Option(("--platform",), takes_value=True)
TO = Option(("--to",), takes_value=True)
DIGESTS = Option(("--digests",), takes_value=True)


# Options of tests/image/conftest.py (--tag and --native-only are set by the session itself).
IMAGE_TEST_OPTIONS = (
    PLATFORM,
    Option(("--all-platforms",)),
    Option(("--native-only",)),
)
# The pytest options `nox -s test` accepts before any `--`; after a `--` pytest gets every word.
PYTEST_OPTIONS = (
    Option(("-k",), takes_value=True),
    Option(("-m",), takes_value=True),
    Option(("-x", "--exitfirst")),
    Option(("--maxfail",), takes_value=True),
    Option(("-v", "--verbose")),
    Option(("-q", "--quiet")),
    Option(("-s",)),
    Option(("-r",), takes_value=True),
    Option(("--tb",), takes_value=True),
    Option(("--lf", "--last-failed")),
    Option(("--ff", "--failed-first")),
    Option(("--co", "--collect-only")),
    Option(("--durations",), takes_value=True),
    Option(("--pdb",)),
)

SESSIONS: dict[str, SessionOptions] = {
    "generate": SessionOptions((Option(("--check",)), DATE), positional=None),
    "plan": SessionOptions(BUILD_SETTINGS),
    "build": SessionOptions((*BUILD_SETTINGS, PLATFORM)),
    "test": SessionOptions((*BUILD_SETTINGS, *IMAGE_TEST_OPTIONS, *PYTEST_OPTIONS), pass_through="pytest"),
    "publish": SessionOptions((*BUILD_SETTINGS, TO, Option(("--dry-run",)))),
    # The native-runner pattern: each runner stages its platform, then one merge writes the tags.
    "stage": SessionOptions((*BUILD_SETTINGS, PLATFORM, TO, DIGESTS)),
    "merge": SessionOptions((DATE, TO, DIGESTS)),
    "workflows": SessionOptions((DATE, Option(("--only",), takes_value=True)), max_positionals=1, min_positionals=1),
    "bench": SessionOptions(
        (*BUILD_SETTINGS, Option(("--short",)), Option(("--output",), takes_value=True)), max_positionals=1
    ),
    "describe": SessionOptions(
        (Option(("--api",), takes_value=True),), "REPOSITORY", max_positionals=1, min_positionals=1
    ),
}


def _is_short(name: str) -> bool:
    return len(name) == 2 and name[0] == "-" and name[1] != "-"


class _Parser:
    def __init__(self, session: str, spec: SessionOptions) -> None:
        self.session = session
        self.spec = spec
        self.parsed = SessionArgs()

    def error(self, message: str) -> OptionError:
        return OptionError(f"nox -s {self.session}: {message}")

    def _split(self, word: str) -> tuple[Option, str, str | None]:
        """The option a word names, the spelling used and the value attached to it, if any."""
        name, equals, value = word.partition("=")
        option = self.spec.find(name) if word.startswith("--") else None
        if option is None and _is_short(word[:2]):
            option = self.spec.find(word[:2])
            if option is not None and len(word) > 2:
                name, equals, value = word[:2], "=", word[2:]
        if option is None:
            known = ", ".join(known_option.name for known_option in self.spec.options) or "none"
            rest = (
                f"; any {self.spec.pass_through} option after a literal {SEPARATOR}" if self.spec.pass_through else ""
            )
            raise self.error(f"unknown option {name!r} (options: {known}{rest})")
        return option, name, value if equals else None

    def _add(self, option: Option, spelling: str, value: str | None) -> None:
        self.parsed.given.add(option.name)
        if option.env and value is not None:
            self.parsed.env[option.env] = value
        elif value is None:
            self.parsed.tool_args.append(spelling)
        elif spelling.startswith("--"):
            self.parsed.tool_args.append(f"{spelling}={value}")
        else:
            self.parsed.tool_args += [spelling, value]

    def parse(self, words: Sequence[str]) -> SessionArgs:
        remaining = list(words)
        while remaining:
            word = remaining.pop(0)
            if word == SEPARATOR and self.spec.pass_through:
                self.parsed.tool_args += remaining
                break
            if not word.startswith("-"):
                self.parsed.positionals.append(word)
                continue
            option, spelling, value = self._split(word)
            if not option.takes_value and value is not None:
                raise self.error(f"{spelling} takes no value, got {word!r}")
            if option.takes_value and value is None and remaining and not remaining[0].startswith("-"):
                value = remaining.pop(0)
            if option.takes_value and not value:
                raise self.error(f"{spelling} needs a value: {spelling}=VALUE or {spelling} VALUE")
            self._add(option, spelling, value)
        self._check_positionals()
        return self.parsed

    def _check_positionals(self) -> None:
        count, spec = len(self.parsed.positionals), self.spec
        if spec.positional is None and count:
            raise self.error(f"takes no positional argument, got {' '.join(self.parsed.positionals)!r}")
        if spec.max_positionals is not None and count > spec.max_positionals:
            raise self.error(f"takes at most {spec.max_positionals} {spec.positional}, got {count}")
        if count < spec.min_positionals:
            raise self.error(f"needs a {spec.positional}")


def parse_session_args(session: str, words: Sequence[str]) -> SessionArgs:
    """`words` (nox's posargs) sorted into positionals, the tool's options and settings."""
    spec = SESSIONS.get(session)
    if spec is None:
        raise OptionError(f"nox -s {session}: no table of options")
    return _Parser(session, spec).parse(words)
