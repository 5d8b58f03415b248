"""`make bench`: run every benchmark of issue 6 and write bench/results.json.

    python -m bench.run                  # the full run (under 30 minutes on 2 cores)
    python -m bench.run --quick          # tiny sizes: checks the harness, not the figures
    python -m bench.run --only cold_start_ratio_max,hot_key_share_ratio

Stages, in order: cold start (fresh processes, nothing else running), hot keys (computed),
round trips and latency (1,000 orders), the selective filters' pages at 1,000 orders, scale
flatness (the same table grown to 100,000 orders with BatchWriteItem from parallel threads), the
filters' pages and read units at 100,000, bulk throughput (10,000 of those orders through the
SQS consumer, 10,000 more by raw UpdateItem), the search index's write cost (a table of its own,
its stream read), cost (1,000 lifecycles on the whole local stack)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# before any orderdesk module builds its Powertools logger
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

from bench.results import NAMES, Result  # noqa: E402

OUT = Path(__file__).resolve().parent / "results.json"
LOG = logging.getLogger("bench")


@dataclass(frozen=True)
class Sizes:
    small_orders: int = 1_000
    large_orders: int = 100_000
    bulk_orders: int = 10_000
    lifecycles: int = 1_000
    calibration_lifecycles: int = 20
    lifecycle_workers: int = 8
    latency_rounds: int = 5
    latency_samples: int = 60
    scale_rounds: int = 5
    scale_samples: int = 40
    cold_runs: int = 7
    seed_workers: int = 8
    warmup: int = 10
    write_cost_orders: int = 20


FULL = Sizes()
QUICK = Sizes(small_orders=150, large_orders=400, bulk_orders=60, lifecycles=3, calibration_lifecycles=1,
              lifecycle_workers=2, latency_rounds=2, latency_samples=8, scale_rounds=2, scale_samples=6, cold_runs=1,
              seed_workers=4, write_cost_orders=3)


def _missing(name: str, exc: BaseException) -> Result:
    return Result(name, None, "", {"error": f"not measured: {type(exc).__name__}: {exc}"[:2000],
                                   "trace": traceback.format_exc().splitlines()[-6:]})


def run(sizes: Sizes, only: set[str] | None = None, out: Path = OUT) -> list[Result]:
    wanted = set(only or NAMES)
    results: dict[str, Result] = {}

    def stage(names: tuple[str, ...], fn: Callable[[], list[Result]]) -> None:
        if not wanted & set(names):
            return
        started = time.perf_counter()
        LOG.info("stage %s ...", ", ".join(names))
        try:
            for r in fn():
                results[r.name] = r
        except Exception as exc:  # a stage that cannot run says why; the others still run
            LOG.exception("stage %s failed", names)
            for name in names:
                results.setdefault(name, _missing(name, exc))
        LOG.info("stage %s done in %.1f s", ", ".join(names), time.perf_counter() - started)
        _write(results, out, keep_others=only is not None)

    from bench import coldstart, hotkey

    stage(("cold_start_ratio_max",), lambda: [coldstart.measure(runs=sizes.cold_runs)])
    stage(("hot_key_share_ratio",), lambda: [hotkey.measure(item_bytes=hotkey.order_record_bytes())])

    table_stages = {"detail_round_trips", "list_round_trips", "detail_latency_ratio", "list_latency_ratio",
                    "scale_flatness_ratio", "bulk_throughput_ratio", "filter_scale_ratio_max",
                    "filter_read_units_max"}
    if wanted & table_stages:
        _table_stages(sizes, stage, wanted)

    from bench import search_cost

    stage(("search_index_write_cost_ratio",), lambda: [search_cost.measure(orders=sizes.write_cost_orders)])

    from bench import lifecycle

    stage(("cost_per_10k_lifecycles_usd",), lambda: [lifecycle.measure(
        lifecycles=sizes.lifecycles, workers=sizes.lifecycle_workers,
        calibration=sizes.calibration_lifecycles)])
    return [results[n] for n in NAMES if n in results]


def _table_stages(sizes: Sizes, stage: Callable[..., None], wanted: set[str]) -> None:
    from bench import bulk, data, filters, latency
    from bench.stack import Stack
    from orderdesk.domain.statuses import OrderStatus

    rng = random.Random(6)
    movable: list[tuple[str, str]] = []  # Pending or Active orders: what a bulk cancel may move
    numbers: set[str] = set()
    domains: list[str] = []  # of the first orders: `q` matching a few orders at any size
    loaded = [0]

    def remember(entries: Iterator[data.Entry]) -> Iterator[data.Entry]:
        for entry in entries:
            if entry[0].status in (OrderStatus.PENDING, OrderStatus.ACTIVE):
                movable.append((entry[0].id, entry[0].status.value))
            if loaded[0] < sizes.small_orders:
                domains.extend(i.domain for i in entry[1] if i.domain)
            loaded[0] += 1
            yield entry

    with Stack(stream=False) as stack:  # no stage here reads the stream
        seeded = data.directory(rng)
        count, seconds = data.load(remember(data.build(rng, seeded, sizes.small_orders, numbers=numbers)),
                                   workers=sizes.seed_workers)
        LOG.info("%d orders written in %.1f s", count, seconds)
        ids = [oid for oid, _ in movable]
        small: dict[str, Any] = {}

        def latencies() -> list[Result]:
            out = latency.measure(stack, ids, rounds=sizes.latency_rounds, samples=sizes.latency_samples,
                                  warmup=sizes.warmup)
            small.update(latency.list_page_p50(stack, rounds=sizes.scale_rounds, samples=sizes.scale_samples,
                                              warmup=sizes.warmup))
            return out

        stage(("detail_round_trips", "list_round_trips", "detail_latency_ratio", "list_latency_ratio"), latencies)

        filter_names = ("filter_scale_ratio_max", "filter_read_units_max")
        q_few = filters.pick_q_few(random.Random(16), domains) if domains else "nobody.example"
        filter_paths = {**filters.pages(q_few), **filters.DETAIL_ONLY}
        small_filters: dict[str, Any] = {}

        def filters_small() -> list[Result]:
            small_filters.update(filters.page_p50(stack, filter_paths, rounds=sizes.scale_rounds,
                                                  samples=sizes.scale_samples, warmup=sizes.warmup))
            return []

        stage(filter_names, filters_small)

        def flatness() -> list[Result]:
            if not small:
                small.update(latency.list_page_p50(stack, rounds=sizes.scale_rounds, samples=sizes.scale_samples,
                                              warmup=sizes.warmup))
            more = sizes.large_orders - sizes.small_orders
            added, load_seconds = data.load(remember(data.build(rng, seeded, more, numbers=numbers)),
                                            workers=sizes.seed_workers)
            LOG.info("%d more orders written in %.1f s (%.0f orders/s)", added, load_seconds, added / load_seconds)
            large = latency.list_page_p50(stack, rounds=sizes.scale_rounds, samples=sizes.scale_samples,
                                              warmup=sizes.warmup)
            return [Result("scale_flatness_ratio", round(large["app_per_ref"] / small["app_per_ref"], 3), "ratio", {
                "target": "<= 1.2",
                "request": f"GET {latency.LIST_PATH} through the app",
                "how": "p50 of the list page over p50 of a reference GetItem sampled in turn with it (the "
                       "machine's load at that moment), with 100,000 orders over the same with 1,000",
                "orders_small": sizes.small_orders,
                "orders_large": sizes.large_orders,
                "app_p50_ms_small": round(small["app"] * 1000, 3),
                "app_p50_ms_large": round(large["app"] * 1000, 3),
                "unnormalised_ratio": round(large["app"] / small["app"], 3),
                "reference_p50_ms_small": round(small["ref"] * 1000, 3),
                "reference_p50_ms_large": round(large["ref"] * 1000, 3),
                "raw_p50_ms_small": round(small["raw"] * 1000, 3),
                "raw_p50_ms_large": round(large["raw"] * 1000, 3),
                "raw_ratio_normalised": round(large["raw_per_ref"] / small["raw_per_ref"], 3),
                "app_rounds_ms_large": large["app_rounds_ms"],
                "seeded_orders": added,
                "seed_seconds": round(load_seconds, 1),
                "seed_orders_per_s": round(added / load_seconds, 1),
                "seeding": "infra.local.bulk_load.put_orders (BatchWriteItem, 25 records a request) from "
                           f"{sizes.seed_workers} threads, records built by the data layer's own mappers",
            })]

        stage(("scale_flatness_ratio",), flatness)

        def filters_large() -> list[Result]:
            if loaded[0] < sizes.large_orders:  # run without the scale stage (--only): grow the table here
                data.load(remember(data.build(rng, seeded, sizes.large_orders - loaded[0], numbers=numbers)),
                          workers=sizes.seed_workers)
            large = filters.page_p50(stack, filter_paths, rounds=sizes.scale_rounds, samples=sizes.scale_samples,
                                     warmup=sizes.warmup)
            api = stack.api()
            found = {n: len(api.get(p + "&limit=100")["orders"]) for n, p in filter_paths.items()}
            return filters.measure(small_filters, large, filters.read_units(stack, filter_paths),
                                   orders_small=sizes.small_orders, orders_large=loaded[0], q_few=q_few,
                                   paths=filter_paths, matches=found)

        if small_filters:
            stage(filter_names, filters_large)
        wanted_bulk = 2.2 * sizes.bulk_orders + 2
        if "bulk_throughput_ratio" in wanted and len(movable) < wanted_bulk:
            # run without the scale stage (--only): seed what the bulk stage moves
            while len(movable) < wanted_bulk:
                data.load(remember(data.build(rng, seeded, 2_000, numbers=numbers)), workers=sizes.seed_workers)
        rng.shuffle(movable)
        stage(("bulk_throughput_ratio",), lambda: [bulk.measure(stack, movable, orders=sizes.bulk_orders)])


def _write(results: dict[str, Result], out: Path, keep_others: bool = False) -> None:
    """Write the figures in the issue's order; `keep_others` (a run with --only) keeps the file's
    other figures as they were."""
    merged = {n: r.as_dict() for n, r in results.items()}
    if keep_others and out.exists():
        for entry in json.loads(out.read_text()):
            merged.setdefault(entry["name"], entry)
    out.write_text(json.dumps([merged[n] for n in NAMES if n in merged], indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (checks the harness only)")
    parser.add_argument("--only", help="comma-separated figure names")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    # a plain `kill` ends the run through the stacks' `with` blocks, which stop their JVMs
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "moto", "pynamodb", "infra"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    only = set(args.only.split(",")) if args.only else None
    if only and only - set(NAMES):
        parser.error(f"unknown figure(s): {', '.join(sorted(only - set(NAMES)))}")
    started = time.perf_counter()
    results = run(QUICK if args.quick else FULL, only, args.out)
    print(f"\n{'figure':32} {'value':>12}  unit   (in {time.perf_counter() - started:.0f} s; {args.out.name})")
    for r in results:
        value = "n/a" if r.value is None else r.value
        print(f"{r.name:32} {value!s:>12}  {r.unit}")
    return 0 if all(r.value is not None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
