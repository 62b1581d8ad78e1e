"""Which processes of a running image are its workers: Python source to run inside the container."""

# PID 1 is the process manager and its children are the workers, except multiprocessing's
# resource tracker, which Uvicorn's manager may start. Defines worker_pids() -> list[int].
DEFINE_WORKER_PIDS = """
import os
def _parent_and_command(pid):
    with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return stat.read().rsplit(")", 1)[1].split()[1], cmdline.read()
def worker_pids():
    pids = []
    for pid in sorted(int(name) for name in os.listdir("/proc") if name.isdigit()):
        try:
            parent, command = _parent_and_command(pid)
        except OSError:  # it exited meanwhile
            continue
        if parent == "1" and b"resource_tracker" not in command:
            pids.append(pid)
    return pids
"""
