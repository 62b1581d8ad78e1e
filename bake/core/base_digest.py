"""Which base an image was built on, by digest, and whether that base has moved since.

Every image carries two labels: the base's name and the digest of the base index it was
built FROM. The scheduled release reads them from the published image and compares the
digest with the base's current one: where the base moved, the tag is rebuilt.

Standard library only (the docker CLI through subprocess): the release plan runs it on a
bare runner before anything is installed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bake.core.registry_reader import find_digest, find_formatted

BASE_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"

# Reads the labels of an image in a registry (None: not published); reads a base's digest now.
LabelReader = Callable[[str], "Mapping[str, str] | None"]
DigestReader = Callable[[str], "str | None"]


def current_digest(reference: str) -> str | None:
    """The digest of the index `reference` names now: the local image store's, where the image
    is there (builds take a local base first), else the registry's; None when neither has it."""
    local = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", reference], capture_output=True)
    if local.returncode == 0 and local.stdout.strip().startswith(b"sha256:"):
        return local.stdout.decode().strip()
    return find_digest(reference)


def published_labels(reference: str) -> dict[str, str] | None:
    """The labels of the image published under `reference` (its first platform's: the base is
    one index for all of them); None when the registry has no such tag."""
    image = find_formatted(reference, "Image")
    if image is None:
        return None
    configs = [image] if "config" in image or "rootfs" in image else [image[key] for key in sorted(image)]
    labels: dict[str, str] = (configs[0].get("config") or {}).get("Labels") or {}
    return labels


@dataclass(frozen=True)
class BaseCheck:
    tag: str
    rebuild: bool
    why: str

    def __str__(self) -> str:
        return f"{self.tag}: {'rebuild' if self.rebuild else 'skip'}: {self.why}"


def check_base(tag: str, published: str, read_labels: LabelReader, read_digest: DigestReader) -> BaseCheck:
    """Whether the image published as `published` (tag `tag`) must be rebuilt because its base
    moved, with the reason in one line."""
    labels = read_labels(published)
    if labels is None:
        return BaseCheck(tag, True, f"{published} is not published yet")
    base, built_on = labels.get(BASE_LABEL), labels.get(BASE_DIGEST_LABEL)
    if not base or not built_on:
        return BaseCheck(tag, True, f"{published} does not record its base digest ({BASE_DIGEST_LABEL})")
    now = read_digest(base)
    if now is None:
        return BaseCheck(tag, True, f"base {base} cannot be found now; a rebuild will say why")
    if now != built_on:
        return BaseCheck(tag, True, f"base {base} moved from {built_on} to {now}")
    return BaseCheck(tag, False, f"base {base} is still {built_on}")
