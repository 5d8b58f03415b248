"""The benchmark harness on tiny sizes, so the bench code cannot rot: every figure of issue 6 is
produced by the same code `make bench` runs (the slow stages, 100,000 orders and 1,000
lifecycles, are only scaled down)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import coldstart, hotkey, probes
from bench.results import NAMES


def test_waves_count_overlapping_requests_once() -> None:
    # GIVEN three requests, two of them overlapping, then a third after both
    log = probes.RequestLog([probes.Request("Query", 0.0, 1.0), probes.Request("Query", 0.5, 1.5),
                             probes.Request("GetItem", 2.0, 3.0)])
    # WHEN the round trips are counted THEN the overlapping pair is one wave
    assert log.waves() == 2


def test_hot_key_ratio_is_computed_from_the_repository_shards() -> None:
    # GIVEN / WHEN 2,000 simulated status changes
    result = hotkey.measure(rate=2000)
    # THEN the ratio is the hottest key's share times the shard count, at least an even split
    assert result.value is not None and result.value >= 1.0
    assert result.detail["shards"] * result.detail["hottest_key_share_of_status_writes"] == pytest.approx(
        result.value, abs=1e-3)


def test_cold_start_lists_every_handler_module() -> None:
    modules = coldstart.handler_modules()
    assert modules[0] == "app"
    assert all(m.startswith("functions.") and m.endswith(".app") for m in modules[1:])


TINY = dict(small_orders=40, large_orders=80, bulk_orders=15, latency_rounds=1, latency_samples=4, scale_rounds=1,
            scale_samples=3, seed_workers=4, warmup=1)


def test_cold_start_times_an_import_in_a_fresh_process() -> None:
    assert 0 < coldstart.import_seconds(["orderdesk.domain.money"], "app") < 30


@pytest.mark.timeout(240)
def test_quick_run_writes_every_figure(tmp_path: Path) -> None:
    # GIVEN the harness on tiny sizes (cold start and cost have their own tests)
    from dataclasses import replace

    from bench.run import QUICK, run

    out = tmp_path / "results.json"
    wanted = {"detail_round_trips", "list_round_trips", "detail_latency_ratio", "list_latency_ratio",
              "scale_flatness_ratio", "bulk_throughput_ratio", "hot_key_share_ratio", "filter_scale_ratio_max",
              "filter_read_units_max", "search_index_write_cost_ratio"}
    # WHEN it runs
    run(replace(QUICK, **TINY), wanted, out)
    # THEN results.json has each figure with a value, in the order and shape
    entries = json.loads(out.read_text())
    assert [e["name"] for e in entries] == [n for n in NAMES if n in wanted]
    for e in entries:
        assert set(e) == {"name", "value", "unit", "detail"}
        assert e["value"] is not None, e["detail"]
    by_name = {e["name"]: e for e in entries}
    assert by_name["detail_round_trips"]["value"] == 1
    assert by_name["bulk_throughput_ratio"]["detail"]["counters_exact"] is True
    # the filters' pages were measured at both sizes, each no-match page matching nothing
    assert set(by_name["filter_scale_ratio_max"]["detail"]["ratios"]) == {
        "q_few", "q_none", "promo_code", "ip_address", "affiliate_id", "min_total"}
    matched = by_name["filter_scale_ratio_max"]["detail"]["orders_matched_at_large"]
    assert matched["q_few"] >= 1 and matched["q_none"] == matched["promo_code"] == matched["min_total"] == 0
    cost = by_name["search_index_write_cost_ratio"]["detail"]
    assert cost["create_order_write_units"]["index_part"] > 0 and cost["ratios"]["client_email_1_orders"] > 1


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_cost_of_one_lifecycle_on_the_local_stack() -> None:
    # GIVEN / WHEN one real lifecycle (create, screen, pay, accept, cancel & refund) on the local stack
    from bench import lifecycle

    result = lifecycle.measure(lifecycles=1, workers=1, calibration=1)
    # THEN it completed and every part of the bill was measured
    assert result.value is not None and result.value > 0, result.detail
    assert result.detail["completed"] == 1
    per = result.detail["per_lifecycle"]
    assert per["write_request_units"] > 0 and per["state_transitions"] > 0 and per["lambda_invocations"] > 4
