"""One figure of bench/results.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NAMES = (
    "detail_round_trips", "list_round_trips", "detail_latency_ratio", "list_latency_ratio",
    "bulk_throughput_ratio", "cold_start_ratio_max", "scale_flatness_ratio", "hot_key_share_ratio",
    "cost_per_10k_lifecycles_usd", "filter_scale_ratio_max", "filter_read_units_max",
    "search_index_write_cost_ratio",
)


@dataclass
class Result:
    name: str
    value: float | int | None  # None: not measured (detail says why)
    unit: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "detail": self.detail}
