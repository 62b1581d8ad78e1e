"""The host test harness's own logic (no engine needed); the scenarios themselves run in `nox -s hosts`."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from bake.core.debian_sources import Mirrors
from bake.core.matrix import load_matrix
from bake.core.selection import select
from bake.engine.standin import recipe_for
from bake.paths import REPO_ROOT
from devtools.hosttest import machine, scenarios
from devtools.hosttest.__main__ import chosen
from devtools.hosttest.machine import (
    CA_TARGET,
    MASKED_UNITS,
    Step,
    binfmt_entries,
    mmdebstrap_command,
    repo_files,
    restore_binfmt,
    rootfs_key,
    run_options,
)
from devtools.hosttest.scenarios import SCENARIOS, Outcome, ready, reran_quietly, result_line, standin_tarballs

MIRRORS = Mirrors("http://archive.example/debian", "http://security.example/debian-security")
BEFORE_PYTHON_3_11_EOL = date(2026, 11, 24)  # the harness's tag is current then
READY_LINE = "setup-host: ready, nothing changed: engine 26.1.5 with the containerd image store"


def test_the_host_is_debian_12_with_systemd_and_nothing_of_the_projects() -> None:
    command = mmdebstrap_command(Path("/out.tar"), MIRRORS)
    included = next(arg for arg in command if arg.startswith("--include=")).split("=", 1)[1].split(",")
    assert "systemd-sysv" in included
    assert not {"python3", "docker.io", "docker-cli", "ca-certificates"} & set(included)
    assert command[command.index("/out.tar") - 1] == "bookworm"
    sources = command[command.index("/out.tar") + 1 :]
    assert sources == [
        "deb http://archive.example/debian bookworm main",
        "deb http://archive.example/debian bookworm-updates main",
        "deb http://security.example/debian-security bookworm-security main",
    ]


def test_units_that_unregister_binary_formats_kernel_wide_are_masked() -> None:
    hooks = [arg for arg in mmdebstrap_command(Path("/out.tar"), MIRRORS) if arg.startswith("--customize-hook=")]
    for unit in ("systemd-binfmt.service", "binfmt-support.service"):
        assert unit in MASKED_UNITS
        assert f'--customize-hook=ln -sf /dev/null "$1/etc/systemd/system/{unit}"' in hooks


def test_the_root_filesystem_key_follows_the_mirror() -> None:
    assert rootfs_key(MIRRORS) == rootfs_key(Mirrors(MIRRORS.archive, MIRRORS.security))
    assert rootfs_key(MIRRORS) != rootfs_key(Mirrors("http://other.example/debian", None))


def test_a_systemd_host_runs_privileged_with_its_own_cgroups_tmpfs_and_the_hosts_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\n")
    monkeypatch.setattr(machine, "PIP_CONF", pip_conf)
    options = run_options("h", [("vol-docker", "/var/lib/docker")], Path("/ca.crt"), systemd=True)
    assert options["privileged"] is True and options["cgroupns"] == "private"
    assert options["tmpfs"] == ["/run", "/run/lock"]
    assert options["volumes"] == [
        ("vol-docker", "/var/lib/docker"),
        ("/ca.crt", CA_TARGET, "ro"),
        (str(pip_conf), str(pip_conf), "ro"),
    ]
    assert "command" not in options  # the image's /sbin/init


def test_a_host_without_systemd_runs_no_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "PIP_CONF", tmp_path / "absent.conf")
    options = run_options("h", [], Path("/ca.crt"), systemd=False)
    assert options["command"] == ["sleep", "infinity"]
    assert options["volumes"] == [("/ca.crt", CA_TARGET, "ro")]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True)


def test_the_copy_has_the_work_trees_files_as_they_are_now(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    for name in ("kept.txt", "edited.txt", "deleted.txt", ".gitignore"):
        (tmp_path / name).write_text("ignored.txt\n" if name == ".gitignore" else name)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "start")
    (tmp_path / "edited.txt").write_text("uncommitted")
    (tmp_path / "deleted.txt").unlink()
    (tmp_path / "new.txt").write_text("new")
    (tmp_path / "ignored.txt").write_text("ignored")
    assert repo_files(tmp_path) == [".gitignore", "edited.txt", "kept.txt", "new.txt"]


def test_the_repository_copy_carries_setup_host() -> None:
    assert "setup-host.sh" in repo_files(REPO_ROOT)


def test_formats_a_test_host_added_are_unregistered_and_changes_reported(tmp_path: Path) -> None:
    for name, text in {"register": "", "status": "enabled", "qemu-aarch64": "enabled\nflags: PF\n"}.items():
        (tmp_path / name).write_text(text)
    before = binfmt_entries(tmp_path)
    assert before == {"qemu-aarch64": "enabled\nflags: PF\n"}
    (tmp_path / "qemu-ppc").write_text("enabled\n")
    (tmp_path / "qemu-aarch64").write_text("enabled\nflags: P\n")
    added, changed = restore_binfmt(before, tmp_path)
    assert added == ["qemu-ppc"] and (tmp_path / "qemu-ppc").read_text() == "-1"  # the kernel's "remove"
    assert changed == ["qemu-aarch64"]


def test_no_binfmt_misc_means_no_formats(tmp_path: Path) -> None:
    assert binfmt_entries(tmp_path) == {}


def _step(output: str, returncode: int = 0) -> Step:
    return Step("./setup-host.sh", returncode, 1.0, output)


def test_a_rerun_must_say_only_that_nothing_changed() -> None:
    assert reran_quietly(_step(f"{READY_LINE}\n"))
    assert not reran_quietly(_step(f"setup-host: installing wrk\n{READY_LINE}\n"))
    assert not reran_quietly(_step("setup-host: ready: engine 26.1.5\n"))
    assert not reran_quietly(_step(f"{READY_LINE}\n", returncode=1))


def test_ready_is_the_last_line_of_a_successful_run() -> None:
    assert ready(_step("apt noise\nsetup-host: installing x\nsetup-host: ready: engine\n"))
    assert not ready(_step("setup-host: ready: engine\nsetup-host: error: later\n"))
    assert not ready(_step("setup-host: ready: engine\n", returncode=1))


def test_one_result_line_per_scenario() -> None:
    line = result_line(Outcome("docker.io", True, 95.4, "merged"))
    assert line == "docker.io   ok        95 s  merged"
    assert result_line(Outcome("fresh", False, 3, "why")).split()[:2] == ["fresh", "FAILED"]


def test_a_scenario_on_another_ones_host_brings_it_along_in_order() -> None:
    assert chosen(["stop"]) == ["fresh", "stop"]
    assert chosen(["no-systemd", "rerun"]) == ["fresh", "rerun", "no-systemd"]
    assert chosen(None) == list(SCENARIOS)


def test_cached_standins_are_found_under_the_names_bake_gives_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UVICORN_GUNICORN_CACHE", str(tmp_path))
    # The matrix of a day the harness's tag is current, whatever today is.
    monkeypatch.setattr(scenarios, "load_matrix", lambda: load_matrix(BEFORE_PYTHON_3_11_EOL))
    assert standin_tarballs() == []
    (tmp_path / "rootfs").mkdir()
    (image,) = select(load_matrix(BEFORE_PYTHON_3_11_EOL), ["python3.11-slim"])
    recipe = recipe_for(image)
    amd64 = tmp_path / "rootfs" / f"{recipe.name}-amd64-{recipe.rootfs_key}.tar"
    amd64.write_text("")
    (tmp_path / "rootfs" / f"{recipe.name}-arm64-{recipe.rootfs_key}.partial.tar").write_text("")
    assert standin_tarballs() == [amd64]
