"""A build tags each target from the matrix of its own build date, not from the date
docker-bake.hcl was generated for, and names a target that file lacks in one line."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bake.core.matrix import load_matrix
from bake.core.selection import select
from bake.engine.bases import BaseMode
from bake.engine.build import BuildSettings, check_targets, own_cache_keys, targets_override
from bake.engine.hcl import BakeFileError, render_bake_file


def _settings(build_date: str) -> BuildSettings:
    return BuildSettings("acme/ug", build_date, BaseMode.AUTO, Path("/etc/ssl/certs/ca-certificates.crt"))


def test_latest_goes_where_the_build_dates_matrix_puts_it() -> None:
    matrix = load_matrix(date(2027, 11, 1))
    override = targets_override(
        [matrix.by_tag()["python3.15"], matrix.by_tag()["python3.15-slim"]], _settings("2027-11-01")
    )
    assert override == {
        "target": {
            "python3_15": {
                "tags": ["acme/ug:python3.15", "acme/ug:latest", "acme/ug:python3.15-2027-11-01"],
                "platforms": ["linux/amd64", "linux/arm64"],
            },
            "python3_15-slim": {
                "tags": ["acme/ug:python3.15-slim", "acme/ug:python3.15-slim-2027-11-01"],
                "platforms": ["linux/amd64", "linux/arm64"],
            },
        }
    }
    # The bake file of an earlier date gives python3.15 no `latest`: the override is what tags it.
    assert '"python3.15", "latest"' not in render_bake_file(load_matrix(date(2026, 11, 24)))


def test_a_target_missing_from_the_bake_file_is_one_line(tmp_path: Path) -> None:
    bake_file = tmp_path / "docker-bake.hcl"
    bake_file.write_text(render_bake_file(load_matrix(date(2026, 11, 24))))
    earlier = load_matrix(date(2026, 10, 1)).by_tag()  # 3.10 still supported then
    check_targets([earlier["python3.11"]], bake_file)
    with pytest.raises(BakeFileError) as error:
        check_targets([earlier["python3.10"], earlier["python3.10-slim"], earlier["python3.11"]], bake_file)
    assert str(error.value) == "docker-bake.hcl has no target python3_10, python3_10-slim; run: nox -s generate"


def test_a_native_runner_builds_only_its_platform() -> None:
    image = replace(load_matrix(date(2026, 11, 24)).by_tag()["python3.11-slim"], platforms=("linux/arm64",))
    assert targets_override([image], _settings("2026-11-24"))["target"]["python3_11-slim"]["platforms"] == [
        "linux/arm64"
    ]


def test_a_flavor_target_is_tagged_in_its_own_repository() -> None:
    matrix = load_matrix(date(2026, 11, 24))
    fastapi = next(image for image in matrix.flavored if image.name == "fastapi:python3.11")
    assert targets_override([fastapi], _settings("2026-11-24"))["target"]["fastapi-python3_11"]["tags"] == [
        "acme/ug-fastapi:python3.11",
        "acme/ug-fastapi:latest",
        "acme/ug-fastapi:python3.11-2026-11-24",
    ]


def test_a_build_without_the_cache_keys_runs_every_pip_step_anew() -> None:
    """A flavor's framework stage starts from the python base, not from its tag's image, so it
    needs the new key itself; every image of one build gets the same key."""
    images = select(load_matrix(date(2026, 11, 24)), ["python3.11-slim", "fastapi:python3.11-slim", "python3.13"])
    assert len(images) == 3
    overrides = own_cache_keys(images, "k1")
    assert overrides == {f"{image.target}.args.PIP_REFRESH": "k1" for image in images}
