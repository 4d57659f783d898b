"""Stock files, seeding and reading levels: what the CLI and the demo call."""

from __future__ import annotations

import json

import pytest

from orderflow.inventory.admin import (
    StockDiscrepancy,
    StockFileError,
    audit_stock,
    format_levels,
    load_stock_file,
    read_levels,
    seed_stock,
)
from orderflow.inventory.domain import StockContentionError, StockLevel, StockSetting
from orderflow.retry import NO_PAUSE, Backoff
from orderflow.testing import make_order


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_json_stock_file_reads_with_default_thresholds(tmp_path):
    path = write(
        tmp_path,
        "stock.json",
        json.dumps({"sku-1": {"available": 25, "threshold": 5}, "sku-2": {"available": 0}}),
    )
    assert load_stock_file(path) == [StockSetting("sku-1", 25, 5), StockSetting("sku-2", 0, 10)]


def test_a_csv_stock_file_reads_with_optional_thresholds(tmp_path):
    path = write(tmp_path, "stock.csv", "sku,available,threshold\nsku-1,25,5\n\nsku-2, 7 ,\n")
    assert load_stock_file(path) == [StockSetting("sku-1", 25, 5), StockSetting("sku-2", 7, 10)]


def test_a_csv_without_a_threshold_column_reads(tmp_path):
    path = write(tmp_path, "stock.csv", "SKU,Available\nsku-1,3\n")
    assert load_stock_file(path) == [StockSetting("sku-1", 3, 10)]


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("s.json", "{", "s.json: not JSON"),
        ("s.json", "[]", "expected an object of sku -> settings"),
        ("s.json", "{}", "s.json: no items"),
        ("s.json", '{"sku-1": 5}', "sku 'sku-1': expected an object with 'available'"),
        ("s.json", '{"sku-1": {"threshold": 5}}', "'available' is missing"),
        ("s.json", '{"sku-1": {"available": -1}}', "available must be a whole number >= 0, got -1"),
        ("s.json", '{"sku-1": {"available": 2.5}}', "available must be a whole number >= 0"),
        ("s.json", '{"sku-1": {"available": true}}', "available must be a whole number >= 0"),
        ("s.json", '{"sku-1": {"available": 1, "colour": 2}}', "unknown field(s) colour"),
        ("s.json", '{"bad sku": {"available": 1}}', "sku 'bad sku' must be 1-64 letters"),
        ("s.json", '{"a": {"available": 1}, "a": {"available": 2}}', "sku 'a' is listed twice"),
        ("s.csv", "name,count\nsku-1,1\n", "s.csv: line 1: header must be"),
        ("s.csv", "", "s.csv: line 1: header must be"),
        ("s.csv", "sku,available\n", "s.csv: no items"),
        ("s.csv", "sku,available\nsku-1,ten\n", "line 2: available must be a whole number"),
        ("s.csv", "sku,available,threshold\nsku-1,1,-2\n", "line 2: threshold must be"),
        ("s.csv", "sku,available\nsku-1,1,9\n", "line 2: expected 2 columns, found 3"),
        ("s.csv", "sku,available\nsku-1,1\nsku-1,2\n", "line 3: sku 'sku-1' is listed twice"),
        ("s.txt", "sku-1 5", "unknown stock file type '.txt'"),
    ],
)
def test_a_malformed_stock_file_gets_one_line_naming_the_problem(tmp_path, name, text, problem):
    path = write(tmp_path, name, text)
    with pytest.raises(StockFileError) as caught:
        load_stock_file(path)
    message = str(caught.value)
    assert problem in message
    assert "\n" not in message


def test_a_missing_stock_file_is_named(tmp_path):
    with pytest.raises(StockFileError, match=r"absent\.json: cannot read"):
        load_stock_file(tmp_path / "absent.json")


def test_seeding_sets_levels_as_movements_so_the_ledger_sums(ledger, inventory):
    # GIVEN a seeded item that then sells some
    seed_stock(ledger, [StockSetting("sku-1", 20, 5)])
    inventory.handle(make_order("ord-1", items=[("sku-1", 8, "1.00")]))

    # WHEN it is seeded again to a new level
    levels = seed_stock(ledger, [StockSetting("sku-1", 30, 6), StockSetting("sku-2", 4)])

    # THEN the levels are what the file says and still the sum of their movements
    assert levels == [StockLevel("sku-1", 30, 6), StockLevel("sku-2", 4, 10)]
    assert audit_stock(ledger) == []
    seeds = sorted(m.delta for m in ledger.all_movements() if m.kind == "seed")
    assert seeds == [4, 18, 20]


def test_rerunning_one_seed_run_changes_nothing(ledger, inventory):
    seed_stock(ledger, [StockSetting("sku-1", 20)], seed_id="restock-1")
    inventory.handle(make_order("ord-1", items=[("sku-1", 8, "1.00")]))

    seed_stock(ledger, [StockSetting("sku-1", 20)], seed_id="restock-1")

    assert read_levels(ledger, ["sku-1"]) == [StockLevel("sku-1", 12)]


class MovesUnderSeeding:
    """A ledger where another write moves the level once, between seeding's read and write."""

    def __init__(self, ledger, sku: str, times: int):
        self.ledger = ledger
        self.sku = sku
        self.times = times

    def __getattr__(self, name):
        return getattr(self.ledger, name)

    def record(self, change):
        if self.times:
            self.times -= 1
            seed_stock(
                self.ledger, [StockSetting(self.sku, 90 + self.times)], seed_id=f"o{self.times}"
            )
        return self.ledger.record(change)


def test_seeding_while_the_level_moves_reads_again_and_still_sums(ledger):
    # GIVEN 5 of sku-1 and another write that moves it just before each of two seed writes
    seed_stock(ledger, [StockSetting("sku-1", 5)])
    pauses: list[float] = []
    moving = MovesUnderSeeding(ledger, "sku-1", times=2)

    # WHEN it is seeded to 20
    levels = seed_stock(
        moving, [StockSetting("sku-1", 20)], backoff=Backoff(attempts=3, sleep=pauses.append)
    )

    # THEN the third attempt set it, after a pause per lost race, and the ledger still sums
    assert levels == [StockLevel("sku-1", 20)]
    assert len(pauses) == 2
    assert audit_stock(ledger) == []


def test_seeding_a_level_that_never_settles_names_the_sku(ledger):
    seed_stock(ledger, [StockSetting("sku-1", 5)])
    with pytest.raises(StockContentionError, match="sku sku-1: level kept moving"):
        seed_stock(MovesUnderSeeding(ledger, "sku-1", times=99), [StockSetting("sku-1", 20)],
                   backoff=NO_PAUSE)  # fmt: skip


def test_audit_finds_a_level_that_is_not_its_movements(ledger):
    seed_stock(ledger, [StockSetting("sku-1", 5)])
    # Tamper behind the ledger's back, as a hand edit of the table would.
    ledger._stock["sku-1"] = StockLevel("sku-1", 7)
    assert audit_stock(ledger) == [StockDiscrepancy("sku-1", level=7, movements_total=5)]


def test_levels_print_as_a_table_flagging_low_items():
    table = format_levels([StockLevel("sku-1", 25, 5), StockLevel("sku-22", 3)])
    assert table.splitlines() == [
        "SKU     AVAILABLE  THRESHOLD",
        "sku-1          25          5",
        "sku-22          3         10  low",
    ]
