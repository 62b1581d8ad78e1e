"""Turn on the containerd image store in a Docker engine's daemon.json, keeping every other setting.

setup-host.sh runs this as `python3 -m bake.core.daemon_json PATH` with the host's own python3
(standard library only). It prints one line saying what it did; an unreadable or
conflicting file stops it with one line on stderr and leaves the file as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bake.errors import BakeError, reporting_errors
from bake.progress import emit

FEATURE = "containerd-snapshotter"


class DaemonConfigError(BakeError):
    """The file cannot be merged without overriding a choice or losing content."""


def merged(text: str, where: str = "daemon.json") -> str | None:
    """The file's new text with the containerd image store on, or None when it already is."""
    if not text.strip():
        config: object = {}
    else:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as error:
            raise DaemonConfigError(f"{where} is not valid JSON ({error}); fix it, then rerun") from None
    if not isinstance(config, dict):
        raise DaemonConfigError(f"{where} does not hold a JSON object; fix it, then rerun")
    features = config.setdefault("features", {})
    if not isinstance(features, dict):
        raise DaemonConfigError(f'{where}: "features" is not a JSON object; fix it, then rerun')
    current = features.get(FEATURE)
    if current is True:
        return None
    if current is not None:
        raise DaemonConfigError(
            f'{where} sets "features": {{"{FEATURE}": {json.dumps(current)}}}; '
            "set it to true (the images need the containerd image store), then rerun"
        )
    features[FEATURE] = True
    return json.dumps(config, indent=2) + "\n"


def merge_file(path: Path) -> bool:
    """Merges in place (atomically, keeping the file's mode); True when the file changed."""
    text = path.read_text() if path.exists() else ""
    new = merged(text, str(path))
    if new is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(new)
    os.chmod(handle.name, mode)
    os.replace(handle.name, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Enable the containerd image store in a Docker daemon.json.")
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)

    def run() -> int:
        try:
            changed = merge_file(args.path)
        except OSError as error:
            raise DaemonConfigError(f"{args.path}: {error.strerror or error}") from None
        emit(f"enabled the containerd image store in {args.path}" if changed else "unchanged")
        return 0

    return reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
