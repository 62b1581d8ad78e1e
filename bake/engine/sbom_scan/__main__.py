"""BuildKit's SBOM generator protocol, or a scan of a directory:

    BUILDKIT_SCAN_SOURCE=... BUILDKIT_SCAN_DESTINATION=... python3 -m sbom_scan
    python3 -m bake.engine.sbom_scan ROOTFS [NAME]        (prints the SPDX document)

Under BuildKit, each filesystem to scan (the build result, and any extras) gets an in-toto
statement with the SPDX document as its predicate, in DESTINATION/NAME.spdx.json.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .spdx import scan

STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"
SPDX_PREDICATE = "https://spdx.dev/Document"


def statement(document: dict[str, Any]) -> dict[str, Any]:
    """BuildKit fills in the subject (the image) when it attaches the attestation."""
    return {"_type": STATEMENT_TYPE, "predicateType": SPDX_PREDICATE, "subject": [], "predicate": document}


def targets(environment: Mapping[str, str]) -> list[Path]:
    """The filesystems BuildKit asks to scan: the source, then each directory of extras."""
    found = [Path(environment["BUILDKIT_SCAN_SOURCE"])]
    extras = Path(environment.get("BUILDKIT_SCAN_SOURCE_EXTRAS") or "/nonexistent")
    if extras.is_dir():
        found += sorted(path for path in extras.iterdir() if path.is_dir())
    return found


def created_at(environment: Mapping[str, str]) -> datetime | None:
    """The document's creation time: the build's SOURCE_DATE_EPOCH (the generator image's own
    environment, which BuildKit hands it), so that a rebuild of one commit describes itself
    alike; None (now) without one."""
    value = environment.get("SOURCE_DATE_EPOCH", "")
    return datetime.fromtimestamp(int(value), UTC) if value.isdigit() else None


def run_protocol(environment: Mapping[str, str]) -> int:
    destination = Path(environment["BUILDKIT_SCAN_DESTINATION"])
    created = created_at(environment)
    for target in targets(environment):
        document = scan(target, target.name, created)
        (destination / f"{target.name}.spdx.json").write_text(json.dumps(statement(document), indent=1))
        print(f"sbom_scan: {target.name}: {len(document['packages']) - 1} packages", file=sys.stderr)
    return 0


def main(argv: Sequence[str]) -> int:
    if "BUILDKIT_SCAN_SOURCE" in os.environ and "BUILDKIT_SCAN_DESTINATION" in os.environ:
        return run_protocol(os.environ)
    if len(argv) not in (1, 2) or not Path(argv[0]).is_dir():
        print("usage: python3 -m sbom_scan ROOTFS [NAME] (or BuildKit's BUILDKIT_SCAN_* variables)", file=sys.stderr)
        return 2
    root = Path(argv[0])
    print(json.dumps(scan(root, argv[1] if len(argv) == 2 else root.name, created_at(os.environ)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
