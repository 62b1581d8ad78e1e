"""What the image says about itself."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace

from python_on_whales import docker

from bake.engine.bases import BASE_LABEL
from bake.engine.image_metadata import OCI, REQUIREMENTS, pinned_versions, source_facts
from bake.engine.standin import standin_reference
from bake.paths import REPO_ROOT
from tests.conftest import ImageUnderTest


def test_label_names_the_base_it_was_built_on(image: ImageUnderTest) -> None:
    labels = docker.image.inspect(image.reference).config.labels or {}
    assert labels.get(BASE_LABEL) in (image.spec.official_base, standin_reference(image.spec))


def test_default_command_and_environment(image: ImageUnderTest) -> None:
    config = docker.image.inspect(image.reference).config
    assert config.cmd == ["/start.sh"]
    assert str(config.working_dir) == "/app"
    environment = dict(entry.split("=", 1) for entry in config.env or [])
    assert environment["PYTHONPATH"] == "/app"
    assert environment["PYTHONDONTWRITEBYTECODE"] == "1"
    assert environment["PYTHONUNBUFFERED"] == "1"


def test_the_standard_labels_name_the_commit_its_time_and_the_server_stack(image: ImageUnderTest) -> None:
    """As docker/metadata-action names them; built from this checkout's commit, at its time."""
    labels = docker.image.inspect(image.reference).config.labels or {}
    facts = source_facts()
    revision = labels[f"{OCI}.revision"]
    committed = subprocess.run(
        ["git", "log", "-1", "--format=%ct", revision], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    # The time of the commit it was built from (maybe not HEAD), unless SOURCE_DATE_EPOCH says otherwise.
    built_at = replace(facts, epoch=int(os.environ.get("SOURCE_DATE_EPOCH") or committed.stdout)).created
    assert labels[f"{OCI}.created"] == built_at
    assert docker.image.inspect(image.reference).created.strftime("%Y-%m-%dT%H:%M:%SZ") == built_at
    pinned = pinned_versions(REQUIREMENTS.read_text())
    assert labels[f"{OCI}.version"].startswith(
        f"python{image.spec.python}-gunicorn{pinned['gunicorn']}-uvicorn{pinned['uvicorn']}-"
    )
    assert labels[f"{OCI}.licenses"] == facts.licenses
    if facts.url:
        assert labels[f"{OCI}.source"] == labels[f"{OCI}.url"] == facts.url
        assert labels[f"{OCI}.documentation"] == f"{facts.url}#readme"
