"""Bytecode of the base image's own Python, for the image (images/Dockerfile, stage base-bytecode).

    python base_bytecode.py STAGE [EPOCH]

Run by the base's interpreter on the build machine's platform: compiles the standard library and
the base's site-packages in place, hash-checked, then copies every bytecode file under STAGE at
its own path, dated EPOCH (seconds) if given. The official python images ship no bytecode (their
build deletes it) and the image sets PYTHONDONTWRITEBYTECODE: without this, every start compiled
each module of the standard library it imported, every time.

Hash-checked bytecode records its source's hash, not its mtime, so it is valid on another
platform's files of the same CPython; where a platform's source differs, Python compiles that
module rather than trusting the bytecode.
"""

from __future__ import annotations

import compileall
import py_compile
import re
import shutil
import sys
import sysconfig
from pathlib import Path

from native_install import date_tree  # images/native_install.py, mounted beside this file

# What a server never imports: test suites, IDLE, Tk and its demos, 2to3, the bundled wheels,
# pydoc's topics, and the packaging tools, which only image builds run.
LEFT_OUT = re.compile(
    r"/(test|tests|idle_test|idlelib|tkinter|turtledemo|lib2to3|ensurepip|pydoc_data"
    r"|pip|setuptools|pkg_resources|wheel)/"
)


def library_roots() -> list[Path]:
    """The standard library and the base's site-packages (which may lie inside it), each once."""
    paths = {Path(sysconfig.get_path(name)) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    return sorted(path for path in paths if path.is_dir() and not any(other in path.parents for other in paths))


def compile_in_place(roots: list[Path]) -> None:
    mode = py_compile.PycInvalidationMode.CHECKED_HASH
    for root in roots:
        # quiet=2: a file the interpreter cannot compile (a template, a sample of another
        # Python's syntax) stays without bytecode, as any import of it would fail anyway.
        compileall.compile_dir(root, quiet=2, force=True, rx=LEFT_OUT, workers=0, invalidation_mode=mode)


def bytecode_files(roots: list[Path]) -> list[Path]:
    tag = f".{sys.implementation.cache_tag}.pyc"
    return sorted(
        path
        for root in roots
        for path in root.rglob(f"__pycache__/*{tag}")
        if not LEFT_OUT.search(str(path)) and path.name.count(".") == 2  # no .opt-N levels
    )


def copy_under(stage: Path, files: list[Path], epoch: int | None) -> None:
    for path in files:
        target = stage / path.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    date_tree(stage, epoch)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(f"usage: {argv[0]} STAGE [EPOCH], not {argv[1:]}", file=sys.stderr)
        return 2
    given = argv[2] if len(argv) == 3 else ""
    if given and not given.isdigit():
        print(f"error: EPOCH={given!r} is not valid: expected seconds since 1970, or nothing", file=sys.stderr)
        return 2
    stage = Path(argv[1])
    epoch = int(given) if given else None
    roots = library_roots()
    compile_in_place(roots)
    files = bytecode_files(roots)
    copy_under(stage, files, epoch)
    print(f"base-bytecode: {len(files)} modules of {', '.join(map(str, roots))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
