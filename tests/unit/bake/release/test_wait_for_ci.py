"""Publishing a push waits for ci.yml's verdict on the same commit instead of running its checks again."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from bake.release import wait_for_ci
from bake.release.wait_for_ci import CiFailed, verdict, wait


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        ([], None),
        ([{"status": "in_progress", "conclusion": None}], None),
        ([{"status": "completed", "conclusion": "success"}], True),
        ([{"status": "completed", "conclusion": "failure"}, {"status": "completed", "conclusion": "success"}], True),
        ([{"status": "completed", "conclusion": "failure"}], False),
        ([{"status": "completed", "conclusion": "cancelled"}, {"status": "queued", "conclusion": None}], None),
    ],
)
def test_the_verdict_of_the_commits_runs(runs: list[dict[str, Any]], expected: bool | None) -> None:
    assert verdict(runs) is expected


def test_waiting_polls_until_ci_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[Sequence[Mapping[str, Any]]] = [[], [{"status": "in_progress"}], [{"conclusion": "success"}]]
    monkeypatch.setattr(time, "sleep", lambda _: None)
    wait(lambda: answers.pop(0), "abc", clock=lambda: 0.0)
    assert answers == []


def test_a_failed_ci_stops_the_release_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    with pytest.raises(CiFailed, match=r"^ci.yml did not pass on abc \(failure\): nothing is published$"):
        wait(lambda: [{"status": "completed", "conclusion": "failure"}], "abc", clock=lambda: 0.0)


def test_past_the_deadline_the_release_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    times = iter([0.0, float(wait_for_ci.DEADLINE_SECONDS)])
    with pytest.raises(CiFailed, match="has not passed on abc after 90 minutes"):
        wait(lambda: [{"status": "queued"}], "abc", clock=lambda: next(times))
