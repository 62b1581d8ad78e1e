"""What a build costs: cold, warm with no change, after a date-only change and after a change
to common/ alone, each with the number of layer steps BuildKit ran rather than took from cache."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from python_on_whales import docker
from python_on_whales.exceptions import DockerException

from bake.core.naming import image_references, reference_strings
from bake.engine.build import BasePlan, BuildSettings, bake_streaming
from bake.errors import BakeError
from bake.paths import BAKE_FILE, REPO_ROOT
from bake.progress import say

# Images built for the benchmark get their own name, so the tested tags are never replaced.
BENCH_IMAGE_NAME = "uvicorn-gunicorn-bench"
OTHER_DATE = "1999-12-31"
CHANGED_FILE = Path("common/start.sh")

_STEP = re.compile(r"^#(\d+) \[(?:[^\]]*\s)?\d+/\d+\] (RUN|COPY|ADD|WORKDIR)\b")
_STATUS = re.compile(r"^#(\d+) (CACHED|DONE)\b")
# How much of a failed build's log the error shows: BuildKit's error and the step it came from.
FAILURE_TAIL_LINES = 40


class BuildFailed(BakeError):
    """A measured build failed."""


@dataclass(frozen=True)
class StepCount:
    ran: int
    total: int


@dataclass(frozen=True)
class BuildCost:
    scenario: str
    seconds: float
    layers_built: int
    layer_steps: int


def count_layer_steps(log: Iterable[str]) -> StepCount:
    """Layer-making steps (RUN, COPY, ADD, WORKDIR) in a plain build log, and how many of them ran."""
    steps: set[str] = set()
    cached: set[str] = set()
    done: set[str] = set()
    for line in log:
        if match := _STEP.match(line):
            steps.add(match.group(1))
        elif match := _STATUS.match(line):
            (cached if match.group(2) == "CACHED" else done).add(match.group(1))
    return StepCount(ran=len(steps & (done - cached)), total=len(steps))


def _kept(lines: Iterable[str], tail: deque[str]) -> Iterator[str]:
    for line in lines:
        tail.append(line)
        yield line


def timed_bake(
    scenario: str,
    plan: BasePlan,
    settings: BuildSettings,
    use_cache: bool = True,
    bake_file: Path = BAKE_FILE,
    cache_key: str | None = None,
) -> BuildCost:
    tail: deque[str] = deque(maxlen=FAILURE_TAIL_LINES)
    started = time.monotonic()
    try:
        count = count_layer_steps(_kept(bake_streaming(plan, settings, use_cache, bake_file, cache_key), tail))
    except DockerException as error:
        lines = "\n".join(line.rstrip() for line in tail)
        raise BuildFailed(f"build {scenario} failed (exit code {error.return_code}); its log ends:\n{lines}") from None
    seconds = round(time.monotonic() - started, 1)
    say(f"bench: build {scenario}: {seconds} s, {count.ran} of {count.total} layer steps ran")
    return BuildCost(scenario, seconds, count.ran, count.total)


def _change_common(tree: Path) -> None:
    changed = tree / CHANGED_FILE
    # A new line every run: a change seen by an earlier run would be in the cache already.
    changed.write_text(changed.read_text() + f"# changed by nox -s bench, {uuid.uuid4()}\n")


@contextlib.contextmanager
def _copy_with_changed_common(source: Path = REPO_ROOT) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-context-") as directory:
        copy = Path(directory) / "repo"
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".git", ".nox", "__pycache__", "docs"))
        _change_common(copy)
        with contextlib.chdir(copy):
            yield copy


@contextlib.contextmanager
def _tree_of(ref: str | None) -> Iterator[Path]:
    """The working tree (None), or the build files of commit `ref` as a tree of their own."""
    if ref is None:
        yield REPO_ROOT
        return
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as directory:
        archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", ref], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", directory], input=archive.stdout, check=True)
        yield Path(directory)


def measure_family_cost(plan: BasePlan, settings: BuildSettings, label: str, ref: str | None = None) -> list[BuildCost]:
    """The whole family cold (no cache, pip steps under a key of this run's own), then after a
    change under common/ alone on top of that build; with `ref`, as commit `ref` builds it."""
    settings = replace(settings, image_name=BENCH_IMAGE_NAME)
    key = uuid.uuid4().hex
    way = f"{label}, as {ref} builds it" if ref else label
    with _tree_of(ref) as tree:
        with contextlib.chdir(tree):
            cold = timed_bake(f"{way}: cold (no cache)", plan, settings, False, tree / BAKE_FILE.name, key)
        with _copy_with_changed_common(tree) as copy:
            changed = timed_bake(f"{way}: change in common/ only", plan, settings, True, copy / BAKE_FILE.name, key)
    return [cold, changed]


def measure_build_cost(plan: BasePlan, settings: BuildSettings, label: str) -> list[BuildCost]:
    """Cold (no cache), warm (no change), date-only change and common/-only change of `plan`."""
    settings = replace(settings, image_name=BENCH_IMAGE_NAME)
    costs = [
        timed_bake(f"{label}: cold (no cache)", plan, settings, use_cache=False),
        timed_bake(f"{label}: warm, no change", plan, settings),
        timed_bake(f"{label}: date-only change", plan, replace(settings, build_date=OTHER_DATE)),
    ]
    with _copy_with_changed_common() as copy:
        costs.append(timed_bake(f"{label}: change in common/ only", plan, settings, bake_file=copy / BAKE_FILE.name))
    return costs


def remove_bench_images(plan: BasePlan, dates: Sequence[str]) -> None:
    references = {
        reference
        for image in plan.buildable
        for build_date in dates
        for reference in reference_strings(image_references(image, BENCH_IMAGE_NAME, build_date))
    }
    docker.image.remove([reference for reference in references if docker.image.exists(reference)], force=True)
