from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bake.debian_sources import Mirrors
from bake.matrix import DebianSuite, Image
from bake.standin import StandinError, mmdebstrap_command, recipe_for, standin_reference

MIRRORS = Mirrors("http://archive.example/debian", "http://security.example/debian-security")
SLIM = Image("3.11", "slim", DebianSuite("bookworm", ("updates", "security")), ("linux/amd64",), True)


def test_reference_names_the_official_image_it_stands_in_for() -> None:
    assert standin_reference(SLIM) == "standin/python:3.11-slim"
    assert standin_reference(replace(SLIM, variant="full")) == "standin/python:3.11"


def test_command_takes_the_suite_and_its_pockets_from_the_mirrors() -> None:
    command = mmdebstrap_command(recipe_for(SLIM), "arm64", Path("/tmp/out.tar"), MIRRORS)
    assert command[0] == "mmdebstrap"
    assert "--architectures=arm64" in command
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


def test_recipe_key_follows_the_suite_and_the_packages() -> None:
    recipe = recipe_for(SLIM)
    assert recipe.key == recipe_for(SLIM).key
    assert replace(recipe, suite="trixie").key != recipe.key
    assert replace(recipe, packages=(*recipe.packages, "git")).key != recipe.key


def test_a_variant_without_a_recipe_is_an_error() -> None:
    with pytest.raises(StandinError, match=r"no stand-in recipe for the full variant of python 3\.11"):
        recipe_for(replace(SLIM, variant="full"))
