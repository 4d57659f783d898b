"""Seeding and reading stock on DynamoDB, as ``orderflow stock seed`` and ``stock ls`` do."""

from __future__ import annotations

import pytest

from orderflow.inventory.admin import (
    audit_stock,
    format_levels,
    load_stock_file,
    read_levels,
    seed_stock,
    stock_ledger,
)
from orderflow.inventory.domain import StockLevel, StockSetting
from orderflow.testing import make_order

pytestmark = [
    pytest.mark.functional,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


def test_seed_a_stock_file_then_sell_then_list(stack, deliver, tmp_path):
    # GIVEN a stock file and the stage's tables (found by name, as the CLI finds them)
    path = tmp_path / "stock.csv"
    path.write_text("sku,available,threshold\nsku-1,12,10\nsku-2,40,\n")
    ledger = stock_ledger("test", client=stack.dynamodb)

    # WHEN it is seeded and an order sells 3 of sku-1
    seeded = seed_stock(ledger, load_stock_file(path))
    deliver(make_order("ord-1", items=[("sku-1", 3, "1.00")]))

    # THEN the levels read back are the seeded ones less the sale, and they sum exactly
    assert seeded == [StockLevel("sku-1", 12, 10), StockLevel("sku-2", 40, 10)]
    levels = read_levels(ledger)
    assert levels == [StockLevel("sku-1", 9, 10), StockLevel("sku-2", 40, 10)]
    assert "sku-1          9         10  low" in format_levels(levels)
    assert audit_stock(ledger) == []


def test_reseeding_while_orders_flow_keeps_the_ledger_exact(stack, deliver):
    ledger = stock_ledger("test", client=stack.dynamodb)
    seed_stock(ledger, [StockSetting("sku-1", 5)])
    deliver(make_order("ord-1", items=[("sku-1", 5, "1.00")]))

    seed_stock(ledger, [StockSetting("sku-1", 50, 20)])

    assert read_levels(ledger, ["sku-1"]) == [StockLevel("sku-1", 50, 20)]
    assert audit_stock(ledger) == []
