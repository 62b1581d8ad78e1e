"""Waits for the ci workflow's run on this commit, so that publishing does not run lint and
the unit tests a second time:

    python3 -m bake.release.wait_for_ci        (in GitHub Actions, with GITHUB_TOKEN)

Exits 0 once a run of ci.yml on GITHUB_SHA has succeeded, 1 once every such run has ended
otherwise, or none succeeded within the deadline; one line says which. Standard library
only: it runs on a bare runner. The API's address is GitHub's own variable GITHUB_API_URL.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bake.errors import BakeError, reporting_errors
from bake.progress import say

WORKFLOW = "ci.yml"
DEADLINE_SECONDS = 90 * 60  # ci.yml's job may take 60 minutes, after waiting for a runner
INTERVAL_SECONDS = 30

# Reads the runs of WORKFLOW on a commit: the `workflow_runs` list of GitHub's API.
RunsReader = Callable[[], "Sequence[Mapping[str, Any]]"]


class CiFailed(BakeError):
    """ci.yml did not pass on the commit to publish."""

    exit_code = 1


def verdict(runs: Sequence[Mapping[str, Any]]) -> bool | None:
    """True once a run succeeded; False once runs exist and every one ended otherwise; None
    while a run is still going, or none has started yet."""
    if any(run.get("conclusion") == "success" for run in runs):
        return True
    if runs and all(run.get("status") == "completed" for run in runs):
        return False
    return None


def wait(read: RunsReader, sha: str, clock: Callable[[], float] = time.monotonic) -> None:
    deadline = clock() + DEADLINE_SECONDS
    while True:
        runs = read()
        result = verdict(runs)
        if result is True:
            say(f"{WORKFLOW} passed on {sha}")
            return
        if result is False:
            conclusions = ", ".join(sorted({str(run.get("conclusion")) for run in runs}))
            raise CiFailed(f"{WORKFLOW} did not pass on {sha} ({conclusions}): nothing is published")
        if clock() >= deadline:
            raise CiFailed(f"{WORKFLOW} has not passed on {sha} after {DEADLINE_SECONDS // 60} minutes")
        time.sleep(INTERVAL_SECONDS)


def github_runs(environment: Mapping[str, str]) -> RunsReader:
    missing = [name for name in ("GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_TOKEN")
               if not environment.get(name)]  # fmt: skip
    if missing:
        raise BakeError(f"waiting for {WORKFLOW} needs {', '.join(missing)} set (GitHub Actions sets them)")
    url = (
        f"{environment['GITHUB_API_URL']}/repos/{environment['GITHUB_REPOSITORY']}/actions/workflows/"
        f"{WORKFLOW}/runs?head_sha={environment['GITHUB_SHA']}&event=push"
    )
    headers = {"Authorization": f"Bearer {environment['GITHUB_TOKEN']}", "Accept": "application/vnd.github+json"}

    def read() -> Sequence[Mapping[str, Any]]:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            runs: list[Mapping[str, Any]] = json.load(response).get("workflow_runs", [])
            return runs

    return read


def main() -> int:
    def run() -> int:
        wait(github_runs(os.environ), os.environ.get("GITHUB_SHA", ""))
        return 0

    return reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
