"""The virtual-machine host harness, without booting anything."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bake.errors import UsageError
from bake.paths import REPO_ROOT
from devtools.hosttest import cgroup2, vm, vms
from devtools.hosttest.cgroup2 import DOCKER_CASES, PODMAN_CASES, LimitsCase, judge
from devtools.hosttest.machine import HostTestError
from devtools.hosttest.vm_disk import GuestDisk

USERNET = """Hub -1 (n0):
  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ
  TCP[HOST_FORWARD]   9       127.0.0.1 37387       10.0.2.15    22     0     0
"""
CASE = LimitsCase("--cpus 1", ("--cpus", "1"), 4, "1 CPU", warnings=("warning: /sys/fs/cgroup/cpu.max: ignoring",))
WARNING_SEEN = "warning: /sys/fs/cgroup/cpu.max: ignoring 'x', expected ..."
SEEN: dict[str, object] = {
    "case": "--cpus 1",
    "settings": {"count": 4},
    "processes": 4,
    "warnings": [WARNING_SEEN],
    "tracebacks": 0,
    "seconds_to_workers": 3.0,
}


def test_the_forwarded_ssh_port_is_read_from_qemus_table() -> None:
    assert vm.forwarded_ssh_port(USERNET) == 37387
    with pytest.raises(HostTestError, match="no forwarded SSH port"):
        vm.forwarded_ssh_port(USERNET.replace("HOST_FORWARD", "ESTABLISHED"))


def test_qemu_forwards_only_loopback_to_the_guests_ssh(tmp_path: Path) -> None:
    disk = GuestDisk(tmp_path / "disk.raw", tmp_path / "vmlinuz", tmp_path / "initrd.img")
    accelerator = vm.Accelerator("tcg", vm.TCG_ARGUMENTS, "test")
    command = vm.qemu_command("guest", disk, tmp_path / "o.qcow2", tmp_path, accelerator, 4096, 2)
    networks = [command[index + 1] for index, word in enumerate(command) if word == "-netdev"]
    assert networks == ["user,id=n0,hostfwd=tcp:127.0.0.1:0-:22"]
    assert command[command.index("-accel") + 1] == "tcg,thread=multi"
    with_payload = vm.qemu_command("guest", disk, tmp_path / "o.qcow2", tmp_path, accelerator, 4096, 2, tmp_path / "p")
    assert f"file={tmp_path / 'p'},format=raw,if=virtio,readonly=on" in with_payload


def test_a_remembered_kvm_verdict_is_used_without_probing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verdict = tmp_path / "verdict.json"
    verdict.write_text(json.dumps({"kvm_boots": False, "probed": "2026-12-02", "seconds": 20.0}))
    monkeypatch.setattr(vm, "_verdict_path", lambda: verdict)
    monkeypatch.setattr(os, "access", lambda path, mode: True)
    monkeypatch.setattr(vm, "kvm_boots", lambda disk, seconds=0: pytest.fail("probed again"))
    chosen = vm.choose_accelerator(GuestDisk(tmp_path, tmp_path, tmp_path))
    assert chosen.name == "tcg"
    assert "no kernel line within 20 s under KVM" in chosen.line()
    verdict.write_text(json.dumps({"kvm_boots": True, "probed": "2026-12-02", "seconds": 20.0}))
    assert vm.choose_accelerator(GuestDisk(tmp_path, tmp_path, tmp_path)).arguments == vm.KVM_ARGUMENTS


def test_without_dev_kvm_the_guest_is_emulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert vm.choose_accelerator(GuestDisk(tmp_path, tmp_path, tmp_path)).reason == "no usable /dev/kvm"


def test_a_case_passes_only_on_the_count_its_limits_make() -> None:
    assert judge(CASE, SEEN).ok
    assert not judge(CASE, SEEN | {"processes": 8}).ok
    assert "the settings line says 8" in judge(CASE, SEEN | {"settings": {"count": 8}}).detail
    assert "no warning" in judge(CASE, SEEN | {"warnings": []}).detail
    assert "unexpected warnings" in judge(CASE, SEEN | {"warnings": [WARNING_SEEN, "warning: other"]}).detail
    assert "a traceback" in judge(CASE, SEEN | {"tracebacks": 1}).detail
    assert "could not run" in judge(CASE, {"case": CASE.name, "error": "boom"}).detail


def test_a_stopped_case_needs_a_clean_exit_and_a_served_request() -> None:
    (podman,) = PODMAN_CASES
    seen = SEEN | {"settings": {"count": 2}, "processes": 2, "warnings": [], "status": 200}
    assert judge(podman, seen | {"exit_code": 0, "stop_seconds": 1.0}).ok
    assert "exit code 137" in judge(podman, seen | {"exit_code": 137, "stop_seconds": 30.0}).detail
    assert "answered None" in judge(podman, seen | {"exit_code": 0, "status": None}).detail


def test_every_cpu_case_can_tell_a_missed_limit() -> None:
    """On a 2-CPU guest at 4 workers per CPU a missed limit makes 8: no case that sets a limit
    may expect 8 unless it says why the limit is not seen."""
    for case in DOCKER_CASES:
        assert case.environment["WORKERS_PER_CORE"] == "4"
        if case.workers == 8 and case.options:
            assert "not seen" in case.why or "ignored" in case.why or "no cap" in case.why, case


def test_the_pod_slice_is_named_and_limited_as_kubelet_does() -> None:
    name = cgroup2.pod_name("5f1c2b1e-0d4a-4c8e-9f1e-2a9e6c1d7b3a")
    assert name == "kubepods-burstable-pod5f1c2b1e_0d4a_4c8e_9f1e_2a9e6c1d7b3a.slice"
    script = cgroup2.pod_slice(name, 100, "256M")
    assert "CPUQuota=100%" in script and "MemoryMax=256M" in script
    assert f"systemctl start {name}" in script


def test_cases_side_by_side_share_no_pod() -> None:
    """The cases run at once: two servers in one pod's memory limit could push each other out."""
    parents = [option for case in DOCKER_CASES for option in case.options if option.startswith("--cgroup-parent=")]
    assert len(parents) == 4
    assert len(set(parents)) == len(parents)


def test_each_scenario_runs_on_a_known_guest() -> None:
    assert {scenario.guest for scenario in vms.SCENARIOS.values()} <= set(vms.GUESTS)
    assert vms.parse(["--scenario", "limits"]).scenario == ["limits"]
    with pytest.raises(UsageError, match="nox -s vms: argument --scenario: invalid choice: 'nonsense'"):
        vms.parse(["--scenario", "nonsense"])


def test_the_guest_counts_a_containers_workers_from_its_own_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guest's runner reads the processes in its own interpreter, with the container's PID 1
    as the engine names it: here, this process and two children of its own."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "devtools"))  # where the guest has polling.py and server_probes.py
    from devtools.hosttest.guest_limits import GuestContainer

    reader = GuestContainer.__new__(GuestContainer)  # no engine here: only the reading is tested
    reader.manager_pid = os.getpid()
    children = [subprocess.Popen(["sleep", "30"]) for _ in range(2)]
    try:
        assert sorted(reader.worker_pids()) == sorted(child.pid for child in children)
        children[0].kill()
        children[0].wait()
        assert reader.worker_count() == 1
    finally:
        for child in children:
            child.kill()
            child.wait()
