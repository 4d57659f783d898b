"""The table and the closing notes: every figure beside its target, misses explained."""

from __future__ import annotations

import json

from orderflow.bench.report import closing_notes, format_value, table, write_results
from orderflow.bench.stats import (
    MEGABYTES,
    RATIO,
    SHARE,
    USD_PER_MILLION_ORDERS,
    Figure,
    at_least,
    at_most,
)

FIGURES = [
    Figure("cold start", "payment", 1.25, RATIO, at_most(1.3), detail="300 ms vs 240 ms"),
    Figure("per-record cost", "payment", 3.5, RATIO, at_most(2.0), why="the shell is slow"),
    Figure("local throughput", "all", 0.48, SHARE, at_least(0.7)),
    Figure("artifact size", "payment", None, MEGABYTES, at_most(10.0), detail="no zip"),
    Figure("cost on AWS", "total", 310.97, USD_PER_MILLION_ORDERS, detail="a | b"),
]


def test_values_read_in_their_units():
    assert format_value(1.333, RATIO) == "1.33x"
    assert format_value(0.484, SHARE) == "48%"
    assert format_value(12.24, MEGABYTES) == "12.2 MB"
    assert format_value(1234.5, USD_PER_MILLION_ORDERS) == "$1,234.50"
    assert format_value(None, RATIO) == "not measured"


def test_the_table_puts_each_figure_beside_its_target_and_verdict():
    rows = table(FIGURES).splitlines()

    assert rows[0] == "| Measure | Subject | Result | Target |  | Detail |"
    assert "| cold start | payment | 1.25x | <= 1.30x | met | 300 ms vs 240 ms |" in rows
    assert "| local throughput | all | 48% | >= 70% | MISSED |  |" in rows
    assert "| artifact size | payment | not measured | <= 10.0 MB | n/a | no zip |" in rows
    # a bar inside a detail must not split the Markdown row
    assert "| cost on AWS | total | $310.97 |  |  | a / b |" in rows


def test_the_closing_notes_say_by_how_much_and_why_a_target_was_missed():
    notes = closing_notes(FIGURES, ["a general note"]).splitlines()

    assert notes == [
        "- per-record cost, payment: 3.50x against <= 2.00x (1.50x over). the shell is slow",
        "- local throughput, all: 48% against >= 70% (22 points short).",
        "- artifact size, payment: not measured: no zip",
        "- a general note",
    ]


def test_results_are_written_as_json_next_to_a_latest_copy(tmp_path):
    path = write_results(tmp_path, FIGURES, ["n"], {"finished_at": "2025-01-02T03:04:05+00:00"})

    document = json.loads(path.read_text())
    assert path.name == "bench-20250102T030405+0000.json"
    assert json.loads((tmp_path / "latest.json").read_text()) == document
    assert [f["value"] for f in document["figures"]] == [1.25, 3.5, 0.48, None, 310.97]
    assert document["figures"][1]["met"] is False
    assert document["notes"] == ["n"]
