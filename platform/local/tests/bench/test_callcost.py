"""Cost-per-call figures: growth from the smallest to the largest size, the batch path's rate."""

from __future__ import annotations

from orderflow.bench.callcost import (
    CALLS,
    CallCost,
    batch_path_rate,
    growth,
    per_size,
)
from orderflow.bench.suite import call_cost_figures

SEND, RECEIVE = CALLS[0], CALLS[1]


def _costs(call: str, side: str, seconds: dict[int, float | None]) -> list[CallCost]:
    return [CallCost(call, side, size, value, 10) for size, value in seconds.items()]


def test_growth_is_the_cost_at_the_largest_size_over_the_cost_at_zero() -> None:
    costs = _costs(SEND, "extensions", {0: 0.002, 1_000: 0.0021, 100_000: 0.003})
    assert growth(costs, SEND, "extensions") == 0.003 / 0.002
    assert per_size(costs, SEND, "extensions")[1_000] == 0.0021


def test_a_size_not_reached_leaves_no_growth_rather_than_a_flattering_one() -> None:
    costs = _costs(SEND, "plain moto", {0: 0.002, 10_000: 3.0, 100_000: None})
    assert growth(costs, SEND, "plain moto") is None
    assert growth(costs, RECEIVE, "plain moto") is None


def test_the_batch_path_moves_ten_messages_per_send_plus_receive_and_delete() -> None:
    costs = _costs(SEND, "extensions", {100_000: 0.004}) + _costs(
        RECEIVE, "extensions", {100_000: 0.006}
    )
    assert batch_path_rate(costs, "extensions", 100_000) == 10 / 0.010
    assert batch_path_rate(costs, "plain moto", 100_000) is None


def test_every_call_gets_a_figure_and_plain_moto_not_reached_is_said() -> None:
    costs = [
        cost
        for call in CALLS
        for side in ("extensions", "plain moto")
        for cost in _costs(call, side, {0: 0.01, 100_000: 0.012 if side == "extensions" else None})
    ]
    figures = call_cost_figures(costs)
    assert [f.subject for f in figures[:4]] == list(CALLS)
    assert all(f.met for f in figures[:4])
    batch = figures[4]
    assert batch.value == 10 / 0.024
    assert batch.met is False
    assert "plain moto not reached" in batch.detail
    assert "100,000 not reached" in figures[0].detail


def test_the_wall_clock_medians_are_kept_beside_the_cpu_time() -> None:
    costs = [CallCost(SEND, "extensions", 0, 0.004, 10, wall_seconds=0.011)]
    figure = call_cost_figures(costs)[0]
    assert figure.value == 1.0
    assert figure.data["extensions"] == {"0": 0.004}
    assert figure.data["wall_seconds"]["extensions"] == {"0": 0.011}
