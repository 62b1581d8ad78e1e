"""What a build says about itself in the image: the commit it was built from, that commit's time
(SOURCE_DATE_EPOCH, so that a rebuild of the commit is the same image), and the standard OCI
labels and index annotations, named as docker/metadata-action names them.

The repository's address comes from SOURCE_URL, else GitHub Actions' own variables, else the
checkout's `origin` remote (an https or ssh address of a web host); where none gives one, the
labels that need it are left out and one line says so.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bake.core.matrix import Image
from bake.errors import BakeError
from bake.paths import REPO_ROOT
from bake.progress import say

OCI = "org.opencontainers.image"
# The labels this module writes; the merge copies them onto each merged index as annotations.
METADATA_LABELS = tuple(
    f"{OCI}.{name}" for name in ("created", "revision", "version", "source", "url", "documentation", "licenses")
)
SERVER_STACK = ("gunicorn", "uvicorn", "uvicorn-worker")
REQUIREMENTS = REPO_ROOT / "common" / "requirements.txt"
# What the images are distributed under, when the build does not say (LICENSES): SPDX's word
# for "no licence stated", which is what the checkout states, having no licence file.
NO_LICENCE_STATED = "NOASSERTION"


@dataclass(frozen=True)
class SourceFacts:
    revision: str | None  # the commit
    epoch: int | None  # SOURCE_DATE_EPOCH: the commit's time, unless set
    url: str | None  # the repository's web address
    licenses: str

    @property
    def created(self) -> str | None:
        if self.epoch is None:
            return None
        return datetime.fromtimestamp(self.epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


def web_address(remote: str) -> str | None:
    """The web address of a git remote (`https://host/owner/repo`); None for a local path."""
    ssh = re.match(r"^(?:ssh://)?git@([^:/]+)[:/](.+?)(?:\.git)?/?$", remote)
    if ssh:
        return f"https://{ssh.group(1)}/{ssh.group(2)}"
    https = re.match(r"^https?://(?:[^@/]+@)?([^/]+)/(.+?)(?:\.git)?/?$", remote)
    return f"https://{https.group(1)}/{https.group(2)}" if https else None


class MetadataError(BakeError):
    """A setting of what the images record has a value no build accepts."""


def _repository_url(environment: Mapping[str, str]) -> str | None:
    if environment.get("SOURCE_URL"):
        given = environment["SOURCE_URL"]
        if not re.match(r"^https?://[^/\s]+/\S*$", given):
            raise MetadataError(
                f"SOURCE_URL={given!r} is not valid: expected the repository's web address, https://..."
            )
        return given.rstrip("/")
    if environment.get("GITHUB_REPOSITORY"):
        server = environment.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{environment['GITHUB_REPOSITORY']}"
    remote = _git("remote", "get-url", "origin")
    return web_address(remote) if remote else None


def source_facts(environment: Mapping[str, str] | None = None) -> SourceFacts:
    """The commit, its time and the repository's address, for this checkout."""
    env = dict(os.environ if environment is None else environment)
    revision = env.get("GITHUB_SHA") or _git("rev-parse", "HEAD")
    given = env.get("SOURCE_DATE_EPOCH")
    if given and not given.isdigit():
        raise MetadataError(f"SOURCE_DATE_EPOCH={given!r} is not valid: expected seconds since 1970, e.g. 1700000000")
    committed = _git("log", "-1", "--format=%ct", "HEAD")
    epoch = int(given) if given else int(committed) if committed else None
    return SourceFacts(revision, epoch, _repository_url(env), env.get("LICENSES") or NO_LICENCE_STATED)


def pinned_versions(requirements: str) -> dict[str, str]:
    """{normalized name: version} of the `name==version` lines (extras and comments left out)."""
    pinned = {}
    for line in requirements.splitlines():
        match = re.match(r"^\s*([A-Za-z0-9._-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)", line)
        if match:
            pinned[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pinned


def image_version(image: Image, requirements: str) -> str:
    """`python3.11-gunicorn27.0.1-uvicorn0.54.0-uvicorn-worker0.4.0`: the Python version and the
    server stack as pinned, then a flavor's framework (`-fastapi0.165.0`)."""
    pinned = pinned_versions(requirements)
    stack = {name: pinned[name] for name in SERVER_STACK if name in pinned}
    framework = pinned_versions("\n".join(image.flavor.requirements)) if image.flavor else {}
    return "-".join([f"python{image.python}", *(f"{name}{version}" for name, version in (stack | framework).items())])


def image_labels(image: Image, facts: SourceFacts, requirements: str) -> dict[str, str]:
    """The OCI labels of `image` built from `facts`; those without a value are left out."""
    values = {
        "created": facts.created,
        "revision": facts.revision,
        "version": image_version(image, requirements),
        "source": facts.url,
        "url": facts.url,
        "documentation": f"{facts.url}#readme" if facts.url else None,
        "licenses": facts.licenses,
    }
    return {f"{OCI}.{name}": value for name, value in values.items() if value}


def index_annotations(labels: Mapping[str, str]) -> list[str]:
    """The index annotations (buildx's `index:` form) that repeat the metadata labels."""
    return [f"index:{name}={value}" for name, value in sorted(labels.items()) if name in METADATA_LABELS]


def describe(facts: SourceFacts) -> None:
    """One line about what the build records, and what it cannot."""
    if facts.epoch is None:
        say("not reproducible: no commit and no SOURCE_DATE_EPOCH; the images carry the build's own times")
    if facts.url is None:
        say("no repository address (SOURCE_URL, GitHub Actions, or an origin remote): no source/url labels")
    if facts.revision and facts.created:
        say(f"built from {facts.revision} of {facts.created} (SOURCE_DATE_EPOCH={facts.epoch})")
