"""images/base_bytecode.py: the base's bytecode, compiled hash-checked and staged at its own
paths, leaving out what a server never imports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bake.core.locks import _native_install
from bake.paths import REPO_ROOT

EPOCH = 315_532_800


def _base_bytecode() -> ModuleType:
    _native_install()  # the module it imports, as the build mounts it beside it
    spec = importlib.util.spec_from_file_location("base_bytecode", REPO_ROOT / "images" / "base_bytecode.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _library(root: Path) -> None:
    for name in ("json/__init__.py", "asyncio/events.py", "site-packages/_distutils_hack/__init__.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("VALUE = 1\n")
    for name in ("test/test_json.py", "site-packages/pip/__init__.py", "idlelib/run.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("VALUE = 2\n")
    (root / "lib2to3_grammar_sample.py").write_text("print 'python 2'\n")  # does not compile: left as it is


def test_the_library_is_compiled_hash_checked_and_staged_without_what_no_server_imports(tmp_path: Path) -> None:
    module = _base_bytecode()
    root, stage = tmp_path / "usr" / "lib" / "python3.x", tmp_path / "stage"
    _library(root)
    module.compile_in_place([root])
    files = module.bytecode_files([root])
    module.copy_under(stage, files, EPOCH)
    tag = sys.implementation.cache_tag
    staged = sorted(str(path.relative_to(stage / tmp_path.relative_to("/"))) for path in stage.rglob("*.pyc"))
    assert staged == [
        f"usr/lib/python3.x/asyncio/__pycache__/events.{tag}.pyc",
        f"usr/lib/python3.x/json/__pycache__/__init__.{tag}.pyc",
        f"usr/lib/python3.x/site-packages/_distutils_hack/__pycache__/__init__.{tag}.pyc",
    ]
    for path in stage.rglob("*.pyc"):
        flags = int.from_bytes(path.read_bytes()[4:8], "little")
        assert flags == 0b11, f"{path} is not hash-checked bytecode"  # hash-based, checked against its source
    assert {path.stat().st_mtime for path in [stage, *stage.rglob("*")]} == {EPOCH}


def test_a_library_inside_another_is_walked_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _base_bytecode()
    stdlib = tmp_path / "lib"
    (stdlib / "site-packages").mkdir(parents=True)
    paths = {"stdlib": stdlib, "platstdlib": stdlib, "purelib": stdlib / "site-packages", "platlib": tmp_path / "none"}
    monkeypatch.setattr(module.sysconfig, "get_path", lambda name: str(paths[name]))
    assert module.library_roots() == [stdlib]


def test_a_bad_epoch_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert _base_bytecode().main(["base_bytecode.py", "/stage", "yesterday"]) == 2
    assert capsys.readouterr().err == "error: EPOCH='yesterday' is not valid: expected seconds since 1970, or nothing\n"
