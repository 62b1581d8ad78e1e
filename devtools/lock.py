"""`python -m devtools.lock`: write the lock files of every CPython version and platform of today's
matrix (needs the package index): common/locks/ from common/requirements.txt, and each flavor's
images/flavors/FLAVOR/locks/ with what its framework adds to that stack (the stack's pins are
constraints, so a flavor never moves one). Lock files of versions no longer built are removed."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bake.core.locks import LOCK_COMMAND, Target, flavor_lock, locked, stack_lock, targets
from bake.core.matrix import Flavor, load_matrix
from bake.errors import BakeError, reporting_errors
from bake.options import OptionParser
from bake.paths import REPO_ROOT, STACK_REQUIREMENTS
from bake.progress import say

# uv resolves for a platform by its markers; the hashes it writes are those of every file of each
# pinned version (each wheel and the sdist), so the glibc named here decides nothing.
UV_PLATFORMS = {"linux/amd64": "x86_64-manylinux_2_17", "linux/arm64": "aarch64-manylinux_2_17"}


class LockError(BakeError):
    """uv could not lock a set of requirements."""


def _header(target: Target, source: str) -> str:
    return (
        f"# Locked by `{LOCK_COMMAND}` from {source} for CPython {target.python} on {target.platform}:\n"
        "# edit that, not this file. Every file of each pinned version, by its hash.\n"
    )


def compile_lock(target: Target, requirements: Path, constraints: Path | None = None) -> str:
    """uv's lock of `requirements` for `target`, without comments."""
    with tempfile.TemporaryDirectory(prefix="lock-") as directory:
        output = Path(directory) / "lock.txt"
        command = ["uv", "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--generate-hashes"]
        command += ["--python-version", target.python, "--python-platform", UV_PLATFORMS[target.platform]]
        command += [str(requirements), "-o", str(output)]
        if constraints is not None:
            command += ["-c", str(constraints)]
        result = subprocess.run(command, text=True, capture_output=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise LockError(f"uv could not lock {requirements.name} for {target.python} on {target.platform}: {last}")
        return output.read_text()


def _without(lock: str, names: set[str]) -> str:
    """`lock` less the pins named (each with its hash lines)."""
    kept: list[str] = []
    keep = True
    for line in lock.splitlines(keepends=True):
        if not line.startswith((" ", "\t")):
            keep = not (line.strip() and set(locked(line.rstrip(" \\\n"))) <= names)
        if keep:
            kept.append(line)
    return "".join(kept)


def lock_stack(target: Target) -> Path:
    path = stack_lock(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_header(target, "common/requirements.txt") + compile_lock(target, STACK_REQUIREMENTS))
    return path


def lock_flavor(flavor: Flavor, target: Target, stack: Path) -> Path:
    """What `flavor` adds to the stack locked in `stack`, whose pins constrain it."""
    with tempfile.TemporaryDirectory(prefix="lock-") as directory:
        wanted = Path(directory) / "requirements.txt"
        wanted.write_text(STACK_REQUIREMENTS.read_text() + "\n".join(flavor.requirements) + "\n")
        whole = compile_lock(target, wanted, constraints=stack)
    path = flavor_lock(flavor, target)
    path.parent.mkdir(parents=True, exist_ok=True)
    source = f"images/matrix.toml ([flavors.{flavor.name}])"
    path.write_text(_header(target, source) + _without(whole, set(locked(stack.read_text()))))
    return path


def _remove_stale(written: set[Path], directories: Sequence[Path]) -> None:
    for directory in directories:
        for path in sorted(directory.glob("python*.txt")):
            if path not in written:
                path.unlink()
                say(f"removed {path.relative_to(REPO_ROOT)}: no image of today's matrix needs it")


def write_locks() -> int:
    matrix = load_matrix()
    written: set[Path] = set()
    for target in targets(matrix.images):
        stack = lock_stack(target)
        written.add(stack)
        for flavor in matrix.flavors:
            written.add(lock_flavor(flavor, target, stack))
        say(f"locked CPython {target.python} on {target.platform}")
    directories = {path.parent for path in written}
    _remove_stale(written, sorted(directories))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    OptionParser(f"python -m devtools.lock ({LOCK_COMMAND})", __doc__).parse(sys.argv[1:] if argv is None else argv)
    return reporting_errors(write_locks)


if __name__ == "__main__":
    sys.exit(main())
