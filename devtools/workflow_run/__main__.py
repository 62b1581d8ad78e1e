"""Runs the GitHub workflows here, end to end, with act in self-hosted mode:

    python -m devtools.workflow_run TAG        (nox -s workflows -- TAG)

ci.yml runs as on a push; publish.yml as a manual run limited to TAG, publishing to a local
registry that stands in for Docker Hub and setting the description on a local stand-in
for the Hub API. Both GitHub runner labels map to this host, so the arm64 job runs here
under QEMU. Afterwards the registry must hold TAG and its date tag as one index with
every platform, signed with the run's key pair (a flavor's TAG: the flavor and its base
tag, each in its repository), and the stand-in the README.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bake.core.matrix import Image, load_matrix
from bake.core.naming import local_reference
from bake.core.reference import ImageReference
from bake.core.selection import select, with_bases
from bake.core.settings import (
    DEFAULT_IMAGE_NAME,
    Settings,
    add_date_option,
    environment_of,
    settings_of,
)
from bake.errors import BakeError, reporting_errors
from bake.options import OptionParser
from bake.paths import REPO_ROOT
from bake.progress import say
from bake.release.registry import registry_digest_and_platforms
from bake.release.signing import Signer, generate_key_pair, verify
from devtools.local_registry import local_registry
from devtools.workflow_run.actions import local_copy, pinned_actions
from devtools.workflow_run.hub_standin import hub_standin

RUNNER_LABELS = ("ubuntu-24.04", "ubuntu-24.04-arm")
HUB_REPOSITORY = "acme/uvicorn-gunicorn"
DEFAULT_ACTION_CACHE = Path(os.environ.get("UVICORN_GUNICORN_CACHE", "/var/cache/uvicorn-gunicorn")) / "actions"
# Images the workflows build here get their own name, so the host's own tags are left alone.
IMAGE_NAME = "uvicorn-gunicorn-workflows"


def _published_repository(registry: str) -> str:
    """Where the publishing workflow pushes, in the run's local registry."""
    return str(ImageReference(DEFAULT_IMAGE_NAME).in_registry(registry))


class WorkflowRunError(BakeError):
    """A workflow failed, or did not publish what it should have."""


def _act_options(registry: str, hub: str) -> list[str]:
    sources = os.environ.get("ACTIONS_SOURCES")
    options = ["--concurrent-jobs", "1"]  # one host plays every runner: jobs take turns
    for label in RUNNER_LABELS:
        options += ["-P", f"{label}=-self-hosted"]
    for action in pinned_actions():
        copy = local_copy(action, DEFAULT_ACTION_CACHE, Path(sources) if sources else None)
        options += ["--local-repository", f"{action.reference}={copy}"]
    variables = {
        "BASE": "standin",  # no registry serves the official bases here
        "SBOM_GENERATOR": "-",  # nor BuildKit's syft scanner: the project's own generator
        "PUBLISH_TO": _published_repository(registry),
        "PUBLISH_REGISTRY": registry,
        "DOCKERHUB_REPOSITORY": HUB_REPOSITORY,
        "DOCKERHUB_API": hub,
    }
    for name, value in variables.items():
        options += ["--var", f"{name}={value}"]
    for name in ("REGISTRY_USERNAME", "REGISTRY_TOKEN"):
        options += ["--secret", f"{name}=stand-in"]
    # No OIDC token here: the merge signs with a key pair made for the run (act reads the values
    # of these secrets from its environment).
    options += ["--secret", "COSIGN_PRIVATE_KEY", "--secret", "COSIGN_PASSWORD"]
    return [*options, "--env", f"IMAGE_NAME={IMAGE_NAME}"]


def _run_act(name: str, event: str, options: Sequence[str]) -> float:
    started = time.monotonic()
    say(f"workflows: {name}.yml ({event}) starting")
    command = ["act", event, "-W", f".github/workflows/{name}.yml", *options]
    if subprocess.run(command, cwd=REPO_ROOT).returncode != 0:
        raise WorkflowRunError(f"{name}.yml failed under act after {time.monotonic() - started:.0f} s")
    return time.monotonic() - started


def _check_published(image: Image, family: str, build_date: str) -> str:
    published = local_reference(image, family)
    moving = registry_digest_and_platforms(published)
    dated = registry_digest_and_platforms(published.with_tag(f"{image.tag}-{build_date}"))
    if moving != dated:
        raise WorkflowRunError(f"{published} and its date tag {build_date} are different indexes")
    if moving[1] != set(image.platforms):
        raise WorkflowRunError(f"{published} holds {', '.join(sorted(moving[1]))}")
    return moving[0]


def _signing_key_pair(directory: Path) -> Path:
    """A key pair for this run, its private key and password in the environment act reads
    secrets from; returns the public key."""
    password = secrets.token_hex(16)
    private, public = generate_key_pair(directory, password)
    os.environ["COSIGN_PRIVATE_KEY"] = private.read_text()
    os.environ["COSIGN_PASSWORD"] = password
    return public


def run(tag: str, only: str | None, settings: Settings) -> None:
    for tool in ("act", "sudo", "node", "cosign"):
        if shutil.which(tool) is None:
            raise WorkflowRunError(f"{tool} is not on PATH (nox -s workflows installs what it needs)")
    build_date = settings.date_tag
    (image,) = select(load_matrix(settings.build_date), [tag])
    with (
        tempfile.TemporaryDirectory(prefix="workflows-registry-") as storage,
        local_registry(Path(storage)) as registry,
        hub_standin() as (hub, record),
    ):
        public_key = _signing_key_pair(Path(storage))
        options = _act_options(registry, hub)
        times: dict[str, float] = {}
        if only in (None, "ci"):
            times["ci"] = _run_act("ci", "push", options)
        if only in (None, "publish"):
            times["publish"] = _run_act(
                "publish",
                "workflow_dispatch",
                [*options, "--input", f"tags={image.name}", "--env", f"DATE={build_date}"],
            )
            family = _published_repository(registry)
            for published in with_bases([image]):  # a flavor goes out with its base
                digest = _check_published(published, family, build_date)
                reference = local_reference(published, family)
                say(f"workflows: published {reference} and its date tag {build_date} as {digest}")
                verify(Signer("run's key pair"), str(reference), digest, public_key)
            if record.descriptions.get(HUB_REPOSITORY) != (REPO_ROOT / "README.md").read_text():
                raise WorkflowRunError("the Hub stand-in did not receive README.md as the description")
            say(f"workflows: Hub description of {HUB_REPOSITORY} set from README.md")
    for name, seconds in times.items():
        say(f"workflows: {name}.yml passed in {seconds:.0f} s")


def parser() -> OptionParser:
    parser = OptionParser("python -m devtools.workflow_run", __doc__)
    parser.add_argument(
        "tag",
        help="the one tag publish.yml is limited to: python3.11-slim, or fastapi:python3.11-slim",
    )
    parser.add_argument("--only", choices=("ci", "publish"), help="run only this workflow")
    add_date_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    def _run() -> int:
        args = parser().parse(sys.argv[1:] if argv is None else argv)
        settings = settings_of(args)
        os.environ.update(environment_of(settings))  # act's jobs read the run's date
        run(args.tag, args.only, settings)
        return 0

    return reporting_errors(_run)


if __name__ == "__main__":
    sys.exit(main())
