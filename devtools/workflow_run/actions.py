"""The actions the workflows use, pinned by commit, and local copies of them for act.

act cannot download an action offline; it is given a clone of each action's public
repository checked out at the pinned commit (`--local-repository OWNER/REPO@SHA=DIR`).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bake.errors import BakeError
from bake.paths import WORKFLOW_DIR

USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", re.MULTILINE)
PINNED = re.compile(r"^(?P<repository>[\w.-]+/[\w.-]+)(?:/[\w./-]+)?@(?P<commit>[0-9a-f]{40})$")


class ActionCopyError(BakeError):
    """An action has no local copy at its pinned commit."""


@dataclass(frozen=True, order=True)
class PinnedAction:
    repository: str  # owner/name
    commit: str

    @property
    def reference(self) -> str:
        return f"{self.repository}@{self.commit}"


def pinned_actions(workflow_dir: Path = WORKFLOW_DIR) -> list[PinnedAction]:
    """Every remote action the workflows use (local reusable workflows, `./...`, left out)."""
    found: set[PinnedAction] = set()
    for workflow in sorted(workflow_dir.glob("*.yml")):
        for uses, _comment in USES.findall(workflow.read_text()):
            match = PINNED.match(uses)
            if match:
                found.add(PinnedAction(match["repository"], match["commit"]))
    return sorted(found)


def _source_clone(action: PinnedAction, sources: Path) -> Path | None:
    owner, name = action.repository.split("/")
    for candidate in (sources / owner / name, sources / f"{owner}+{name}" / "repo", sources / f"{owner}+{name}"):
        if candidate.is_dir():
            return candidate
    return None


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout.strip()


def local_copy(action: PinnedAction, cache: Path, sources: Path | None) -> Path:
    """A work tree of `action` at its pinned commit under `cache`, cloned from `sources` once."""
    copy = cache / f"{action.repository.replace('/', '+')}@{action.commit}"
    if (copy / ".git").is_dir() and _git("-C", str(copy), "rev-parse", "HEAD") == action.commit:
        return copy
    clone = _source_clone(action, sources) if sources else None
    if clone is None:
        raise ActionCopyError(
            f"{action.reference} has no local copy: set ACTIONS_SOURCES to a directory holding a clone of "
            f"its repository as {action.repository} (or put a work tree at that commit in {copy})"
        )
    _git("clone", "--quiet", "--no-checkout", str(clone), str(copy))
    _git("-C", str(copy), "checkout", "--quiet", action.commit)
    return copy
