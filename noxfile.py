"""Tasks of the project: `nox -s build`, `nox -s test -- TAG`, `nox -s unit`, ...

The image matrix lives in images/matrix.toml; the Python in bake/ does the work and
these sessions only give it an environment with the pinned tools.
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import date
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bake's stdlib-only modules, for tag checks

from bake.matrix import Matrix, MatrixError, load_matrix
from bake.selection import SelectionError, select_current, with_base_names
from bake.session_options import SESSIONS, OptionError, SessionArgs, parse_session_args
from bake.settings import SettingsError, settings_from_environment
from bake.signing import SigningError, signer_from_environment

nox.options.sessions = ["lint", "unit"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _install(session: nox.Session, group: str) -> None:
    session.install(*nox.project.dependency_groups(PYPROJECT, group))


def _run_date(session: nox.Session, args: SessionArgs) -> date:
    """One date per run, for every target and every step, even across midnight: --date, else
    DATE, else today (UTC). The other settings are checked here too, before anything runs."""
    try:
        settings = settings_from_environment().overridden(
            args.env.get("IMAGE_NAME"), args.env.get("DATE"), args.env.get("BASE")
        )
    except SettingsError as error:
        session.error(str(error))
    return settings.build_date


def _matrix(session: nox.Session, run_date: date) -> Matrix:
    try:
        return load_matrix(run_date)
    except MatrixError as error:
        session.error(str(error))


def _session_args(session: nox.Session) -> tuple[SessionArgs, date]:
    """The session's arguments, sorted by its table in bake/session_options.py; settings given
    as options (and the run's one date) go into the environment of every command it runs.
    Named tags are checked against the matrix of the run's date before anything is installed.
    Returns the arguments and that date."""
    try:
        args = parse_session_args(session.name, session.posargs)
    except OptionError as error:
        session.error(str(error))
    session.env.update(args.env)
    run_date = _run_date(session, args)
    session.env["DATE"] = run_date.isoformat()
    if SESSIONS[session.name].positional == "TAG":
        try:
            select_current(_matrix(session, run_date), args.positionals)
        except SelectionError as error:
            session.error(str(error))
    return args, run_date


@nox.session
def generate(session: nox.Session) -> None:
    """Write docker-bake.hcl and the README's tag sections from images/matrix.toml:
    nox -s generate [-- --check] [--date YYYY-MM-DD]"""
    args, _ = _session_args(session)
    _install(session, "build")
    session.run("python", "-m", "bake", "generate", *args.tool_args)


@nox.session
def plan(session: nox.Session) -> None:
    """Print every target with its base, platforms and tags, without building."""
    args, _ = _session_args(session)
    _install(session, "build")
    session.run("python", "-m", "bake", "plan", *args.positionals)


@nox.session
def build(session: nox.Session) -> None:
    """Build the named tags (default: all) for all their platforms and load them."""
    args, _ = _session_args(session)
    _install(session, "build")
    session.run("python", "-m", "bake", "build", *args.positionals, *args.tool_args)


@nox.session
def unit(session: nox.Session) -> None:
    """Unit tests of bake/; no Docker engine needed."""
    _install(session, "test")
    session.run("pytest", "tests/unit", *session.posargs)


def _tags_to_test(session: nox.Session, tags: list[str], matrix: Matrix) -> list[str]:
    """The named tags that are not retired, or else every tag buildable here."""
    if tags:
        return [image.name for image in select_current(matrix, tags).images]
    # Only the tag list on stdout; the build that follows says what there is to say about the matrix.
    listed = session.run("python", "-m", "bake", "select", "--buildable", "--quiet", silent=True, stderr=None)
    return str(listed).split()


def _build_and_test(
    session: nox.Session,
    matrix: Matrix,
    tags: list[str],
    options: list[str],
    given: set[str],
    platform: str | None = None,
) -> list[str]:
    """Builds the named tags (default: all buildable here) and tests them with pytest `options`;
    with `platform`, builds and tests that platform alone, every test. Returns the tags tested."""
    chosen = _tags_to_test(session, tags, matrix)
    # Named tags go to the build as they are, so that it says which of them are retired.
    only = [f"--platform={platform}"] if platform else []
    session.run("python", "-m", "bake", "build", *(tags or chosen), *only)
    emulated_too = {image.name for image in matrix.family if image.is_default and image.variant == "slim"}
    for tag in chosen:
        everywhere = tags or tag in emulated_too or "--all-platforms" in given
        scope = only or ([] if everywhere else ["--native-only"])
        session.run(
            "pytest",
            "tests/image",
            "-v",
            f"--tag={tag}",
            *scope,
            *options,
            env={"TESTCONTAINERS_RYUK_DISABLED": "true"},
        )
    return chosen


@nox.session
def test(session: nox.Session) -> None:
    """Build and check the named tags on all their platforms (an emulated one runs a
    representative subset; --all-platforms runs everything everywhere). With no tag: every
    tag buildable here on this machine's platform, plus the default slim tag emulated."""
    args, run_date = _session_args(session)
    _install(session, "test")
    _build_and_test(session, _matrix(session, run_date), args.positionals, args.tool_args, args.given)


@nox.session
def publish(session: nox.Session) -> None:
    """Build, test, then push exactly the tested images with their date tags, each index signed
    (COSIGN_KEY and COSIGN_PASSWORD: a cosign key pair; in GitHub Actions: keyless):
    nox -s publish -- --to=docker.io/acme/uvicorn-gunicorn [TAG ...] [--dry-run]"""
    args, run_date = _session_args(session)
    if "--to" not in args.given and not os.environ.get("PUBLISH_TO"):
        session.error("nox -s publish: needs --to=REPOSITORY (or PUBLISH_TO set)")
    if "--dry-run" not in args.given:
        try:  # before the build and the tests, not after them
            signer_from_environment()
        except SigningError as error:
            session.error(f"nox -s publish: {error}")
    _install(session, "test")
    # A flavor is published only with its base, built and tested in the same run.
    tags = with_base_names(args.positionals)
    chosen = _build_and_test(session, _matrix(session, run_date), tags, [], set())
    if not chosen:
        session.log("nothing to publish")
        return
    session.run("python", "-m", "bake", "publish", "--quiet", *chosen, *args.tool_args)


def _value_of(args: SessionArgs, option: str) -> str | None:
    """The value given to `option` (`--opt=value` in the tool's arguments), if it was given."""
    return next((arg.split("=", 1)[1] for arg in args.tool_args if arg.startswith(f"{option}=")), None)


@nox.session
def stage(session: nox.Session) -> None:
    """On a runner of one platform: build the tags for it alone, run every image test on it,
    and push the tested images by digest to a staging repository, their digests to a file:
    nox -s stage -- --platform=linux/arm64 --to=REPOSITORY --digests=FILE [TAG ...]"""
    args, run_date = _session_args(session)
    platform = _value_of(args, "--platform")
    if platform is None or "--to" not in args.given or "--digests" not in args.given:
        session.error("nox -s stage: needs --platform=PLATFORM, --to=REPOSITORY and --digests=FILE")
    _install(session, "test")
    chosen = _build_and_test(session, _matrix(session, run_date), args.positionals, [], set(), platform)
    if not chosen:
        session.log("nothing to stage")
        return
    session.run("python", "-m", "bake", "stage", "--quiet", *chosen, *args.tool_args)


@nox.session
def merge(session: nox.Session) -> None:
    """After every platform was staged: one multi-platform index per tag, checked before any
    tag is written, date tags first (each index signed and verified), moving tags last:
    nox -s merge -- --to=REPOSITORY --digests=FILE --digests=FILE [TAG ...]"""
    args, _ = _session_args(session)
    if "--to" not in args.given or "--digests" not in args.given:
        session.error("nox -s merge: needs --to=REPOSITORY and a --digests=FILE per platform")
    _install(session, "build")
    session.run("python", "-m", "bake", "merge", "--quiet", *args.positionals, *args.tool_args)


# What act needs on the host besides the engine: the workflows run `sudo ./setup-host.sh`, and
# their JavaScript actions run on the host's node.
WORKFLOW_HOST_TOOLS = {"sudo": "sudo", "node": "nodejs"}


@nox.session
def workflows(session: nox.Session) -> None:
    """Run ci.yml and publish.yml (limited to TAG) here with act, publishing to a local registry
    and a local stand-in for the Docker Hub API: nox -s workflows -- TAG [--only ci|publish].
    The actions come from local clones at their pinned commits (ACTIONS_SOURCES, once)."""
    args, _ = _session_args(session)
    missing = [package for tool, package in WORKFLOW_HOST_TOOLS.items() if shutil.which(tool) is None]
    if missing:
        session.run("apt-get", "install", "-y", "-q", "--no-install-recommends", *missing, external=True)
    _install(session, "workflows")
    session.run("python", "-m", "bake.workflow_run", *args.positionals, *args.tool_args)


@nox.session
def describe(session: nox.Session) -> None:
    """Set a Docker Hub repository's description to the README: nox -s describe -- NAMESPACE/NAME
    (needs DOCKERHUB_API, DOCKERHUB_USERNAME and DOCKERHUB_TOKEN)."""
    args, _ = _session_args(session)
    _install(session, "test")
    session.run("python", "-m", "bake", "describe", *args.positionals, *args.tool_args)


@nox.session
def bench(session: nox.Session) -> None:
    """Measure throughput, tuning under limits, start-up, memory, size and build cost, and
    write docs/benchmarks.md: nox -s bench [-- --short] [TAG]"""
    args, _ = _session_args(session)
    _install(session, "bench")
    session.run("python", "-m", "bake.bench", *args.positionals, *args.tool_args)


def _shell_scripts() -> list[str]:
    scripts = [path for path in Path().rglob("*.sh") if not path.parts[0].startswith(".")]
    return sorted(str(path) for path in [*scripts, Path(".ci/run")])


@nox.session
def lint(session: nox.Session) -> None:
    """Static checks: ruff and mypy on the Python, shellcheck on every shell script, zizmor on
    the GitHub workflows (offline)."""
    _install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("shellcheck", "--external-sources", "--source-path=SCRIPTDIR", *_shell_scripts())
    session.run("zizmor", "--offline", "--config", ".github/zizmor.yml", ".github/workflows")


@nox.session
def hosts(session: nox.Session) -> None:
    """Try ./setup-host.sh on fresh Debian 12 hosts (privileged containers with systemd as PID 1):
    from nothing to green image tests, reruns, stop, an engine already running without the
    containerd image store: nox -s hosts [-- --scenario NAME] [--no-host-cache] [--keep]"""
    _install(session, "build")
    session.run("python", "-m", "bake.hosttest", *session.posargs)


@nox.session
def vms(session: nox.Session) -> None:
    """Boot real kernels with cgroup v2 (QEMU): the default slim tag's worker tuning under Docker
    and rootless Podman, and ./setup-host.sh on fresh Debian 12 and 13 guests:
    nox -s vms [-- --scenario limits|podman|setup-12|setup-13] [--logs DIR]"""
    _install(session, "build")
    session.run("python", "-m", "bake.hosttest.vms", *session.posargs)
