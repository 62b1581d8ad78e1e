"""Image references as plain values: every `repository:tag` and `repository@digest` the build
system writes is composed by `ImageReference`, and nowhere else (a unit test scans the sources
for hand-made ones). It knows nothing of the matrix: bake/core/naming.py names its images."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ImageReference:
    """`repository[:tag][@digest]`; the repository carries any registry and namespace. The
    platform is not part of the name: it says which platform of an index is meant."""

    repository: str
    tag: str | None = None
    digest: str | None = None
    platform: str | None = None

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.repository}{tag}{digest}"

    def with_tag(self, tag: str) -> ImageReference:
        return replace(self, tag=tag, digest=None)

    def at(self, digest: str) -> ImageReference:
        """The same repository, pinned to `digest` (the tag left out)."""
        return replace(self, tag=None, digest=digest)

    def in_registry(self, registry: str) -> ImageReference:
        """The same name under another registry host, e.g. a local one: `localhost:5000/...`."""
        return replace(self, repository=f"{registry}/{self.repository}")

    def with_serial(self, serial: int) -> ImageReference:
        """The `serial`-th date tag of one day: `python3.11-slim-2026-11-24.2`; the first has none."""
        if self.tag is None:
            raise ValueError(f"{self} has no tag to number")
        return self if serial == 1 else self.with_tag(f"{self.tag}.{serial}")


def parse_reference(text: str) -> ImageReference:
    """`repository[:tag][@digest]` read back; a registry port is not mistaken for a tag."""
    name, _, digest = text.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, None)
    return ImageReference(repository, tag, digest or None)
