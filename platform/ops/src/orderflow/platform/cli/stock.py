"""``orderflow stock seed | ls``: the inventory service's stock levels."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import click
from rich.console import Console

from orderflow.inventory.admin import (
    load_stock_file,
    read_levels,
    seed_stock,
    stock_ledger,
)
from orderflow.inventory.domain import StockLevel
from orderflow.platform.cli.state import CliState, common_options, pass_state, table


@click.group()
def stock() -> None:
    """Stock levels of the inventory service."""


def _show(state: CliState, title: str, levels: Iterable[StockLevel]) -> None:
    rows = [
        {
            "sku": level.sku,
            "available": level.available,
            "threshold": level.threshold,
            "low": level.available < level.threshold,
        }
        for level in levels
    ]

    def human(console: Console) -> None:
        console.print(
            table(
                title,
                ["SKU", "AVAILABLE", "THRESHOLD", ""],
                [
                    [r["sku"], r["available"], r["threshold"], "low" if r["low"] else ""]
                    for r in rows
                ],
            )
        )

    state.out.emit({"stage": state.stage, "levels": rows}, human)


@stock.command("seed", short_help="Set stock levels from a JSON or CSV file.")
@click.argument("stock_file", type=click.Path(path_type=Path))
@click.option("--seed-id", help="Re-running with the same id changes nothing twice.")
@common_options
@pass_state
def stock_seed(state: CliState, stock_file: Path, seed_id: str | None) -> None:
    """Set stock levels from STOCK_FILE (.json or .csv), recorded as seed movements.

    \b
    JSON: {"sku-tee": {"available": 25, "threshold": 5}}
    CSV:  sku,available,threshold
    """
    settings = load_stock_file(stock_file)
    ledger = stock_ledger(state.stage, client=state.aws.dynamodb())
    levels = seed_stock(ledger, settings, seed_id=seed_id)
    _show(state, f"stock of {state.stage} after seeding", levels)


@stock.command("ls", short_help="Stock levels; items below threshold flagged.")
@common_options
@pass_state
def stock_ls(state: CliState) -> None:
    """Every item's level and reorder threshold; items below it are flagged."""
    ledger = stock_ledger(state.stage, client=state.aws.dynamodb())
    _show(state, f"stock of {state.stage}", read_levels(ledger))
