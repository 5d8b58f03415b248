"""Issue 16's figures: the list's selective filters stay flat from 1,000 to 100,000 orders
(`filter_scale_ratio_max`), one page of each reads a bounded number of units
(`filter_read_units_max`), and the search index's write cost (`search_index_write_cost_ratio`).

Latency is measured as `scale_flatness_ratio` is: each filter's page through the app, sampled in
turn with a reference GetItem whose work does not grow with the table, so that the machine's load
at that moment cancels out; the figure is the largest ratio of (page p50 / reference p50) at
100,000 orders over the same at 1,000. The pages are those the issue's table names (a filter that
matches nothing) and `q` matching a few orders (a domain of an order of the first thousand)."""

from __future__ import annotations

import random
import statistics
from typing import Any

from bench import probes
from bench.latency import LIST_PATH, Floors
from bench.results import Result
from bench.stack import Stack
from bench.timing import interleaved, ms


def pages(q_few: str) -> dict[str, str]:
    """The figure's pages (each matching nothing but `q_few`) and, for the detail only, pages of
    the same filters that match many orders."""
    return {
        "q_few": f"/orders?q={q_few}",
        "q_none": "/orders?q=zzqx-nobody",
        "promo_code": "/orders?promo_code=NOSUCHCODE",
        "ip_address": "/orders?ip_address=192.0.2.55",
        "affiliate_id": "/orders?affiliate_id=nobody",
        "min_total": "/orders?min_total=99999.00",
    }


DETAIL_ONLY = {
    "promo_code_matching": "/orders?promo_code=WELCOME10",
    "min_total_matching": "/orders?min_total=100.00",
    "q_client_name": "/orders?q=lovelace",
    "status_and_q_none": "/orders?status=Pending&q=zzqx-nobody",
}


def pick_q_few(rng: random.Random, domains: list[str]) -> str:
    """A domain of one of the first orders: a `q` that matches a few orders at any size."""
    return rng.choice(sorted(domains))


def page_p50(stack: Stack, paths: dict[str, str], *, rounds: int, samples: int, warmup: int) -> dict[str, Any]:
    """p50 of each page and of the reference, interleaved round by round."""
    api = stack.api()
    floors = Floors(stack)
    one = floors.status_page()[0]
    key = {"pk": one["pk"], "sk": one["sk"]}
    try:
        def getter(path: str) -> Any:
            return lambda i: api.get(path)

        calls = {name: getter(path) for name, path in paths.items()}
        calls["ref"] = lambda i: floors.client.get_item(TableName=floors.table, Key=key, ConsistentRead=True)
        per_round = interleaved(calls, rounds=rounds, samples=samples, warmup=warmup)
    finally:
        floors.close()
    out: dict[str, Any] = {}
    for name in paths:
        out[name] = {"p50_ms": ms(statistics.median(r[name] for r in per_round)),
                     "per_ref": statistics.median(r[name] / r["ref"] for r in per_round)}
    out["ref_p50_ms"] = ms(statistics.median(r["ref"] for r in per_round))
    return out


def read_units(stack: Stack, paths: dict[str, str]) -> dict[str, float]:
    """Read units one page of each consumed (after a first call that warms the clients)."""
    api = stack.api()
    out = {}
    for name, path in {**paths, "status_page": LIST_PATH}.items():
        api.get(path)
        with probes.meter() as m:
            api.get(path)
        out[name] = round(m.read_units, 2)
    return out


def measure(small: dict[str, Any], large: dict[str, Any], units: dict[str, float], *, orders_small: int,
            orders_large: int, q_few: str, paths: dict[str, str], matches: dict[str, int]) -> list[Result]:
    ratios = {name: round(large[name]["per_ref"] / small[name]["per_ref"], 3) for name in paths}
    figure = {name: ratios[name] for name in pages(q_few)}
    worst = max(figure, key=lambda n: figure[n])
    status_units = units["status_page"]
    read_max = max(units[name] for name in figure)
    return [
        Result("filter_scale_ratio_max", figure[worst], "ratio", {
            "target": "<= 1.5",
            "how": "p50 of one page through the app over p50 of a reference GetItem sampled in turn with it, "
                   f"with {orders_large:,} orders over the same with {orders_small:,}; the largest of the pages",
            "worst": worst,
            "ratios": figure,
            "ratios_of_matching_pages_not_in_the_figure": {n: ratios[n] for n in paths if n not in figure},
            "pages": paths,
            "orders_matched_at_large": matches,
            "p50_ms_small": {n: small[n]["p50_ms"] for n in paths},
            "p50_ms_large": {n: large[n]["p50_ms"] for n in paths},
            "reference_p50_ms": {"small": small["ref_p50_ms"], "large": large["ref_p50_ms"]},
            "unnormalised_ratios": {n: round(large[n]["p50_ms"] / small[n]["p50_ms"], 3) for n in paths},
        }),
        Result("filter_read_units_max", read_max, "read units", {
            "target": f"<= 4 x a status page ({status_units} read units) = {round(4 * status_units, 2)}",
            "ratio_to_status_page": round(read_max / status_units, 3) if status_units else None,
            "orders": orders_large,
            "read_units_per_page": units,
            "how": "ReturnConsumedCapacity of every DynamoDB request of one GET through the app (limit 25), "
                   "after a first call; the status page is GET /orders?status=Pending",
        }),
    ]
