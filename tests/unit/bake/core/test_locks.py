"""The lock files the images install from: one for every CPython version and platform the bake
file builds, each pinning exactly common/requirements.txt (or its flavor's framework) with a
hash for every pin; and how images/native_install.py reads them and falls back to emulation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from bake.core.locks import (
    BASE_OWN,
    _native_install,
    flavor_lock,
    hashes_of,
    locked,
    requirements,
    stack_lock,
    stack_requirements,
    targets,
)
from bake.core.matrix import Matrix, load_matrix
from bake.engine.generated import generated_for
from bake.paths import BAKE_FILE, REPO_ROOT

LOCK_DIRECTORIES = ("common/locks", "images/flavors/*/locks")


def _built_matrix() -> Matrix:
    """The matrix docker-bake.hcl was generated for: the targets a build has."""
    recorded = generated_for(BAKE_FILE.read_text())
    assert recorded is not None
    return load_matrix(recorded)


def _all_locks() -> list[Path]:
    return sorted(path for pattern in LOCK_DIRECTORIES for path in REPO_ROOT.glob(f"{pattern}/*.txt"))


def test_every_cpython_and_platform_built_has_its_locks_and_no_other_lock_is_left() -> None:
    matrix = _built_matrix()
    expected = {stack_lock(target) for target in targets(matrix.images)}
    expected |= {flavor_lock(flavor, target) for flavor in matrix.flavors for target in targets(matrix.images)}
    assert {path for path in expected if not path.exists()} == set(), "run: nox -s lock"
    assert set(_all_locks()) - expected == set(), "locks of versions no longer built; run: nox -s lock"


def test_each_stack_lock_pins_common_requirements_as_they_are() -> None:
    wanted = stack_requirements()
    for target in targets(_built_matrix().images):
        pins = locked(stack_lock(target).read_text())
        assert {name: pins.get(name) for name in wanted} == wanted, f"{stack_lock(target).name}: run: nox -s lock"


def test_each_flavor_lock_pins_its_framework_and_adds_to_the_stack_only() -> None:
    matrix = _built_matrix()
    for flavor in matrix.flavors:
        wanted = requirements(flavor.requirements)
        for target in targets(matrix.images):
            pins = locked(flavor_lock(flavor, target).read_text())
            assert {name: pins.get(name) for name in wanted} == wanted, f"{flavor.name} {target}: run: nox -s lock"
            assert set(pins) & set(locked(stack_lock(target).read_text())) == set()


@pytest.mark.parametrize("path", _all_locks(), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_a_lock_has_a_hash_for_every_pin_no_index_and_nothing_of_the_bases_own(path: Path) -> None:
    text = path.read_text()
    assert locked(text), "a lock pins something"
    assert [name for name, count in hashes_of(text).items() if count == 0] == []
    for word in ("://", "--index-url", "--extra-index-url", "--find-links", "--trusted-host"):
        assert word not in text
    assert set(locked(text)) & BASE_OWN == set()


def test_requirements_refuse_an_unpinned_line() -> None:
    assert requirements(["# comment", "uvicorn[standard]==0.54.0  # why", "", "Foo.Bar==1"]) == {
        "uvicorn": "0.54.0",
        "foo_bar": "1",
    }
    with pytest.raises(ValueError, match="'gunicorn>=27' is not pinned"):
        requirements(["gunicorn>=27"])


LOCK = """# a comment
anyio==4.16.0 \\
    --hash=sha256:aaa \\
    --hash=sha256:bbb
setproctitle==1.3.8 \\
    --hash=sha256:ccc
Typing.Extensions==4.16.0 \\
    --hash=sha256:ddd
"""


def test_pins_keep_each_requirement_with_its_hashes() -> None:
    pins = _native_install().pins(LOCK)
    assert [(pin.name, pin.version) for pin in pins] == [
        ("anyio", "4.16.0"),
        ("setproctitle", "1.3.8"),
        ("typing_extensions", "4.16.0"),
    ]
    assert pins[1].text == "setproctitle==1.3.8 \\\n    --hash=sha256:ccc\n"


def test_a_platform_is_named_as_sysconfig_names_it_there() -> None:
    module = _native_install()
    assert module.host_platform("linux/arm64") == "linux-aarch64"
    assert module.host_platform("linux/amd64") == "linux-x86_64"
    with pytest.raises(SystemExit) as error:
        module.host_platform("linux/riscv64")
    assert str(error.value) == "error: PLATFORM='linux/riscv64' is not valid: expected one of linux/amd64, linux/arm64"


class FakePip:
    """pip as the native stage runs it. A download from the wheelhouse alone (--no-index) succeeds
    when it holds every pin asked for; from the index, it fails for the pins without a wheel, or
    for all with the index out of reach, and otherwise fills the wheelhouse. Every call is kept."""

    def __init__(
        self, without_wheel: set[str], unreachable: bool = False, in_wheelhouse: frozenset[str] = frozenset()
    ) -> None:
        self.without_wheel = without_wheel
        self.unreachable = unreachable
        self.in_wheelhouse = set(in_wheelhouse)
        self.calls: list[tuple[str, ...]] = []
        self.downloaded: list[str] = []  # the requirements each download from the index was given

    def __call__(self, platform: str | None, *words: str, check: bool = True, quiet_failure: bool = False) -> Any:
        self.calls.append(words)
        output, code = "", 0
        if words[0] == "download":
            requirements = Path(words[words.index("-r") + 1]).read_text()
            names = {pin.name for pin in _native_install().pins(requirements)}
            if "--no-index" in words:
                code = 0 if names <= self.in_wheelhouse else 1
            else:
                self.downloaded.append(requirements)
                missing = sorted(names & self.without_wheel)
                if self.unreachable:
                    output = (
                        "Could not fetch URL https://index/simple/anyio/: a problem confirming the ssl certificate\n"
                    )
                    output, code = output + "ERROR: No matching distribution found for anyio==4.16.0\n", 1
                elif missing:
                    output, code = f"ERROR: No matching distribution found for {missing[0]}\n", 1
                else:
                    self.in_wheelhouse |= names
        return type("Result", (), {"returncode": code, "stdout": output})()


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    path = tmp_path / "lock.txt"
    path.write_text(LOCK)
    return path


def _with_fake_pip(
    monkeypatch: pytest.MonkeyPatch,
    without_wheel: set[str],
    unreachable: bool = False,
    in_wheelhouse: frozenset[str] = frozenset(),
) -> tuple[Any, FakePip]:
    module = _native_install()
    fake = FakePip(without_wheel, unreachable, in_wheelhouse)
    monkeypatch.setattr(module, "pip", fake)
    return module, fake


def test_a_package_without_a_wheel_is_named_and_left_to_the_emulated_stage(
    tmp_path: Path, lock: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module, fake = _with_fake_pip(monkeypatch, {"setproctitle"})
    module.download("linux/arm64", tmp_path / "wheels", tmp_path / "house", [lock])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("no wheel")]
    python = "{}.{}".format(*sys.version_info[:2])
    assert lines == [
        f"no wheel for linux/arm64 and CPython {python}: setproctitle==1.3.8; its sdist is built under emulation"
    ]
    assert (tmp_path / "wheels" / "emulated.txt").read_text() == "setproctitle==1.3.8 \\\n    --hash=sha256:ccc\n"

    # The lock's other wheels go in as they are, without resolving; the requirements are not named.
    for wheel in ("anyio-4.16.0-py3-none-any.whl", "typing_extensions-4.16.0-py3-none-any.whl"):
        (tmp_path / "wheels" / wheel).touch()
    copied: list[set[str]] = []
    monkeypatch.setattr(module, "stage_installed", lambda names, stage: copied.append(names))
    module.install("linux/arm64", tmp_path / "wheels", lock, tmp_path / "stage", ["--user", "-r", "req.txt"])
    install = fake.calls[-1]
    assert install[:5] == ("install", "--no-compile", "--no-index", "--no-deps", "--user")
    assert [Path(word).name for word in install[5:]] == [
        "anyio-4.16.0-py3-none-any.whl",
        "typing_extensions-4.16.0-py3-none-any.whl",
    ]
    assert copied == [{"anyio", "typing_extensions"}]


def test_with_every_wheel_at_hand_pip_resolves_the_requirements_from_them_alone(
    tmp_path: Path, lock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, fake = _with_fake_pip(monkeypatch, set())
    module.download("linux/amd64", tmp_path / "wheels", tmp_path / "house", [lock])
    assert len(fake.downloaded) == 1, "one download from the index for the whole lock"
    assert ["--no-index" in call for call in fake.calls] == [True, False, True], "into the wheelhouse, then from it"
    assert (tmp_path / "wheels" / "emulated.txt").read_text() == ""
    module.install("linux/amd64", tmp_path / "wheels", lock, None, ["-r", "req.txt"])
    assert fake.calls[-1] == (
        "install",
        "--no-compile",
        "--no-index",
        "--find-links",
        str(tmp_path / "wheels"),
        "-r",
        "req.txt",
    )


def test_sdist_only_sends_a_package_to_emulation_without_asking_for_its_wheel(
    tmp_path: Path, lock: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module, fake = _with_fake_pip(monkeypatch, set())
    module.download("linux/arm64", tmp_path / "wheels", tmp_path / "house", [lock], {"typing_extensions"})
    assert capsys.readouterr().out.splitlines() == [
        "SDIST_ONLY names it: Typing.Extensions==4.16.0; its sdist is built under emulation"
    ]
    assert (tmp_path / "wheels" / "emulated.txt").read_text().startswith("Typing.Extensions==4.16.0 \\\n")
    (asked,) = fake.downloaded
    assert "Typing.Extensions" not in asked and "anyio==4.16.0" in asked


def test_the_emulated_stage_runs_pip_only_for_what_was_left_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, fake = _with_fake_pip(monkeypatch, set())
    dated: list[set[str]] = []

    def installed_files(names: set[str]) -> list[Path]:
        dated.append(names)
        return []

    monkeypatch.setattr(module, "installed_files", installed_files)
    emulated = tmp_path / "emulated.txt"
    emulated.write_text("")
    module.build_sdists(emulated)
    assert fake.calls == []
    emulated.write_text("setproctitle==1.3.8 \\\n    --hash=sha256:ccc\n")
    module.build_sdists(emulated)
    assert fake.calls == [
        (
            "install",
            "--no-compile",
            "--no-cache-dir",
            "--no-deps",
            "--no-binary=:all:",
            "--require-hashes",
            "-r",
            str(emulated),
        )
    ]
    assert dated == [{"setproctitle"}], "what pip built is dated and compiled"


def test_an_index_out_of_reach_is_a_failure_not_a_missing_wheel(
    tmp_path: Path, lock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, _ = _with_fake_pip(monkeypatch, set(), unreachable=True)
    with pytest.raises(SystemExit) as failure:
        module.download("linux/arm64", tmp_path / "wheels", tmp_path / "house", [lock])
    assert failure.value.code == 1
    assert (tmp_path / "wheels" / "emulated.txt").read_text() == ""


def test_a_wheelhouse_that_has_the_locks_wheels_asks_the_index_nothing(
    tmp_path: Path, lock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, fake = _with_fake_pip(
        monkeypatch, set(), in_wheelhouse=frozenset({"anyio", "setproctitle", "typing_extensions"})
    )
    module.download("linux/arm64", tmp_path / "wheels", tmp_path / "house", [lock])
    assert fake.downloaded == []
    ((*_, index, links, house, to, wheels),) = fake.calls
    assert (index, links, house, to, wheels) == (
        "--no-index",
        "--find-links",
        str(tmp_path / "house"),
        "-d",
        str(tmp_path / "wheels"),
    )


def test_sources_are_dated_before_they_are_compiled_so_their_bytecode_records_that_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _native_install()
    library = tmp_path / "site-packages"
    (library / "package").mkdir(parents=True)
    sources = [library / "package" / "__init__.py", library / "package" / "core.py"]
    for source in sources:
        source.write_text("VALUE = 1\n")
    data = library / "package" / "data.txt"
    data.write_text("not python\n")
    outside = tmp_path / "bin" / "script.py"  # not in a library folder: pip compiles none such
    outside.parent.mkdir()
    outside.write_text("print()\n")
    monkeypatch.setattr(module.sysconfig, "get_path", lambda name: str(library))
    epoch = 315_532_800

    compiled = module.compile_dated([*sources, data, outside], epoch)

    tag = sys.implementation.cache_tag
    assert sorted(path.name for path in compiled) == sorted(f"{source.stem}.{tag}.pyc" for source in sources)
    for source, bytecode in zip(sources, compiled, strict=True):
        header = bytecode.read_bytes()[:16]
        assert int.from_bytes(header[4:8], "little") == 0, "timestamp bytecode, not hash-based"
        assert int.from_bytes(header[8:12], "little") == epoch == int(source.stat().st_mtime)
        assert int(bytecode.stat().st_mtime) == int(bytecode.parent.stat().st_mtime) == epoch
    assert int(data.stat().st_mtime) == int(outside.stat().st_mtime) == epoch
    assert not (outside.parent / "__pycache__").exists()


def test_a_stage_is_dated_every_file_and_folder(tmp_path: Path) -> None:
    module = _native_install()
    (tmp_path / "stage" / "usr" / "local" / "bin").mkdir(parents=True)
    (tmp_path / "stage" / "usr" / "local" / "bin" / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "stage" / "usr" / "local" / "link").symlink_to("bin/tool")
    module.date_tree(tmp_path / "stage", 315_532_800)
    times = {path.lstat().st_mtime for path in [tmp_path / "stage", *(tmp_path / "stage").rglob("*")]}
    assert times == {315_532_800}


def test_file_time_is_checked(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    module = _native_install()
    monkeypatch.setenv("FILE_TIME", "")
    assert module.file_time() is None
    monkeypatch.setenv("FILE_TIME", "315532800")
    assert module.file_time() == 315_532_800
    monkeypatch.setenv("FILE_TIME", "1980-01-01")
    with pytest.raises(SystemExit) as failure:
        module.file_time()
    assert failure.value.code == "error: FILE_TIME='1980-01-01' is not valid: expected seconds since 1970"
