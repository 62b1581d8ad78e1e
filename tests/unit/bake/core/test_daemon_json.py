from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bake.core.daemon_json import DaemonConfigError, main, merge_file, merged
from bake.paths import REPO_ROOT

ENABLED = {"features": {"containerd-snapshotter": True}}


@pytest.mark.parametrize("text", ["", "  \n", "{}"])
def test_an_empty_or_missing_configuration_gets_only_the_feature(text: str) -> None:
    assert json.loads(merged(text) or "") == ENABLED


def test_other_settings_stay_as_they_were_and_in_their_order() -> None:
    runner = {"exec-opts": ["native.cgroupdriver=cgroupfs"], "cgroup-parent": "/actions_job", "features": {"cdi": True}}
    result = json.loads(merged(json.dumps(runner)) or "")
    assert list(result) == ["exec-opts", "cgroup-parent", "features"]
    assert result["exec-opts"] == runner["exec-opts"] and result["cgroup-parent"] == "/actions_job"
    assert result["features"] == {"cdi": True, "containerd-snapshotter": True}


def test_already_enabled_means_no_change() -> None:
    assert merged(json.dumps({"debug": True, **ENABLED})) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"features": {"containerd-snapshotter": false}}', "set it to true"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "does not hold a JSON object"),
        ('{"features": ["containerd-snapshotter"]}', '"features" is not a JSON object'),
    ],
)
def test_a_file_it_cannot_merge_without_overriding_or_losing_something_is_refused(text: str, says: str) -> None:
    with pytest.raises(DaemonConfigError, match=says):
        merged(text, "/etc/docker/daemon.json")


def test_merge_file_writes_atomically_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    path.write_text('{"log-level": "warn"}\n')
    path.chmod(0o600)
    assert merge_file(path) is True
    assert json.loads(path.read_text()) == {"log-level": "warn", **ENABLED}
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["daemon.json"]
    before = path.stat().st_mtime_ns
    assert merge_file(path) is False
    assert path.stat().st_mtime_ns == before


def test_merge_file_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "docker" / "daemon.json"
    assert merge_file(path) is True
    assert json.loads(path.read_text()) == ENABLED


def test_the_command_line_says_one_thing_and_leaves_a_bad_file_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "daemon.json"
    assert main([str(path)]) == 0
    assert capsys.readouterr().out == f"enabled the containerd image store in {path}\n"
    assert main([str(path)]) == 0
    assert capsys.readouterr().out == "unchanged\n"
    path.write_text("{broken")
    assert main([str(path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1
    assert path.read_text() == "{broken"


def test_it_runs_with_a_bare_interpreter_from_the_repository(tmp_path: Path) -> None:
    """setup-host.sh runs it with the host's python3: no site-packages (-S), the standard library only."""
    path = tmp_path / "daemon.json"
    result = subprocess.run(
        [sys.executable, "-S", "-E", "-m", "bake.core.daemon_json", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(path.read_text()) == ENABLED
