"""The one reading of a running server that the image tests and the benchmark share, run here
against this machine's own processes and made-up output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devtools.server_probes import ServerReader, ServerReadError


class ThisMachine(ServerReader):
    def __init__(self, logs: str = "") -> None:
        self._logs = logs

    def logs(self) -> str:
        return self._logs

    def python(self, source: str) -> str:
        return subprocess.run([sys.executable, "-c", source], check=True, capture_output=True, text=True).stdout


def test_settings_are_the_json_line_among_the_logs() -> None:
    logs = '[INFO] Starting gunicorn\n{"workers": {"count": 3}, "bind": "0.0.0.0:80"}\n[INFO] Booting worker\n'
    assert ThisMachine(logs).settings() == {"workers": {"count": 3}, "bind": "0.0.0.0:80"}


def test_no_settings_line_says_so_with_the_logs() -> None:
    with pytest.raises(ServerReadError, match="no settings line in the output:\nerror: PORT"):
        ThisMachine("error: PORT='x' is not valid\n").settings()


def _children_of_pid_1(machine: ThisMachine) -> set[int]:
    return {int(fields[0]) for fields in map(str.split, machine.processes().splitlines()) if fields[1] == "1"}


def test_processes_list_the_reader_itself_with_its_parent() -> None:
    listed = [line.split(maxsplit=3) for line in ThisMachine().processes().splitlines()]
    readers = [fields for fields in listed if len(fields) == 4 and "for process in processes()" in fields[3]]
    assert [int(fields[1]) for fields in readers] == [os.getpid()]


def test_workers_are_the_children_of_pid_1() -> None:
    machine = ThisMachine()
    before = _children_of_pid_1(machine)
    workers = machine.worker_pids()
    after = _children_of_pid_1(machine)
    assert workers and set(workers) <= before | after


class ChildrenOfThisProcess(ThisMachine):
    """This test process as the manager: its children are the workers."""

    manager_pid = os.getpid()


def test_a_worker_that_died_unreaped_is_no_worker() -> None:
    """A killed worker stays a zombie (state Z) until its manager reaps it: it must not count
    as the replacement that has not started yet."""
    with subprocess.Popen(["sleep", "600"]) as alive, subprocess.Popen(["true"]) as dead:
        try:
            os.waitid(os.P_PID, dead.pid, os.WEXITED | os.WNOWAIT)  # it has exited, and is not reaped
            workers = ChildrenOfThisProcess().worker_pids()
        finally:
            alive.kill()
    assert alive.pid in workers
    assert dead.pid not in workers
