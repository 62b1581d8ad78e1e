"""Applications whose dependencies live in a virtual environment: the README's recipes (uv,
Poetry, pip into a venv), built as written from PyPI, serve under /start.sh, Uvicorn's own
manager and /start-reload.sh from their environment; the mixes that cannot run are one line."""

from __future__ import annotations

import functools
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from python_on_whales import docker

from bake.core.ca_bundle import find_ca_bundle
from bake.core.matrix import load_matrix
from bake.engine.platforms import engine_platform
from bake.paths import README
from bake.release.registry import local_platform_images
from tests.conftest import PROBE_APP, ChildImages, ImageUnderTest
from tests.image.server import Exited, run_to_exit, serve

RECIPE = re.compile(r"<!-- recipe: (\w+) -->\n```dockerfile\n(.*?)```", re.S)
README_BASE = "uvicorn-gunicorn:python3.11-slim"
# Reports where it runs and whose packages it imports.
APP = textwrap.dedent('''\
    import sys

    import fastapi
    import uvicorn

    app = fastapi.FastAPI()


    @app.get("/")
    def where() -> dict[str, str]:
        return {"prefix": sys.prefix, "fastapi": fastapi.__file__, "uvicorn": uvicorn.__file__}
''')  # fmt: skip
# Makes the lock file a user commits, with the very tool (and version) the recipe installs.
LOCK_STAGE = textwrap.dedent("""\
    FROM {parent} AS lock
    WORKDIR /project
    COPY pyproject.toml ./
    RUN --mount=type=secret,id=pip-ca,required=false \\
        if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca SSL_CERT_FILE=/run/secrets/pip-ca \\
            REQUESTS_CA_BUNDLE=/run/secrets/pip-ca; fi \\
        && pip install --no-cache-dir {tool} && {command}
    FROM scratch
    COPY --from=lock /project/{lock_file} /
""")
SERVERS = {"start": {}, "uvicorn": {"PROCESS_MANAGER": "uvicorn"}, "reload": {}}


@dataclass(frozen=True)
class Recipe:
    name: str
    environment: str  # where the recipe puts the virtual environment
    found_by: str  # the rule of the README that finds it
    lock: tuple[str, str, str] | None  # the tool's pip name, the command, the lock file


RECIPES = {
    "uv": Recipe("uv", "/app/.venv", "PATH", ("uv", "uv lock", "uv.lock")),
    "poetry": Recipe("poetry", "/app/.venv", "/app/.venv", ("poetry", "poetry lock", "poetry.lock")),
    "venv": Recipe("venv", "/opt/venv", "VIRTUAL_ENV", None),
}


def readme_recipes() -> dict[str, str]:
    return dict(RECIPE.findall(README.read_text()))


def fastapi_requirement() -> str:
    """The FastAPI the fastapi flavor pins: one version of it in the repository."""
    (flavor,) = [flavor for flavor in load_matrix().flavors if flavor.name == "fastapi"]
    (requirement,) = flavor.requirements
    return requirement


def pyproject(requirement: str) -> str:
    return textwrap.dedent(f"""\
        [project]
        name = "recipe-app"
        version = "0"
        requires-python = ">=3.11"
        dependencies = ["{requirement}"]

        [tool.poetry]
        package-mode = false
    """)


def _tool_pin(dockerfile: str, tool: str) -> str:
    match = re.search(rf"pip install ({tool}==\S+)", dockerfile)
    assert match, f"the {tool} recipe installs a pinned {tool}"
    return match.group(1)


def _lock_platform(parent: str, platform: str) -> str:
    """Where the lock file is made: the engine's own platform where the image has it (a lock file
    holds every platform's wheels), else `platform`, the one under test: an image built on a
    native runner (publish.yml's platform jobs) holds that platform alone."""
    native = engine_platform()
    return native if native in local_platform_images(parent) else platform


def _locked(recipe: Recipe, dockerfile: str, context: Path, parent: str, platform: str) -> None:
    """Writes the recipe's lock file into `context`, made in a container of the image."""
    assert recipe.lock is not None
    tool, command, lock_file = recipe.lock
    stage = LOCK_STAGE.format(parent=parent, tool=_tool_pin(dockerfile, tool), command=command, lock_file=lock_file)
    (context / "Dockerfile.lock").write_text(stage)
    docker.buildx.build(
        context,
        file=context / "Dockerfile.lock",
        platforms=[_lock_platform(parent, platform)],
        output={"type": "local", "dest": str(context)},
        secrets=[f"id=pip-ca,src={find_ca_bundle()}"],
        progress=False,
    )
    assert (context / lock_file).is_file()


def build_recipe(
    children: ChildImages,
    platform: str,
    name: str,
    requirements: tuple[str, ...] = (),
    edit: tuple[str, str] = ("", ""),
) -> str:
    """The image the README's recipe `name` makes of an app needing FastAPI (and `requirements`),
    FROM the image under test; `edit` replaces one piece of the recipe's text."""
    recipe = RECIPES[name]
    dockerfile = readme_recipes()[name].replace(f"FROM {README_BASE}", f"FROM {children.parent.reference}")
    assert dockerfile.count(f"FROM {children.parent.reference}") == 2, "a build stage and the image"
    if edit[0]:
        assert edit[0] in dockerfile
        dockerfile = dockerfile.replace(edit[0], edit[1])
    wanted = [fastapi_requirement(), *requirements]
    files = {"app/main.py": APP, "Dockerfile": dockerfile}
    if recipe.lock is None:
        files["requirements.txt"] = "\n".join(wanted) + "\n"
    else:
        files["pyproject.toml"] = pyproject(wanted[0])
    return children.build_context(platform, files, prepare=functools.partial(_prepare, recipe, dockerfile, platform))


def _prepare(recipe: Recipe, dockerfile: str, platform: str, context: Path) -> None:
    if recipe.lock is not None:
        parent = dockerfile.split("\n", 1)[0].split()[1]
        _locked(recipe, dockerfile, context, parent, platform)


def _settings_line(server_logs: str) -> dict[str, object]:
    lines = [line for line in server_logs.splitlines() if line.startswith("{") and '"workers"' in line]
    assert lines, server_logs
    settings: dict[str, object] = json.loads(lines[0])
    return settings


def _only_error(exited: Exited) -> str:
    lines = [line for line in exited.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert exited.code == 2, exited
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    assert "Traceback" not in exited.stdout + exited.stderr
    return errors[0]


@pytest.fixture(scope="module")
def image_site_packages(image: ImageUnderTest) -> str:
    version = image.spec.python
    return f"/usr/local/lib/python{version}/site-packages/"


def _recipe_params() -> list[object]:
    return [
        pytest.param(name, server, marks=_recipe_marks(name, server), id=f"{name}-{server}")
        for name in RECIPES
        for server in SERVERS
    ]


def _recipe_marks(name: str, server: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.every_platform] if (name, server) == ("uv", "start") else []


@pytest.mark.parametrize(("name", "server"), _recipe_params())
def test_each_recipe_serves_from_its_environment(
    image: ImageUnderTest, child_images: ChildImages, platform: str, image_site_packages: str, name: str, server: str
) -> None:
    recipe = RECIPES[name]
    image_id = build_recipe(child_images, platform, name)
    command = "/start-reload.sh" if server == "reload" else None
    with serve(image_id, platform, env=SERVERS[server], command=command) as running:
        answer = requests.get(running.url(), timeout=30).json()
        logs = running.logs()
    assert answer["prefix"] == recipe.environment
    assert answer["fastapi"].startswith(f"{recipe.environment}/lib/python{image.spec.python}/site-packages/")
    assert answer["uvicorn"].startswith(image_site_packages), "the image's Uvicorn: the environment has none"
    assert "Traceback" not in logs
    if server == "reload":
        return  # /start-reload.sh prints no settings line
    found = _settings_line(logs)["virtual_env"]
    assert isinstance(found, dict)
    assert (found["path"], found["found_by"]) == (recipe.environment, recipe.found_by)
    stack = found["server_stack"]
    assert isinstance(stack, dict) and stack
    assert all(origin.endswith("from the image: the virtual environment has none") for origin in stack.values())


def test_a_venv_with_the_system_site_packages_serves_too(
    child_images: ChildImages, platform: str, image_site_packages: str
) -> None:
    edit = ("python -m venv /opt/venv", "python -m venv --system-site-packages /opt/venv")
    image_id = build_recipe(child_images, platform, "venv", edit=edit)
    with serve(image_id, platform) as running:
        answer = requests.get(running.url(), timeout=30).json()
    assert answer["prefix"] == "/opt/venv"
    assert answer["uvicorn"].startswith(image_site_packages)


def test_the_environments_own_uvicorn_runs_and_the_settings_line_says_so(
    image: ImageUnderTest, child_images: ChildImages, platform: str
) -> None:
    own = docker.run(image.image_id, ["python", "-c", "import uvicorn; print(uvicorn.__version__)"], remove=True)
    image_id = build_recipe(child_images, platform, "venv", requirements=(f"uvicorn=={str(own).strip()}",))
    with serve(image_id, platform) as running:
        answer = requests.get(running.url(), timeout=30).json()
        found = _settings_line(running.logs())["virtual_env"]
    assert answer["uvicorn"].startswith("/opt/venv/lib/")
    assert isinstance(found, dict) and isinstance(found["server_stack"], dict)
    assert found["server_stack"]["uvicorn"] == (
        f"{str(own).strip()} from /opt/venv: the virtual environment's own comes first"
    )
    assert found["server_stack"]["gunicorn"].endswith("from the image: the virtual environment has none")


def test_an_older_uvicorn_in_the_environment_is_one_line(child_images: ChildImages, platform: str) -> None:
    """Uvicorn 0.36 under the image's runtime: every worker died, and was replaced, in a loop."""
    image_id = build_recipe(child_images, platform, "venv", requirements=("uvicorn==0.36.0",))
    error = _only_error(run_to_exit(image_id, platform, {}))
    assert error.startswith(
        "error: the virtual environment /opt/venv (VIRTUAL_ENV) has uvicorn 0.36.0; this image's server needs uvicorn"
    )


def _other_python(where: str) -> str:
    """What a virtual environment copied from another base looks like here: pyvenv.cfg records
    another Python, and bin/python points at an interpreter this image does not have."""
    return (
        f"RUN python -m venv {where} && sed -i 's/^version = .*/version = 3.99.1/;"
        f" s|^home = .*|home = /opt/python-3.99/bin|' {where}/pyvenv.cfg"
        f" && ln -sf /opt/python-3.99/bin/python3.99 {where}/bin/python\n"
    )


def test_an_environment_of_another_python_is_one_line_naming_both(
    image: ImageUnderTest, child_images: ChildImages, platform: str
) -> None:
    tail = _other_python("/opt/venv") + 'ENV PATH="/opt/venv/bin:$PATH"\n'
    image_id = child_images.build(platform, {"main.py": PROBE_APP}, tail)
    error = _only_error(run_to_exit(image_id, platform, {}))
    assert error.startswith(
        "error: the virtual environment /opt/venv (first on PATH) was made by Python 3.99.1"
        " (/opt/python-3.99/bin, which is not in this image); this image runs Python "
        f"{image.spec.python}."
    )


def test_a_copied_in_dot_venv_of_another_python_is_left_aside(child_images: ChildImages, platform: str) -> None:
    """A developer's own .venv copied in with the application did not stop the original image."""
    image_id = child_images.build(platform, {"main.py": PROBE_APP}, _other_python("/app/.venv"))
    with serve(image_id, platform) as running:
        assert requests.get(running.url(), timeout=30).status_code == 200
        warnings = [line for line in running.logs().splitlines() if line.startswith("warning:")]
    assert warnings == [
        next(line for line in warnings if line.startswith("warning: the virtual environment /app/.venv"))
    ]
    assert warnings[0].endswith("left aside: set VIRTUAL_ENV or put its bin/ on PATH to use it")


def test_every_recipe_of_the_readme_is_tested() -> None:
    assert set(readme_recipes()) == set(RECIPES)
