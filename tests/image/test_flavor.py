"""A flavor image (`nox -s test -- fastapi:python3.11-slim`): its sample app answers, its
framework is the pinned one, it keeps the base's runtime (worker count, errors, shutdown)
without running the base suite again, and a user's image FROM it serves the user's app.
conftest.py runs only this module for a flavor, and leaves it out for a base image."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from bake.core.locks import Target, flavor_lock, stack_lock
from bake.core.matrix import Image
from bake.core.naming import local_reference, repository_of
from bake.core.reference import ImageReference
from bake.release.merge import Merge, check_staged_flavor_bases
from bake.release.publish import PublishError
from bake.release.registry import platform_manifests, push_as, registry_digest
from devtools.local_registry import local_registry
from tests.conftest import ChildImages, ImageUnderTest, run_settings
from tests.image.installed import installed, pins_of
from tests.image.leftovers import session_labels
from tests.image.server import MANAGERS, assert_app_error, run_to_exit, serve


def _flavor(image: ImageUnderTest) -> str:
    assert image.spec.flavor is not None, "conftest.py runs this module only for a flavor"
    return image.spec.flavor.name


def _check_fastapi_sample(base_url: str) -> None:
    item = requests.get(f"{base_url}/items/42", params={"q": "answer"}, timeout=10)
    assert item.json() == {"item_id": 42, "q": "answer"}
    assert requests.get(f"{base_url}/items/not-a-number", timeout=10).status_code == 422
    body = {"name": "hammer", "price": 9.5, "tags": ["tools"]}
    assert requests.post(f"{base_url}/items/", json=body, timeout=10).json() == body
    invalid = requests.post(f"{base_url}/items/", json={"name": "no price"}, timeout=10)
    assert invalid.status_code == 422, "pydantic validates the body"
    openapi = requests.get(f"{base_url}/openapi.json", timeout=10).json()
    assert {"/items/{item_id}", "/items/"} <= set(openapi["paths"])
    docs = requests.get(f"{base_url}/docs", timeout=10)
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def _check_starlette_sample(base_url: str) -> None:
    assert "From Starlette running on Uvicorn with Gunicorn" in requests.get(base_url, timeout=10).text
    assert requests.get(f"{base_url}/users/alice", timeout=10).json() == {"username": "alice"}
    assert requests.get(f"{base_url}/nowhere", timeout=10).status_code == 404


SAMPLE_CHECKS = {"fastapi": _check_fastapi_sample, "starlette": _check_starlette_sample}


@pytest.mark.every_platform
def test_the_sample_app_answers(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform) as server:
        SAMPLE_CHECKS[_flavor(image)](server.url().rstrip("/"))


@pytest.mark.every_platform
def test_the_framework_is_the_pinned_version(image: ImageUnderTest, platform: str) -> None:
    assert image.spec.flavor is not None
    pinned = dict(requirement.split("==", 1) for requirement in image.spec.flavor.requirements)
    with serve(image.image_id, platform) as server:
        code = "import importlib.metadata as m, sys; print(*(m.version(n) for n in sys.argv[1:]))"
        installed = server.run("python", "-c", code, *pinned).split()
    assert dict(zip(pinned, installed, strict=True)) == pinned


@pytest.mark.every_platform
def test_the_installed_distributions_are_the_stack_and_framework_locks_pins(
    image: ImageUnderTest, platform: str
) -> None:
    """The framework's packages, installed by the build machine's CPU, are those of its lock
    beside the stack's, every file of each as its RECORD lists it (see installed.py)."""
    assert image.spec.flavor is not None
    target = Target(image.spec.python, platform)
    found = installed(image.image_id, platform)
    assert found.versions == pins_of(stack_lock(target).read_text(), flavor_lock(image.spec.flavor, target).read_text())
    assert found.faults == {}


@pytest.mark.every_platform
def test_the_base_runtime_is_inherited(image: ImageUnderTest, platform: str) -> None:
    """The base's launcher computes the workers and stops them on SIGTERM: the base suite
    covers how; here only that the flavor still runs it."""
    gunicorn = MANAGERS["gunicorn"]
    with serve(image.image_id, platform) as server:
        workers = max(server.usable_cpus(), 2)
        server.wait_for_log(gunicorn.worker_started, times=workers)
        assert server.worker_count_once_settled(workers) == workers, server.processes()
        assert server.settings()["workers"]["count"] == workers
        logs = server.stop_and_collect_logs()
        state = server.container.get_wrapped_container()
        state.reload()
    assert gunicorn.stopped in logs
    assert state.attrs["State"]["ExitCode"] == 0


def test_a_missing_app_is_one_error_line(image: ImageUnderTest, platform: str) -> None:
    exited = run_to_exit(image.image_id, platform, {"APP_MODULE": "nowhere:app"})
    assert_app_error(exited, "error: APP_MODULE='nowhere:app': no module named 'nowhere'")


USER_APPS = {
    "fastapi": (
        "from fastapi import FastAPI\n"
        "from pydantic import BaseModel\n\n"
        "app = FastAPI()\n\n\n"
        "class Greeting(BaseModel):\n"
        "    text: str\n\n\n"
        "@app.get('/')\n"
        "def root() -> Greeting:\n"
        "    return Greeting(text='user app')\n"
    ),
    "starlette": (
        "from starlette.applications import Starlette\n"
        "from starlette.responses import JSONResponse\n"
        "from starlette.routing import Route\n\n\n"
        "async def root(request):\n"
        "    return JSONResponse({'text': 'user app'})\n\n\n"
        "app = Starlette(routes=[Route('/', root)])\n"
    ),
}


@pytest.mark.every_platform
def test_a_users_image_from_the_flavor_serves_the_users_app(child_images: ChildImages, platform: str) -> None:
    """As the README says: FROM the flavor, COPY ./app /app/app."""
    flavor = _flavor(child_images.parent)
    child = child_images.build(platform, {"app/__init__.py": "", "app/main.py": USER_APPS[flavor]})
    with serve(child, platform) as server:
        assert requests.get(server.url(), timeout=10).json() == {"text": "user app"}


def test_merging_takes_a_flavor_only_on_the_base_it_was_built_on(
    image: ImageUnderTest, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The merge of the runners' staged images reads every platform's layers from the registry
    and refuses, before any tag is written, a flavor that does not sit on the base beside it."""
    family = run_settings(request.config).image_name
    base = image.spec.base_image
    with local_registry(tmp_path, labels=session_labels()) as registry:

        def staged(spec: Image, source: str) -> Merge:
            target = ImageReference(f"{registry}/staging/{repository_of(spec, 'ug')}", spec.tag)
            push_as(source, target)
            digest = registry_digest(target)
            assert digest is not None
            return Merge(spec, f"{registry}/ug", (str(target.at(digest)),), platform_manifests(target), {}, {})

        base_merge = staged(base, str(local_reference(base, family)))
        flavor_merge = staged(image.spec, image.reference)
        check_staged_flavor_bases([base_merge, flavor_merge])
        swapped = [replace(base_merge, sources=flavor_merge.sources), replace(flavor_merge, sources=base_merge.sources)]
        with pytest.raises(PublishError, match=rf"^{re.escape(image.spec.name)} \(linux/\w+\) was not built on"):
            check_staged_flavor_bases(swapped)
        with pytest.raises(PublishError, match="published only with its base"):
            check_staged_flavor_bases([flavor_merge])
