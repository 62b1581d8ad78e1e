"""Tries ./setup-host.sh on fresh Debian hosts: privileged containers with systemd as PID 1.

`nox -s hosts` runs the scenarios (`python -m devtools.hosttest --help` lists them). Each host is
a Debian 12 root filesystem bootstrapped here with mmdebstrap, the way stand-in bases are,
from the mirror the host's own apt uses; it has Debian's packages only (no docker client, no
python3). The repository goes in as a copy of the work tree, so uncommitted edits are tried.
"""
