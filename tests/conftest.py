"""The tests of a built tag: `pytest tests/image tests/pipeline --tag python3.11-slim` checks the
image's behaviour (tests/image/) and the release pipeline on it (tests/pipeline/), on each of its
platforms. Without --tag (the unit tests under tests/unit/) nothing here touches an engine."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from python_on_whales import DockerException, docker
from python_on_whales.exceptions import NoSuchContainer, NoSuchImage

from bake.core.base_digest import BASE_DIGEST_LABEL, BASE_LABEL
from bake.core.ca_bundle import find_ca_bundle
from bake.core.matrix import Image, load_matrix
from bake.core.naming import local_reference
from bake.core.reference import ImageReference
from bake.core.selection import SelectionError, select
from bake.core.settings import DEFAULT_IMAGE_NAME, Settings, SettingsError, settings_from_environment
from bake.engine.platforms import engine_platform
from bake.paths import BAKE_FILE, IMAGE_TESTS
from tests.image.leftovers import SESSION_LABEL, is_over, session_labels, this_session
from tests.image.server import MANAGERS, Manager

# Ryuk, testcontainers' reaper, is an image that cannot be pulled here; containers are
# removed by the tests' own context managers instead, and what an interrupted run left
# behind by the next run (see tests/image/leftovers.py).
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def _remove_labelled(is_to_go: Callable[[str], bool]) -> None:
    """Removes the containers, then the images, labelled by a test session whose label
    `is_to_go`. One that cannot be removed is named in a line, and the run goes on."""
    containers = docker.container.list(all=True, filters=[("label", SESSION_LABEL)])
    images = docker.image.list(filters=[("label", SESSION_LABEL)])
    for kind, remove, found in (
        ("container", lambda each: docker.container.remove(each, force=True, volumes=True), containers),
        ("image", lambda each: docker.image.remove(each, force=True), images),
    ):
        for each in found:
            try:
                if is_to_go((each.config.labels or {}).get(SESSION_LABEL, "")):
                    remove(each.id)
            except (NoSuchContainer, NoSuchImage):
                continue  # gone since the listing: a session beside this one removed its own
            except DockerException as error:
                print(f"leftover {kind} {each.id} not removed: {error.stderr or error}", flush=True)


def _tests_a_tag(config: pytest.Config) -> bool:
    return bool(config.getoption("--tag"))


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _tests_a_tag(session.config):
        return
    here = this_session()
    _remove_labelled(lambda label: is_over(label, here))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _tests_a_tag(session.config):
        return
    own = session_labels()[SESSION_LABEL]
    _remove_labelled(lambda label: label == own)


@dataclass(frozen=True)
class ImageUnderTest:
    spec: Image  # with --platform, narrowed to those platforms
    local: ImageReference  # IMAGE_NAME:TAG, as the build loaded it
    # Containers are started from the id, never the tag, so that a missing tag cannot trigger a pull.
    image_id: str
    in_matrix: Image  # the tag as the matrix has it, with every platform a release needs

    @property
    def reference(self) -> str:
        return str(self.local)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--tag", help="the tag under test, such as python3.11-slim")
    parser.addoption("--image-name", help=f"repository of the tag (default: IMAGE_NAME, else {DEFAULT_IMAGE_NAME})")
    parser.addoption("--platform", action="append", help="test only this platform, every test (repeatable)")
    parser.addoption("--all-platforms", action="store_true", help="every test on every platform of the tag")
    parser.addoption("--native-only", action="store_true", help="only the platform of this machine")


def run_settings(config: pytest.Config) -> Settings:
    """IMAGE_NAME, DATE and BASE of the run, as the build that made the image read them."""
    try:
        return settings_from_environment().overridden(image_name=config.getoption("--image-name"))
    except SettingsError as error:
        raise pytest.UsageError(str(error)) from None


def _spec(config: pytest.Config) -> Image:
    tag = config.getoption("--tag")
    if not tag:
        raise pytest.UsageError("image tests need --tag TAG (nox -s test -- TAG passes it)")
    try:
        (spec,) = select(load_matrix(run_settings(config).build_date), [tag])
    except SelectionError as error:
        raise pytest.UsageError(str(error)) from None
    return spec


EVERY_PLATFORM = "every_platform"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{EVERY_PLATFORM}: run on emulated platforms too by default (others run there only with --platform)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "platform" in metafunc.fixturenames and _tests_a_tag(metafunc.config):
        spec = _spec(metafunc.config)
        chosen = metafunc.config.getoption("--platform") or list(spec.platforms)
        unknown = sorted(set(chosen) - set(spec.platforms))
        if unknown:
            raise pytest.UsageError(f"--platform {', '.join(unknown)} is not a platform of {spec.tag}")
        metafunc.parametrize("platform", chosen, ids=chosen)


FLAVOR_SUITE = "test_flavor.py"


def _keep_the_suite_of_the_kind(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A flavor runs test_flavor.py alone (it inherits the runtime the base suite tested); a
    base image runs everything else."""
    is_flavor = _spec(config).flavor is not None
    kept = [item for item in items if (item.path.name == FLAVOR_SUITE) == is_flavor]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under emulation a container starts several times slower, so by default an emulated
    platform runs only the tests marked every_platform, with the default process manager.
    --platform or --all-platforms runs every test on each platform; --native-only, none
    on an emulated one."""
    if not _tests_a_tag(config):
        return
    _keep_the_suite_of_the_kind(config, items)
    if config.getoption("--platform") or config.getoption("--all-platforms"):
        return
    native = engine_platform()
    only_native = config.getoption("--native-only")
    kept: list[pytest.Item] = []
    emulated_only: list[pytest.Item] = []
    for item in items:
        params = getattr(item, "callspec", None)
        platform = params.params.get("platform") if params else None
        manager = params.params.get("manager") if params else None
        is_representative = item.get_closest_marker(EVERY_PLATFORM) is not None and manager in (None, "gunicorn")
        runs_here = platform in (None, native) or (is_representative and not only_native)
        (kept if runs_here else emulated_only).append(item)
    if emulated_only:
        config.hook.pytest_deselected(items=emulated_only)
        items[:] = kept


@pytest.fixture(scope="session")
def image(pytestconfig: pytest.Config) -> ImageUnderTest:
    """The tag under test; with --platform, an image of those platforms only (as a native
    runner builds it), so that publishing and rebuilds in the tests use just those."""
    in_matrix = spec = _spec(pytestconfig)
    if pytestconfig.getoption("--platform"):
        spec = replace(spec, platforms=tuple(pytestconfig.getoption("--platform")))
    local = local_reference(spec, run_settings(pytestconfig).image_name)
    if not docker.image.exists(str(local)):
        pytest.fail(f"{local} is not in the local image store; build it first: nox -s build -- {spec.tag}")
    return ImageUnderTest(spec, local, docker.image.inspect(str(local)).id, in_matrix)


PIP_WITH_CA_SECRET = (
    "RUN --mount=type=secret,id=pip-ca,required=false"
    " if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi"
    " && pip install --no-cache-dir"
)


@dataclass
class ChildImages:
    """Small images built FROM the image under test, as users build theirs."""

    parent: ImageUnderTest
    workspace: Path
    built: dict[str, str] = field(default_factory=dict)

    def build(self, platform: str, files: Mapping[str, str], dockerfile_tail: str = "", requirements: str = "") -> str:
        """The id of an image with `files` (paths under /app) added, and `requirements` (pip's
        arguments, such as a pinned package) installed; built once per content and platform."""
        install = f"{PIP_WITH_CA_SECRET} {requirements}\n" if requirements else ""
        dockerfile = f"FROM {self.parent.reference}\n{install}COPY app/ /app/\n{dockerfile_tail}"
        in_app = {f"app/{name}": text for name, text in files.items()}
        return self.build_context(platform, {**in_app, "Dockerfile": dockerfile})

    def build_context(
        self, platform: str, files: Mapping[str, str], prepare: Callable[[Path], None] | None = None
    ) -> str:
        """The id of the image a build context of `files` (its Dockerfile among them) makes, with
        `prepare` run on the context first; built once per content and platform. Like the image's
        own build, pip may trust the host's CA bundle (the secret pip-ca), which no layer keeps."""
        content = (sorted(files.items()), platform, self.parent.image_id)
        key = hashlib.sha256(repr(content).encode()).hexdigest()[:16]
        if key not in self.built:
            context = self.workspace / key
            for name, text in files.items():
                (context / name).parent.mkdir(parents=True, exist_ok=True)
                (context / name).write_text(text)
            if prepare is not None:
                prepare(context)
            # The pid keeps test sessions running side by side from removing each other's children.
            tag = str(ImageReference("uvicorn-gunicorn-test/child", f"{key}-{os.getpid()}"))
            docker.buildx.build(
                context,
                platforms=[platform],
                tags=[tag],
                load=True,
                progress=False,
                secrets=[f"id=pip-ca,src={find_ca_bundle()}"],
                labels=session_labels(),
            )
            self.built[key] = tag
        return docker.image.inspect(self.built[key]).id


@pytest.fixture(scope="session")
def child_images(image: ImageUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildImages]:
    children = ChildImages(image, tmp_path_factory.mktemp("children"))
    yield children
    if children.built:
        docker.image.remove(list(children.built.values()), force=True)


PROBE_APP = (IMAGE_TESTS / "apps" / "probe" / "main.py").read_text()


@pytest.fixture(params=sorted(MANAGERS))
def manager(request: pytest.FixtureRequest) -> Manager:
    """Each process manager in turn, for behaviour both share; set PROCESS_MANAGER=manager.name."""
    chosen: Manager = MANAGERS[request.param]
    return chosen


def built_on(image: ImageUnderTest) -> dict[str, str]:
    """The build arguments that put a rebuild on the very base index the image was built on,
    as its labels record it: FROM that digest where the base comes from a registry (as the
    build pins it); where it is in the local store, that image must still be that index."""
    labels = docker.image.inspect(image.reference).config.labels or {}
    base, digest = labels[BASE_LABEL], labels[BASE_DIGEST_LABEL]
    if not docker.image.exists(base):
        return {"BASE_IMAGE": base, "BASE_DIGEST": digest, "BASE_PIN": digest}
    now = docker.image.inspect(base).id
    if now != digest:
        pytest.fail(f"{base} is now {now}, not {digest}, the base {image.reference} was built on: build it again")
    return {"BASE_IMAGE": base, "BASE_DIGEST": digest}


def rebuild(
    image: ImageUnderTest,
    tag: str,
    args: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    platform: str | None = None,
    log: list[str] | None = None,
) -> None:
    """Builds the image's bake target again, on the base it was built on (unless `args` name
    another), loaded as `tag`, with this session's labels; the plain build log into `log`."""
    target = image.spec.target
    given = dict(args or {})
    build_args = {**({} if "BASE_IMAGE" in given else built_on(image)), **given}
    overrides = {
        f"{target}.tags": tag,
        **{f"{target}.args.{name}": value for name, value in build_args.items()},
        **{f"{target}.labels.{name}": value for name, value in session_labels().items()},
    }
    overrides[f"{target}.platform"] = platform or ",".join(image.spec.platforms)
    lines = docker.buildx.bake(
        targets=[target],
        files=[BAKE_FILE],
        set=overrides,
        variables=dict(variables or {}),
        load=True,
        progress=False if log is None else "plain",
        stream_logs=log is not None,
    )
    if log is not None:
        log += lines
