"""The OCI labels and index annotations every image carries, and the reproducible build context."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

import bake.engine.build
from bake.core.matrix import DebianSuite, Flavor, Image
from bake.core.settings import BaseMode
from bake.engine.build import BasePlan, BuildSettings, _bake_files, targets_override
from bake.engine.build_context import FILE_TIME, reproducible_context, stage_context
from bake.engine.image_metadata import (
    NO_LICENCE_STATED,
    MetadataError,
    SourceFacts,
    image_labels,
    index_annotations,
    source_facts,
    web_address,
)

IMAGE = Image("3.11", "slim", DebianSuite("bookworm", ()), ("linux/amd64",), True)
FASTAPI = Image(
    "3.11", "slim", DebianSuite("bookworm", ()), ("linux/amd64",), True, Flavor("fastapi", ("fastapi==0.165.0",))
)
REQUIREMENTS = "# pins\ngunicorn==27.0.1\nuvicorn[standard]==0.54.0\nuvicorn-worker==0.4.0\n"
FACTS = SourceFacts("0123abcd" * 5, 1_796_439_090, "https://github.com/acme/uvicorn-gunicorn", "MIT")


def test_every_label_has_its_value_as_docker_metadata_action_names_it() -> None:
    assert image_labels(IMAGE, FACTS, REQUIREMENTS) == {
        "org.opencontainers.image.created": "2026-12-05T02:51:30Z",
        "org.opencontainers.image.revision": "0123abcd" * 5,
        "org.opencontainers.image.version": "python3.11-gunicorn27.0.1-uvicorn0.54.0-uvicorn-worker0.4.0",
        "org.opencontainers.image.source": "https://github.com/acme/uvicorn-gunicorn",
        "org.opencontainers.image.url": "https://github.com/acme/uvicorn-gunicorn",
        "org.opencontainers.image.documentation": "https://github.com/acme/uvicorn-gunicorn#readme",
        "org.opencontainers.image.licenses": "MIT",
    }


def test_a_flavor_version_names_its_framework_too() -> None:
    version = image_labels(FASTAPI, FACTS, REQUIREMENTS)["org.opencontainers.image.version"]
    assert version == "python3.11-gunicorn27.0.1-uvicorn0.54.0-uvicorn-worker0.4.0-fastapi0.165.0"


def test_the_index_annotations_repeat_the_metadata_labels() -> None:
    labels = image_labels(IMAGE, FACTS, REQUIREMENTS)
    annotations = index_annotations({**labels, "org.opencontainers.image.base.name": "python:3.11-slim"})
    assert annotations == [f"index:{name}={value}" for name, value in sorted(labels.items())]


def test_without_an_address_the_labels_that_need_one_are_left_out() -> None:
    labels = image_labels(IMAGE, SourceFacts("abc", None, None, NO_LICENCE_STATED), REQUIREMENTS)
    assert set(labels) == {
        "org.opencontainers.image.revision",
        "org.opencontainers.image.version",
        "org.opencontainers.image.licenses",
    }


@pytest.mark.parametrize(
    ("remote", "address"),
    [
        ("git@github.com:acme/uvicorn-gunicorn.git", "https://github.com/acme/uvicorn-gunicorn"),
        ("https://token@github.com/acme/uvicorn-gunicorn.git", "https://github.com/acme/uvicorn-gunicorn"),
        ("ssh://git@example.org/acme/ug", "https://example.org/acme/ug"),
        ("/work/main", None),
    ],
)
def test_a_remote_gives_its_web_address(remote: str, address: str | None) -> None:
    assert web_address(remote) == address


def test_github_actions_and_the_environment_win_over_the_checkout() -> None:
    facts = source_facts(
        {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/ug", "GITHUB_SHA": "f" * 40,
         "SOURCE_DATE_EPOCH": "1700000000", "LICENSES": "Apache-2.0"}
    )  # fmt: skip
    assert facts == SourceFacts("f" * 40, 1_700_000_000, "https://github.com/acme/ug", "Apache-2.0")
    assert source_facts({"SOURCE_URL": "https://example.org/ug/"}).url == "https://example.org/ug"


def test_each_target_gets_labels_annotations_the_reproducible_arguments_and_the_context(tmp_path: Path) -> None:
    settings = BuildSettings("ug", "2026-11-24", BaseMode.STANDIN, Path("/ca.pem"))
    target = targets_override([IMAGE], settings, FACTS, tmp_path)["target"]["python3_11-slim"]
    assert target["labels"]["org.opencontainers.image.revision"] == FACTS.revision
    assert "index:org.opencontainers.image.source=https://github.com/acme/uvicorn-gunicorn" in target["annotations"]
    assert target["args"] == {"FILE_TIME": str(FILE_TIME), "SOURCE_DATE_EPOCH": "1796439090"}
    assert target["context"] == str(tmp_path)


def test_the_staged_context_dates_every_file_and_folder_alike(tmp_path: Path) -> None:
    stage_context(tmp_path)
    files = [path for path in tmp_path.rglob("*")]
    assert tmp_path / "images" / "Dockerfile" in files
    assert tmp_path / "common" / "start.sh" in files
    assert not [path for path in files if "__pycache__" in path.parts], "what git ignores stays out"
    assert {int(os.lstat(path).st_mtime) for path in files} == {FILE_TIME}
    assert (tmp_path / "common" / "start.sh").read_bytes() == (
        Path(__file__).parents[4] / "common" / "start.sh"
    ).read_bytes()


def test_the_context_is_the_tree_the_bake_file_is_in_not_always_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench builds a copy of the checkout with common/ changed: that copy is what is built."""
    tree = tmp_path / "copy"
    (tree / "common").mkdir(parents=True)
    (tree / "common" / "start.sh").write_text("# changed\n")
    (tree / "docker-bake.hcl").write_text("")
    with reproducible_context(tree) as context:
        assert (context / "common" / "start.sh").read_text() == "# changed\n"

    monkeypatch.setattr(bake.engine.build, "source_facts", lambda: FACTS)
    monkeypatch.setattr(bake.engine.build, "describe", lambda facts: None)
    monkeypatch.setattr(bake.engine.build, "ensure_generator", lambda base, epoch: "generator")
    settings = BuildSettings("ug", "2026-11-24", BaseMode.STANDIN, Path("/ca.pem"))
    with _bake_files(BasePlan([IMAGE], bases=["base"]), settings, tree / "docker-bake.hcl") as inputs:
        targets = json.loads(Path(inputs.files[1]).read_text())["target"]
        context = Path(targets["python3_11-slim"]["context"])
        assert (context / "common" / "start.sh").read_text() == "# changed\n"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SOURCE_DATE_EPOCH", "yesterday", "seconds since 1970"),
        ("SOURCE_URL", "github.com/acme/ug", "the repository's web address"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(variable: str, value: str, expected: str) -> None:
    with pytest.raises(MetadataError, match=rf"^{variable}='{re.escape(value)}' is not valid: expected {expected}"):
        source_facts({variable: value})
