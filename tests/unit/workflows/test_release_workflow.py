"""publish.yml's release path: the daily run rebuilds only moved bases, the merge alone may sign."""

from __future__ import annotations

import re

from bake.paths import WORKFLOW_DIR

PUBLISH = (WORKFLOW_DIR / "publish.yml").read_text()


def _job(name: str) -> str:
    match = re.search(rf"^  {name}:\n(.*?)(?=^  \w[\w-]*:\n|\Z)", PUBLISH, re.MULTILINE | re.DOTALL)
    assert match, f"publish.yml has no job {name}"
    return match.group(1)


def test_the_base_check_runs_on_one_of_the_schedules() -> None:
    crons = re.findall(r'^\s+- cron: "([^"]+)"', PUBLISH, re.MULTILINE)
    checked = re.findall(r"github\.event\.schedule == '([^']+)'", _job("plan"))
    assert len(crons) == 2, "a weekly run of every tag and a daily run of the moved bases"
    assert checked and set(checked) == {crons[1]}, "the plan checks bases on the daily schedule alone"
    assert "IF_BASE_MOVED:" in _job("plan")


def test_nothing_is_built_when_no_base_moved() -> None:
    for job in ("amd64", "arm64", "merge"):
        assert "if: ${{ !cancelled() && !failure() && needs.plan.outputs.tags != '' }}" in _job(job)


def test_a_push_waits_for_ci_instead_of_running_its_checks_again() -> None:
    assert "nox -s lint" not in PUBLISH and "checks:" not in PUBLISH
    assert "if: github.event_name == 'push'" in _job("ci")
    assert "python3 -m bake.release.wait_for_ci" in _job("ci")
    for job in ("amd64", "arm64"):
        assert "needs: [plan, ci]" in _job(job)


def test_a_push_publishes_only_when_what_goes_into_an_image_changed() -> None:
    paths = re.search(r"^  push:\n(?:    .*\n)*?    paths:\n((?:      - .*\n)+)", PUBLISH, re.MULTILINE)
    assert paths, "push has a paths filter"
    listed = re.findall(r'- "([^"]+)"', paths.group(1))
    assert {"common/**", "images/**", "docker-bake.hcl"} <= set(listed)
    assert not any(path.startswith(("docs", "README", "tests")) for path in listed)


def test_registry_only_jobs_provision_no_build_tools() -> None:
    assert "sudo ./setup-host.sh --release-only" in _job("merge")
    assert "--no-emulation" not in _job("merge")


def test_only_the_merge_may_ask_for_an_oidc_token() -> None:
    assert PUBLISH.count("id-token: write") == 1
    assert "id-token: write" in _job("merge")
    assert "nox -s merge" in _job("merge")
