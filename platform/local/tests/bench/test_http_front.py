"""HTTP front figures: over HTTP against in-process per call, and one client's connections."""

from __future__ import annotations

import json

from orderflow.bench.http_front import (
    CALLS,
    CONNECTIONS_SUBJECT,
    FrontCost,
    FrontRun,
    from_json,
    front_figures,
    to_json,
)


def _run(http_seconds: float, cpu: tuple[float, ...] | None, connections: int) -> FrontRun:
    costs = tuple(
        FrontCost(
            call,
            calls=50,
            in_process=(0.001, 0.002, 0.001),
            over_http=(http_seconds, 2 * http_seconds, 3 * http_seconds),
            in_process_cpu=(0.001, 0.001, 0.001),
            over_http_cpu=cpu,
        )
        for call in CALLS
    )
    return FrontRun(costs, connections=connections, requests=500)


def test_each_call_is_its_runs_median_of_http_cpu_over_in_process_cpu() -> None:
    figures = front_figures(_run(0.0015, (0.0015, 0.002, 0.004), connections=1))
    assert [f.subject for f in figures] == [*CALLS, CONNECTIONS_SUBJECT]
    # CPU: the runs' ratios are 1.5, 2.0 and 4.0: the median is 2.0, within the 2x target
    assert figures[0].value == 2.0
    assert figures[0].met is True
    assert "CPU 2.00 ms (client + server) vs 1.00 ms in-process" in figures[0].detail
    # the wall clock beside it: 1.5, 1.5 and 4.5
    assert figures[0].data["wall_ratio"] == 1.5
    assert "wall clock 3.00 ms vs 1.00 ms, 1.50x" in figures[0].detail


def test_without_the_servers_cpu_time_the_figure_is_the_wall_clock_ratio() -> None:
    figure = front_figures(_run(0.0015, None, connections=1))[0]
    assert figure.value == 1.5
    assert "the server's CPU time is not readable" in figure.detail


def test_a_client_that_reconnects_for_each_call_misses_the_connection_target() -> None:
    figures = front_figures(_run(0.003, None, connections=500))
    connections = figures[-1]
    assert (connections.value, connections.met) == (500.0, False)
    assert "500 sequential requests" in connections.detail
    assert figures[0].met is False


def test_a_run_survives_its_json_round_trip() -> None:
    run = _run(0.0015, (0.002, 0.002, 0.003), connections=1)
    assert from_json(json.loads(json.dumps(to_json(run)))) == run
    unreadable = _run(0.0015, None, connections=1)
    assert from_json(json.loads(json.dumps(to_json(unreadable)))) == unreadable
