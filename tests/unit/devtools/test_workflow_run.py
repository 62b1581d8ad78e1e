"""The pieces of `nox -s workflows`: pinned actions, their local copies, the Hub stand-in."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from bake.release.describe import update_description
from devtools.workflow_run.actions import ActionCopyError, PinnedAction, local_copy, pinned_actions
from devtools.workflow_run.hub_standin import hub_standin

SHA = "1" * 40


def test_every_remote_action_of_the_workflows_is_listed_once() -> None:
    actions = pinned_actions()
    assert {action.repository for action in actions} >= {"actions/checkout", "docker/login-action"}
    assert len({action.repository for action in actions}) == len(actions), "one pin per action"


def test_local_reusable_workflows_are_not_actions(tmp_path: Path) -> None:
    (tmp_path / "w.yml").write_text(
        f"jobs:\n  a:\n    uses: ./.github/workflows/x.yml\n  b:\n    steps:\n      - uses: o/r@{SHA} # v1\n"
    )
    assert pinned_actions(tmp_path) == [PinnedAction("o/r", SHA)]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout.strip()


def test_a_copy_is_cloned_at_the_pinned_commit_and_reused(tmp_path: Path) -> None:
    source = tmp_path / "sources" / "o+r" / "repo"
    source.mkdir(parents=True)
    _git("-C", str(source), "init", "--quiet")
    for text in ("first", "second"):
        (source / "action.yml").write_text(text)
        _git("-C", str(source), "add", "action.yml")
        _git("-C", str(source), "-c", "user.name=t", "-c", "user.email=t@example", "commit", "--quiet", "-m", text)
    first = _git("-C", str(source), "rev-parse", "HEAD~1")
    copy = local_copy(PinnedAction("o/r", first), tmp_path / "cache", tmp_path / "sources")
    assert (copy / "action.yml").read_text() == "first"
    assert local_copy(PinnedAction("o/r", first), tmp_path / "cache", None) == copy


def test_a_missing_copy_is_one_line_naming_the_action(tmp_path: Path) -> None:
    with pytest.raises(ActionCopyError, match=rf"^o/r@{SHA} has no local copy: set ACTIONS_SOURCES"):
        local_copy(PinnedAction("o/r", SHA), tmp_path / "cache", tmp_path)


def test_the_hub_standin_takes_the_description_as_the_hub_would() -> None:
    with hub_standin() as (api, record), requests.Session() as session:
        update_description(api, "acme/ug", "maintainer", "token", "# README\n", session)
    assert record.logins == ["maintainer"]
    assert record.descriptions == {"acme/ug": "# README\n"}
