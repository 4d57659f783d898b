"""Pipeline rows: orders/s at the small and the large size, their share, and plain moto."""

from __future__ import annotations

from orderflow.bench.report import format_target, format_value
from orderflow.bench.stats import BenchError
from orderflow.bench.suite import PLAIN_MOTO_SUBJECT, pipeline_figures
from orderflow.bench.throughput import LEFT_OUT_FOR_PLAIN_MOTO, PlainMoto, Throughput


def _measured(large: tuple[float, ...] = (27.0,)) -> Throughput:
    return Throughput(
        orders=200,
        pipeline=(29.0, 30.0, 31.0),
        ceiling=(40.0,),
        failed={},
        large_orders=5000 if large else 0,
        large=large,
    )


def test_each_pipeline_row_stands_beside_its_target() -> None:
    figures = pipeline_figures(_measured(), PlainMoto(200, (2.5,), {}))
    by_subject = {f.subject: f for f in figures}
    small = by_subject["pipeline, 200 orders"]
    large = by_subject["pipeline, 5,000 orders"]
    share = by_subject["pipeline, 5,000 vs 200 orders"]
    plain = by_subject[PLAIN_MOTO_SUBJECT]
    assert (small.value, format_target(small.target, small.unit)) == (30.0, ">= 25.0 orders/s")
    assert format_value(small.value, small.unit) == "30.0 orders/s"
    assert large.value == 27.0
    assert large.met
    assert share.value == 0.9
    assert share.met
    assert format_target(share.target, share.unit) == ">= 90%"
    assert plain.value == 12.0
    assert plain.met
    assert format_target(plain.target, plain.unit) == ">= 10.00x"
    assert all(name in plain.detail for name in LEFT_OUT_FOR_PLAIN_MOTO)
    assert "fewer than" not in plain.detail


def test_plain_moto_at_a_smaller_size_says_so_in_its_row() -> None:
    plain = pipeline_figures(_measured(), PlainMoto(40, (6.0,), {"analytics": 2}))[-1]
    assert plain.value == 5.0
    assert plain.met is False
    assert "plain moto at 40 orders, fewer than 200" in plain.detail
    assert "failed records: analytics 2" in plain.detail


def test_rows_that_could_not_run_are_not_measured_with_the_reason() -> None:
    figures = pipeline_figures(_measured(large=()), BenchError("the local runtime did not start"))
    missing = {f.subject: f.detail for f in figures if f.value is None}
    assert missing == {
        "pipeline, 0 orders": "no large run was asked for",
        "pipeline, 0 vs 200 orders": "no large run was asked for",
        PLAIN_MOTO_SUBJECT: "the local runtime did not start",
    }


def test_a_large_run_that_did_not_finish_leaves_the_small_rows_standing() -> None:
    measured = Throughput(
        orders=200,
        pipeline=(30.0,),
        ceiling=(40.0,),
        failed={},
        large_orders=5000,
        large_error="pipeline not done after 2500 s: analytics 4100/5000",
    )
    figures = {f.subject: f for f in pipeline_figures(measured, PlainMoto(40, (3.0,), {}))}
    assert figures["pipeline, 200 orders"].value == 30.0
    assert figures["pipeline, 5,000 orders"].value is None
    assert figures["pipeline, 5,000 orders"].detail.startswith("pipeline not done after 2500 s")
    assert figures["pipeline vs plain moto"].value == 10.0
