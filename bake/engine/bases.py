"""Which base each image is built on: the official python image, or a local stand-in."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from python_on_whales import DockerException, docker

from bake.core.base_digest import BASE_LABEL
from bake.core.debian_sources import configured_mirrors
from bake.core.matrix import Image
from bake.core.settings import BaseMode
from bake.engine.standin import ensure_standin, recipe_for

__all__ = ["BASE_LABEL", "Base", "BaseMode", "base_available", "base_of", "choose_base"]


@dataclass(frozen=True)
class Base:
    reference: str
    why: str


def base_of(reference: str) -> str:
    """The base a local image was built on, as its label says."""
    labels = docker.image.inspect(reference).config.labels or {}
    return labels[BASE_LABEL]


def _last_line(error: DockerException) -> str:
    text = (error.stderr or error.stdout or "").strip()
    return text.splitlines()[-1] if text else f"exit code {error.return_code}"


def _is_local(reference: str) -> bool:
    return docker.image.exists(reference)


@cache
def _registry_answers(reference: str) -> str | None:
    """None when the registry has `reference`, else the reason it could not be reached."""
    try:
        docker.buildx.imagetools.inspect(reference)
    except DockerException as error:
        return _last_line(error)
    return None


def choose_base(image: Image, mode: BaseMode) -> Base:
    official = image.official_base
    if mode is BaseMode.OFFICIAL:
        return Base(official, "official image (BASE=official)")
    if mode is BaseMode.AUTO:
        if _is_local(official):
            return Base(official, "official image, found in the local image store")
        failure = _registry_answers(official)
        if failure is None:
            return Base(official, "official image, the registry answers")
        why = f"stand-in: {official} cannot be fetched ({failure})"
    else:
        why = "stand-in (BASE=standin)"
    suite = recipe_for(image).suite  # raises NeedsRegistry where no Debian suite ships the release
    reference = ensure_standin(image, configured_mirrors())
    return Base(reference, f"{why}; bootstrapped from Debian {suite.name}")


def base_available(image: Image, mode: BaseMode) -> bool:
    """Whether a build of `image` can get its base here, without building anything."""
    if mode is BaseMode.OFFICIAL:
        return True
    if mode is BaseMode.STANDIN or image.debian is not None:
        return image.debian is not None
    return _is_local(image.official_base) or _registry_answers(image.official_base) is None
