"""Tasks of the project: `nox -s build`, `nox -s test -- TAG`, `nox -s unit`, ...

The image matrix lives in images/matrix.toml. Each session installs its pinned tools and runs
one command of the build system (`python -m bake COMMAND`) or of the project's tools
(`python -m devtools.TOOL`) with the session's arguments as they are: the options are defined
and checked there, once (`python -m bake COMMAND --help`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "unit"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
# Read by bake/options.py: errors then begin with the command the user typed.
INVOKED_AS = "BAKE_INVOKED_AS"


def _install(session: nox.Session, group: str) -> None:
    session.install(*nox.project.dependency_groups(PYPROJECT, group))


def _run(session: nox.Session, group: str, module: str, *words: str) -> None:
    """Installs `group`, then runs `python -m module` with `words` and the session's arguments."""
    _install(session, group)
    session.run("python", "-m", module, *words, *session.posargs, env={INVOKED_AS: f"nox -s {session.name}"})


@nox.session
def generate(session: nox.Session) -> None:
    """Write docker-bake.hcl and the README's tag sections from images/matrix.toml:
    nox -s generate [-- --check] [--date YYYY-MM-DD]"""
    _run(session, "build", "bake", "generate")


@nox.session
def plan(session: nox.Session) -> None:
    """Print every target with its base, platforms and tags, without building."""
    _run(session, "build", "bake", "plan")


@nox.session
def build(session: nox.Session) -> None:
    """Build the named tags (default: all) for all their platforms and load them."""
    _run(session, "build", "bake", "build")


@nox.session
def lock(session: nox.Session) -> None:
    """Lock the images' requirements (common/requirements.txt, each flavor's framework) for every
    CPython version and platform of the matrix, with the hash of every file: needs the index."""
    _run(session, "lock", "devtools.lock")


@nox.session
def unit(session: nox.Session) -> None:
    """Unit tests of bake/, devtools/ and the image's runtime (with the image's server stack,
    so that none of them is skipped); no Docker engine needed."""
    _install(session, "test")
    session.install("-r", "common/requirements.txt")
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session
def test(session: nox.Session) -> None:
    """Build and check the named tags on all their platforms (an emulated one runs a
    representative subset; --all-platforms runs everything everywhere). With no tag: every
    tag buildable here on this machine's platform, plus the default slim tag emulated."""
    _run(session, "test", "bake", "test")


@nox.session
def publish(session: nox.Session) -> None:
    """Build, test, then push exactly the tested images with their date tags, each index signed
    (COSIGN_KEY and COSIGN_PASSWORD: a cosign key pair; in GitHub Actions: keyless):
    nox -s publish -- --to=docker.io/acme/uvicorn-gunicorn [TAG ...] [--dry-run]"""
    _run(session, "test", "bake", "publish")


@nox.session
def stage(session: nox.Session) -> None:
    """On a runner of one platform: build the tags for it alone, run every image test on it,
    and push the tested images by digest to a staging repository, their digests to a file:
    nox -s stage -- --platform=linux/arm64 --to=REPOSITORY --digests=FILE [TAG ...]"""
    _run(session, "test", "bake", "stage")


@nox.session
def merge(session: nox.Session) -> None:
    """After every platform was staged: one multi-platform index per tag, checked before any
    tag is written, date tags first (each index signed and verified), moving tags last:
    nox -s merge -- --to=REPOSITORY --digests=FILE --digests=FILE [TAG ...]"""
    _run(session, "build", "bake", "merge")


# What act needs on the host besides the engine: the workflows run `sudo ./setup-host.sh`, and
# their JavaScript actions run on the host's node.
WORKFLOW_HOST_TOOLS = {"sudo": "sudo", "node": "nodejs"}


@nox.session
def workflows(session: nox.Session) -> None:
    """Run ci.yml and publish.yml (limited to TAG) here with act, publishing to a local registry
    and a local stand-in for the Docker Hub API: nox -s workflows -- TAG [--only ci|publish].
    The actions come from local clones at their pinned commits (ACTIONS_SOURCES, once)."""
    missing = [package for tool, package in WORKFLOW_HOST_TOOLS.items() if shutil.which(tool) is None]
    if missing:
        session.run("apt-get", "install", "-y", "-q", "--no-install-recommends", *missing, external=True)
    _run(session, "workflows", "devtools.workflow_run")


@nox.session
def describe(session: nox.Session) -> None:
    """Set a Docker Hub repository's description to the README: nox -s describe -- NAMESPACE/NAME
    (needs DOCKERHUB_API, DOCKERHUB_USERNAME and DOCKERHUB_TOKEN)."""
    _run(session, "test", "bake", "describe")


@nox.session
def bench(session: nox.Session) -> None:
    """Measure throughput, tuning under limits, start-up, memory, size and build cost, and
    write docs/benchmarks.md: nox -s bench [-- --short] [TAG]"""
    _run(session, "bench", "devtools.bench")


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
    _run(session, "build", "devtools.hosttest")


@nox.session
def vms(session: nox.Session) -> None:
    """Boot real kernels with cgroup v2 (QEMU): the default slim tag's worker tuning under Docker
    and rootless Podman, and ./setup-host.sh on fresh Debian 12 and 13 guests:
    nox -s vms [-- --scenario limits|podman|setup-12|setup-13] [--logs DIR]"""
    _run(session, "build", "devtools.hosttest.vms")
