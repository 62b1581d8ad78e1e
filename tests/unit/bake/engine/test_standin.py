from __future__ import annotations

import io
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from bake.core.debian_sources import Mirrors
from bake.core.matrix import DebianSuite, Image
from bake.engine.standin import (
    NeedsRegistry,
    copy_without_bytecode,
    mmdebstrap_command,
    recipe_for,
    standin_reference,
)

MIRRORS = Mirrors("http://archive.example/debian", "http://security.example/debian-security")
SLIM = Image("3.11", "slim", DebianSuite("bookworm", ("updates", "security")), ("linux/amd64",), True)
FORKY = DebianSuite("forky", (), expired_release_ok=True)


def test_reference_names_the_official_image_it_stands_in_for() -> None:
    assert standin_reference(SLIM) == "standin/python:3.11-slim"
    assert standin_reference(replace(SLIM, variant="full")) == "standin/python:3.11"


def test_command_takes_the_suite_and_its_pockets_from_the_mirrors() -> None:
    command = mmdebstrap_command(recipe_for(SLIM), "arm64", Path("/tmp/out.tar"), MIRRORS)
    assert command[0] == "mmdebstrap"
    assert "--architectures=arm64" in command
    assert "--include=python3.11,python3.11-venv,ca-certificates,netbase,tzdata" in command
    assert '--customize-hook=chroot "$1" python3.11 -m venv /usr/local' in command
    assert not any("Check-Valid-Until" in word for word in command)
    assert command[-5:] == [
        "bookworm",
        "/tmp/out.tar",
        "deb http://archive.example/debian bookworm main",
        "deb http://archive.example/debian bookworm-updates main",
        "deb http://security.example/debian-security bookworm-security main",
    ]


def test_security_pocket_is_left_out_without_a_security_mirror() -> None:
    command = mmdebstrap_command(recipe_for(SLIM), "amd64", Path("/tmp/out.tar"), Mirrors("http://a.example", None))
    assert not any("security" in word for word in command)


def test_full_variant_adds_a_toolchain_and_headers() -> None:
    packages = recipe_for(replace(SLIM, python="3.15", variant="full", debian=FORKY)).packages
    assert {"python3.15", "python3.15-venv", "python3.15-dev", "build-essential", "libffi-dev"} <= set(packages)


def test_an_expired_release_file_is_accepted_only_where_the_data_says() -> None:
    command = mmdebstrap_command(recipe_for(replace(SLIM, debian=FORKY)), "amd64", Path("/tmp/o.tar"), MIRRORS)
    assert '--aptopt=Acquire::Check-Valid-Until "false"' in command


def test_recipe_key_follows_suite_version_and_variant() -> None:
    recipe = recipe_for(SLIM)
    assert recipe.key == recipe_for(SLIM).key
    assert recipe_for(replace(SLIM, debian=FORKY)).key != recipe.key
    assert recipe_for(replace(SLIM, python="3.13")).key != recipe.key
    assert recipe_for(replace(SLIM, variant="full")).key != recipe.key


def test_the_image_key_differs_from_the_cached_root_filesystems_key() -> None:
    # The image leaves the bytecode out; the root filesystem in the cache keeps it, bootstrapped once.
    recipe = recipe_for(SLIM)
    assert recipe.key != recipe.rootfs_key
    assert recipe_for(replace(SLIM, variant="full")).rootfs_key != recipe.rootfs_key


def _archive(path: Path, members: dict[str, bytes | None]) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members.items():
            member = tarfile.TarInfo(name)
            if data is None:
                member.type = tarfile.DIRTYPE
                member.mode = 0o755
                archive.addfile(member)
                continue
            member.size = len(data)
            member.mtime = 1_700_000_000
            member.pax_headers = {"SCHILY.xattr.user.mark": "kept"}
            archive.addfile(member, io.BytesIO(data))


def test_the_copy_leaves_out_bytecode_and_keeps_every_other_member_as_it_was(tmp_path: Path) -> None:
    source, target = tmp_path / "rootfs.tar", tmp_path / "copy.tar"
    _archive(
        source,
        {
            "usr/lib/python3.11/__pycache__": None,
            "usr/lib/python3.11/__pycache__/json.cpython-311.pyc": b"bytecode",
            "usr/lib/python3.11/json.py": b"source",
            "usr/bin/ping": b"binary",
        },
    )
    copy_without_bytecode(source, target)
    with tarfile.open(target) as copy:
        members = {member.name: member for member in copy}
        assert sorted(members) == ["usr/bin/ping", "usr/lib/python3.11/__pycache__", "usr/lib/python3.11/json.py"]
        kept = members["usr/lib/python3.11/json.py"]
        assert (kept.mtime, kept.pax_headers["SCHILY.xattr.user.mark"]) == (1_700_000_000, "kept")
        extracted = copy.extractfile(kept)
        assert extracted is not None and extracted.read() == b"source"


def test_a_version_no_suite_ships_needs_a_registry() -> None:
    with pytest.raises(
        NeedsRegistry, match=r"^python3\.12-slim needs a registry: no Debian suite ships CPython 3\.12$"
    ):
        recipe_for(replace(SLIM, python="3.12", debian=None))
