"""The original image (tiangolo/uvicorn-gunicorn), built from a local clone of its public
repository on the very base the image under test was built on, so that the two starts can be
compared. Nothing of the original is kept in this repository: its Dockerfile, scripts and app
are read from the clone at each build, and its Dockerfile's text is built as it is, with two
changes: its one FROM names that base, and each of its shell-form RUN instructions gets the
host's CA bundle (the BuildKit secret `pip-ca`, as images/Dockerfile does) for pip."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import docker

from bake.errors import BakeError
from bake.progress import say

REPOSITORY = "tiangolo/uvicorn-gunicorn-docker"
SOURCES_VARIABLE = "ORIGINAL_IMAGE_SOURCES"
IMAGES_FOLDER = "docker-images"  # the folder of the repository that holds the Dockerfiles and their context
BENCH_DOCKERFILE = "uvicorn-gunicorn-bench.dockerfile"  # written beside the original's, never committed

_FROM = re.compile(r"^FROM[ \t]+(?P<image>\S+)(?P<rest>.*)$", re.MULTILINE | re.IGNORECASE)
# A RUN in shell form with no flags of its own: `RUN command`, not `RUN [...]` or `RUN --mount`.
_SHELL_RUN = re.compile(r"^RUN[ \t]+(?![\[-])", re.MULTILINE | re.IGNORECASE)
_WITH_CA = "RUN --mount=type=secret,id=pip-ca,required=true export PIP_CERT=/run/secrets/pip-ca && "


class OriginalSourcesError(BakeError):
    """The original's sources cannot be found, or do not hold what the comparison needs."""


@dataclass(frozen=True)
class OriginalSources:
    path: Path  # a git clone (bare or with a work tree), or a plain copy of the repository
    commit: str | None  # None for a plain copy


@dataclass(frozen=True)
class OriginalImage:
    repository: str
    commit: str | None
    dockerfile: str  # its path in the original's repository
    base: str
    reference: str


def _head_commit(path: Path) -> str | None:
    completed = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout.strip() if completed.returncode == 0 else None


def _candidates(path: Path) -> list[Path]:
    """`path` itself, or a clone under it as `OWNER/NAME`, `OWNER+NAME/repo` or `OWNER+NAME`."""
    owner, name = REPOSITORY.split("/")
    return [path, path / owner / name, path / f"{owner}+{name}" / "repo", path / f"{owner}+{name}"]


def find_sources(value: str | None) -> OriginalSources:
    """The original's sources named by ORIGINAL_IMAGE_SOURCES (or the option standing for it)."""
    if not value:
        raise OriginalSourcesError(
            f"{SOURCES_VARIABLE} is not set: set it (or --original-sources) to a clone of {REPOSITORY}, "
            "or leave the start-up comparison out with --only"
        )
    for candidate in _candidates(Path(value)):
        if not candidate.is_dir():
            continue
        commit = _head_commit(candidate)
        if commit is None and (candidate / IMAGES_FOLDER).is_dir():
            return OriginalSources(candidate, None)
        if commit is not None and _has_folder(candidate, commit, IMAGES_FOLDER):
            return OriginalSources(candidate, commit)
    raise OriginalSourcesError(
        f"{SOURCES_VARIABLE}={value!r} is not valid: expected a clone of {REPOSITORY} (bare or with a work "
        f"tree) or a copy of it with its {IMAGES_FOLDER}/ folder, or a directory holding a clone as {REPOSITORY}"
    )


def _has_folder(path: Path, commit: str, folder: str) -> bool:
    """Whether the clone at `path` holds `folder` at `commit`."""
    tree = ":".join((commit, folder))  # git's COMMIT:PATH
    completed = subprocess.run(["git", "-C", str(path), "cat-file", "-e", tree], capture_output=True, check=False)
    return completed.returncode == 0


def _unpack(sources: OriginalSources, directory: Path) -> Path:
    """The original's images folder, copied out of the clone (at its HEAD) into `directory`."""
    if sources.commit is None:
        shutil.copytree(sources.path / IMAGES_FOLDER, directory / IMAGES_FOLDER)
    else:
        archive = subprocess.run(
            ["git", "-C", str(sources.path), "archive", "--format=tar", sources.commit, IMAGES_FOLDER],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(directory)], input=archive, check=True)
    return directory / IMAGES_FOLDER


def on_base(dockerfile: str, base: str, expected_from: str) -> str:
    """The original's Dockerfile with its one FROM on `base` (it must be `expected_from`, the
    official base `base` stands for: the same Python) and the CA bundle in its RUN steps."""
    stages = _FROM.findall(dockerfile)
    if len(stages) != 1:
        raise OriginalSourcesError(f"the original's Dockerfile has {len(stages)} FROM lines, expected one")
    found = stages[0][0]
    if found != expected_from:
        raise OriginalSourcesError(f"the original's Dockerfile builds FROM {found}, expected {expected_from}")
    return _SHELL_RUN.sub(_WITH_CA, _FROM.sub(lambda match: f"FROM {base}{match['rest']}", dockerfile))


def build_original(
    sources: OriginalSources, tag: str, official_base: str, base: str, reference: str, platform: str, ca_bundle: Path
) -> OriginalImage:
    """Builds the original's `tag` (its Dockerfile `docker-images/TAG.dockerfile`) on `base`
    for `platform`, loaded as `reference`."""
    with tempfile.TemporaryDirectory(prefix="bench-original-") as directory:
        context = _unpack(sources, Path(directory))
        dockerfile = context / f"{tag}.dockerfile"
        if not dockerfile.is_file():
            have = sorted(path.name.removesuffix(".dockerfile") for path in context.glob("*.dockerfile"))
            raise OriginalSourcesError(f"the original has no tag {tag} to compare with (it has: {', '.join(have)})")
        (context / BENCH_DOCKERFILE).write_text(on_base(dockerfile.read_text(), base, official_base))
        say(f"bench: building the original {tag} ({REPOSITORY} at {sources.commit or sources.path}) on {base}")
        docker.buildx.build(
            context,
            file=context / BENCH_DOCKERFILE,
            tags=[reference],
            platforms=[platform],
            secrets=[f"id=pip-ca,src={ca_bundle}"],
            load=True,
        )
    return OriginalImage(REPOSITORY, sources.commit, f"{IMAGES_FOLDER}/{dockerfile.name}", base, reference)
