"""The build context of a reproducible build: the files the Dockerfiles copy (what
.dockerignore lets in), as the checkout has them, every file and folder dated FILE_TIME.

COPY keeps a file's modification time, and a checkout's times are those of the clone, not of
the commit: two clones of one commit would copy the same files with other times, so other
layers. BuildKit's `rewrite-timestamp` exporter option would clamp them, but the engine's
own image store cannot take it (BuildKit 0.13 refuses it together with the store's unpack).
The Dockerfiles date what their RUN steps write the same way (their FILE_TIME argument).
The working tree itself is left as it is."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bake.paths import REPO_ROOT

# What .dockerignore lets into the context, and that file itself.
CONTEXT_ROOTS = (".dockerignore", "common", "images")
# The time of every file in a layer: fixed, so that a layer depends on its contents alone, not
# on the commit or the day (the image's config has the commit's time, SOURCE_DATE_EPOCH).
# 1980-01-01: the oldest a zip archive can hold, so that zipping files of the image works.
FILE_TIME = 315_532_800


def context_files(root: Path = REPO_ROOT) -> list[str]:
    """The files under CONTEXT_ROOTS that git tracks or would (its ignored files, such as
    __pycache__, left out); without git, every file there but __pycache__."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *CONTEXT_ROOTS],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = [name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = [
            str(path.relative_to(root))
            for top in CONTEXT_ROOTS
            for path in sorted((root / top).rglob("*") if (root / top).is_dir() else [root / top])
            if path.is_file() and "__pycache__" not in path.parts
        ]
    return sorted(name for name in set(names) if (root / name).is_file() or (root / name).is_symlink())


def stage_context(destination: Path, epoch: int = FILE_TIME, root: Path = REPO_ROOT) -> None:
    """Copies the context's files into `destination`, each file and folder dated `epoch`."""
    folders: set[Path] = set()
    for name in context_files(root):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target, follow_symlinks=False)
        os.utime(target, (epoch, epoch), follow_symlinks=False)
        folders.update(Path(name).parents)
    for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
        os.utime(destination / folder, (epoch, epoch))


@contextlib.contextmanager
def reproducible_context(root: Path = REPO_ROOT) -> Iterator[Path]:
    """A temporary build context: the context files of the tree at `root` (the checkout, or a
    copy of it such as the bench's), dated FILE_TIME."""
    with tempfile.TemporaryDirectory(prefix="bake-context-") as directory:
        stage_context(Path(directory), root=root)
        yield Path(directory)
