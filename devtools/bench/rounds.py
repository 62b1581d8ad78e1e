"""Measurements in alternating rounds (A B C, A B C, ...), so that a drift of the machine falls
on every configuration alike, and what their spread lets a comparison say.

The spread is the range of the rounds, lowest to highest. With n rounds it holds the median
of the machine's distribution with probability 1 - 2^(1-n) (75% at 3 rounds, 94% at 5), and
it needs no assumption about that distribution's shape, which on a shared machine has none."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from devtools.bench.wrk import LoadResult

Key = TypeVar("Key", bound=Hashable)
Measured = TypeVar("Measured")

YES = "yes"
NO = "no"
WITHIN_NOISE = "within noise"


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        ordered = sorted(values)
        if not ordered:
            raise ValueError("a spread of no values")
        return cls(statistics.median(ordered), ordered[0], ordered[-1])

    def overlaps(self, other: Spread) -> bool:
        return self.low <= other.high and other.low <= self.high


@dataclass(frozen=True)
class LoadRounds:
    """One point's load in each round, and each figure's median and spread over the rounds."""

    rounds: list[LoadResult]
    requests_per_second: Spread
    p50_ms: Spread
    p99_ms: Spread

    @classmethod
    def of(cls, rounds: Sequence[LoadResult]) -> LoadRounds:
        return cls(
            list(rounds),
            Spread.of(load.requests_per_second for load in rounds),
            Spread.of(load.p50_ms for load in rounds),
            Spread.of(load.p99_ms for load in rounds),
        )


def alternating(keys: Sequence[Key], measure: Callable[[Key], Measured], rounds: int) -> dict[Key, list[Measured]]:
    """`measure` of every key, key after key, `rounds` times over: each key's results in order."""
    results: dict[Key, list[Measured]] = {key: [] for key in keys}
    for _ in range(rounds):
        for key in keys:
            results[key].append(measure(key))
    return results


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    """The ratio within each round (both sides measured moments apart), over the rounds."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} rounds against {len(denominators)}")
    return Spread.of(numerator / denominator for numerator, denominator in zip(numerators, denominators, strict=True))


def at_least(ratio: Spread, target: float) -> str:
    """Met when even the lowest round meets the target; not met when even the highest misses it."""
    if ratio.low >= target:
        return YES
    return NO if ratio.high < target else WITHIN_NOISE


def at_most(ratio: Spread, target: float) -> str:
    if ratio.high <= target:
        return YES
    return NO if ratio.low > target else WITHIN_NOISE


def combined(verdicts: Iterable[str]) -> str:
    """One verdict for a target checked on several points: any miss misses it."""
    given = set(verdicts)
    if NO in given:
        return NO
    return WITHIN_NOISE if WITHIN_NOISE in given else YES
