from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

import bake.engine.bases
from bake.core.debian_sources import Mirrors
from bake.core.matrix import DebianSuite, Image
from bake.engine.bases import BaseMode, base_available, choose_base

SLIM = Image("3.11", "slim", DebianSuite("bookworm", ()), ("linux/amd64",), True)
MIRRORS = Mirrors("http://archive.example/debian", None)


@dataclass
class FakeEngine:
    local: set[str] = field(default_factory=set)
    registry_failure: str | None = None
    built: list[str] = field(default_factory=list)

    def ensure_standin(self, image: Image, mirrors: Mirrors) -> str:
        assert mirrors == MIRRORS
        self.built.append(image.tag)
        return "standin/python:3.11-slim"


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(bake.engine.bases, "_is_local", lambda reference: reference in fake.local)
    monkeypatch.setattr(bake.engine.bases, "_registry_answers", lambda reference: fake.registry_failure)
    monkeypatch.setattr(bake.engine.bases, "ensure_standin", fake.ensure_standin)
    monkeypatch.setattr(bake.engine.bases, "configured_mirrors", lambda: MIRRORS)
    return fake


def test_auto_prefers_a_local_official_image(engine: FakeEngine) -> None:
    engine.local.add("python:3.11-slim")
    engine.registry_failure = "no such host"
    assert choose_base(SLIM, BaseMode.AUTO).reference == "python:3.11-slim"
    assert engine.built == []


def test_auto_uses_the_registry_when_it_answers(engine: FakeEngine) -> None:
    base = choose_base(SLIM, BaseMode.AUTO)
    assert (base.reference, base.why) == ("python:3.11-slim", "official image, the registry answers")
    assert engine.built == []


def test_auto_falls_back_to_a_standin_and_says_why(engine: FakeEngine) -> None:
    engine.registry_failure = "lookup registry: no such host"
    base = choose_base(SLIM, BaseMode.AUTO)
    assert base.reference == "standin/python:3.11-slim"
    assert "python:3.11-slim cannot be fetched (lookup registry: no such host)" in base.why
    assert "Debian bookworm" in base.why
    assert engine.built == ["python3.11-slim"]


def test_explicit_modes_never_probe(engine: FakeEngine) -> None:
    engine.registry_failure = "unreachable"
    assert choose_base(SLIM, BaseMode.OFFICIAL).reference == "python:3.11-slim"
    assert engine.built == []
    engine.registry_failure = None
    assert choose_base(SLIM, BaseMode.STANDIN).reference == "standin/python:3.11-slim"
    assert engine.built == ["python3.11-slim"]


def test_base_available_without_building(engine: FakeEngine) -> None:
    no_suite = replace(SLIM, python="3.12", debian=None)
    engine.registry_failure = "no such host"
    assert base_available(SLIM, BaseMode.AUTO)
    assert not base_available(no_suite, BaseMode.AUTO)
    assert not base_available(no_suite, BaseMode.STANDIN)
    assert base_available(no_suite, BaseMode.OFFICIAL)
    engine.registry_failure = None
    assert base_available(no_suite, BaseMode.AUTO)
    assert engine.built == []
