"""The GitHub workflows are valid, pin every action by commit, and ask for least privilege."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bake.paths import REPO_ROOT, WORKFLOW_DIR
from devtools.workflow_run.actions import PINNED, USES

WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))


def _check_schema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True)


def test_there_are_workflows() -> None:
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "publish.yml"}


def test_workflows_match_the_github_schema() -> None:
    result = _check_schema("vendor.github-workflows", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_matches_its_schema() -> None:
    result = _check_schema("vendor.dependabot", REPO_ROOT / ".github" / "dependabot.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit_with_its_version(workflow: Path) -> None:
    uses = USES.findall(workflow.read_text())
    assert uses, "no actions at all"
    for action, comment in uses:
        if action.startswith("./.github/workflows/"):
            continue  # this repository's own reusable workflow, at the same commit
        assert PINNED.match(action), f"{action} is not pinned to a full commit SHA"
        assert re.search(r"#\s*v\d", comment), f"{action} has no version comment"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_least_privilege(workflow: Path) -> None:
    text = workflow.read_text()
    assert re.search(r"^permissions:\n  contents: read\n", text, re.MULTILINE), "top-level permissions must be read"
    assert "write-all" not in text
    assert "persist-credentials: false" in text


def test_workflows_run_the_projects_own_sessions() -> None:
    sessions = set(re.findall(r"^def (\w+)\(session", (REPO_ROOT / "noxfile.py").read_text(), re.MULTILINE))
    used = {
        name
        for workflow in WORKFLOWS
        for name in re.findall(r"nox -s ([\w ]+?)(?: --|$)", workflow.read_text(), re.MULTILINE)
        for name in name.split()
    }
    assert used, "the workflows run no nox session"
    assert used <= sessions, f"unknown sessions: {used - sessions}"
