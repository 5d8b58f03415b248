"""Timing helpers: interleaved sampling (so drift and the neighbours' load hit both sides
alike), medians of rounds. The collector stays on: its cost is part of the app's."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def p50(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


@dataclass
class Paired:
    """p50s of two operations sampled in alternation, round by round."""

    rounds: list[tuple[float, float]] = field(default_factory=list)  # (p50 a, p50 b) per round

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in self.rounds if b > 0]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def detail(self, a: str, b: str) -> dict[str, Any]:
        return {
            f"{a}_p50_ms": ms(statistics.median(r[0] for r in self.rounds)),
            f"{b}_p50_ms": ms(statistics.median(r[1] for r in self.rounds)),
            "round_ratios": [round(x, 3) for x in self.ratios],
        }


def paired(a: Callable[[int], Any], b: Callable[[int], Any], *, rounds: int, samples: int,
           warmup: int = 10) -> Paired:
    """Call `a(i)` and `b(i)` alternately (`i` picks the input, the same for both); per round the
    p50 of each. The order within a pair flips each time."""
    for i in range(warmup):
        a(i)
        b(i)
    out = Paired()
    for r in range(rounds):
        gc.collect()
        ta: list[float] = []
        tb: list[float] = []
        for s in range(samples):
            i = r * samples + s
            first, second, t1, t2 = (a, b, ta, tb) if s % 2 == 0 else (b, a, tb, ta)
            t = time.perf_counter()
            first(i)
            t1.append(time.perf_counter() - t)
            t = time.perf_counter()
            second(i)
            t2.append(time.perf_counter() - t)
        out.rounds.append((p50(ta), p50(tb)))
    return out


def sample(fn: Callable[[int], Any], *, rounds: int, samples: int, warmup: int = 10) -> list[float]:
    """p50 of `fn` per round."""
    for i in range(warmup):
        fn(i)
    out = []
    for r in range(rounds):
        gc.collect()
        times = []
        for s in range(samples):
            t = time.perf_counter()
            fn(r * samples + s)
            times.append(time.perf_counter() - t)
        out.append(p50(times))
    return out


def interleaved(fns: dict[str, Callable[[int], Any]], *, rounds: int, samples: int,
                warmup: int = 10) -> list[dict[str, float]]:
    """Each of `fns` called in turn (the order rotating), `samples` times a round; per round the
    p50 of each."""
    names = list(fns)
    for i in range(warmup):
        for name in names:
            fns[name](i)
    out = []
    for r in range(rounds):
        gc.collect()
        times: dict[str, list[float]] = {n: [] for n in names}
        for s in range(samples):
            i = r * samples + s
            for k in range(len(names)):
                name = names[(s + k) % len(names)]
                t = time.perf_counter()
                fns[name](i)
                times[name].append(time.perf_counter() - t)
        out.append({n: p50(v) for n, v in times.items()})
    return out
