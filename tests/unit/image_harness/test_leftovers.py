"""Which containers and images of the image tests are left over from a session that is over
(tests/image/leftovers.py), read against this machine's own processes."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.image.leftovers import Session, is_over, process_start, session_labels, this_session

HERE = Session("builder", "boot-1", 4242, 1000)


def test_a_label_reads_back_as_its_session() -> None:
    assert Session.parse(str(HERE)) == HERE


@pytest.mark.parametrize("text", ["", "builder", "builder/boot-1/4242", "builder/boot-1/x/1000", "a/b/1/2/3", "//1/2"])
def test_a_label_of_another_kind_is_no_session(text: str) -> None:
    assert Session.parse(text) is None


def test_this_process_is_a_running_session() -> None:
    here = this_session()
    assert here.pid == os.getpid()
    assert process_start(os.getpid()) == here.started
    assert not is_over(str(here), here)
    assert session_labels() == {"uvicorn-gunicorn-test.session": str(here)}


def test_a_session_whose_process_exited_is_over() -> None:
    here = this_session()
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = replace(here, pid=int(child.stdout))
    assert process_start(gone.pid) is None
    assert is_over(str(gone), here)


def test_a_pid_taken_again_by_another_process_is_over() -> None:
    here = this_session()
    assert is_over(str(replace(here, started=here.started - 1)), here)


def test_a_session_of_an_earlier_boot_is_over_whatever_its_pid() -> None:
    here = this_session()
    assert is_over(str(replace(here, boot="an-earlier-boot")), here)


def test_a_session_of_another_host_or_another_kind_is_kept() -> None:
    here = this_session()
    assert not is_over(str(replace(here, host="another-host", boot="another-boot")), here)
    assert not is_over("written by something else", here)


def test_a_process_start_is_read_past_a_command_name_with_spaces(tmp_path: Path) -> None:
    (tmp_path / "77").mkdir()
    fields = ["S", *map(str, range(1, 19)), "123456"]  # state, then fields 4 to 21, then starttime
    (tmp_path / "77" / "stat").write_text(f"77 (a (b) c) {' '.join(fields)} 0 0\n")
    assert process_start(77, tmp_path) == 123456
