"""Figures are medians of per-run ratios against a floor measured in the same run."""

from __future__ import annotations

import pytest

from orderflow.bench.stats import (
    BenchError,
    Figure,
    Paired,
    at_least,
    at_most,
    measure_rounds,
    median,
    ratio,
)


def test_a_paired_ratio_is_the_median_of_each_runs_own_ratio():
    # GIVEN three runs where the machine got slower, then faster, between runs
    paired = Paired(floors=(1.0, 2.0, 4.0), subjects=(1.5, 2.0, 12.0))

    # WHEN the figure is taken
    # THEN each run is judged against its own floor (1.5, 1.0, 3.0), and the median wins
    assert paired.ratio == 1.5
    assert paired.floor == 2.0
    assert paired.subject == 2.0
    assert paired.runs == 3


def test_paired_runs_must_match_and_exist():
    with pytest.raises(BenchError):
        Paired(floors=(1.0,), subjects=(1.0, 2.0))
    with pytest.raises(BenchError):
        Paired(floors=(), subjects=())


def test_a_floor_of_zero_is_refused_rather_than_divided_by():
    with pytest.raises(BenchError, match="positive"):
        ratio(1.0, 0.0)


def test_median_of_nothing_is_an_error():
    with pytest.raises(BenchError):
        median([])


def test_each_run_rotates_which_measure_goes_first():
    # GIVEN three measures that log when they run
    order: list[str] = []

    def measure(name: str, value: float):
        def run() -> float:
            order.append(name)
            return value

        return run

    # WHEN measured over three runs
    results = measure_rounds([measure("a", 1.0), measure("b", 2.0), measure("c", 3.0)], runs=3)

    # THEN every measure ran once per run, each run starting with a different one
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert results == [(1.0, 1.0, 1.0), (2.0, 2.0, 2.0), (3.0, 3.0, 3.0)]


def test_targets_say_whether_a_value_meets_them_and_by_how_much_it_misses():
    assert at_most(1.3).met(1.3)
    assert not at_most(1.3).met(1.31)
    assert at_most(2.0).shortfall(3.5) == pytest.approx(1.5)
    assert at_least(0.7).met(0.75)
    assert at_least(0.7).shortfall(0.48) == pytest.approx(0.22)
    assert at_least(0.7).shortfall(0.9) == 0.0


def test_an_unmeasured_figure_neither_meets_nor_misses_its_target():
    figure = Figure("cold start", "payment", None, "x", at_most(1.3), detail="no image")
    assert figure.met is None
    assert figure.as_json()["met"] is None
    assert figure.as_json()["target"] == {"bound": "<=", "limit": 1.3}
