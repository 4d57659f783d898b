"""Operator functions for stock: load a stock file, seed the tables, read and audit levels.

The platform CLI (``orderflow stock seed FILE``, ``orderflow stock ls``) and the local demo call
these. A stock file is JSON, ``{"sku-1": {"available": 25, "threshold": 5}}``, or CSV with a
header ``sku,available,threshold``; the threshold is optional (default 10).
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from orderflow import naming
from orderflow.contracts import utc_now
from orderflow.contracts.events import Sku
from orderflow.inventory.bootstrap import SERVICE
from orderflow.inventory.domain import (
    BACKOFF,
    DEFAULT_REORDER_THRESHOLD,
    LevelChangedError,
    StockContentionError,
    StockLevel,
    StockSetting,
    plan_seed,
    total_by_sku,
)
from orderflow.retry import retrying

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from orderflow.idempotency import ApplyOutcome
    from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger
    from orderflow.inventory.ports import StockLedger
    from orderflow.retry import Backoff

_SKU: TypeAdapter[str] = TypeAdapter(Sku)
_WHOLE_NUMBER = re.compile(r"^\d+$")
_CSV_COLUMNS = ("sku", "available", "threshold")


class StockFileError(ValueError):
    """A stock file is unreadable or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class StockDiscrepancy:
    """An item whose level is not the sum of its movements."""

    sku: str
    level: int
    movements_total: int


def table_names(stage: str) -> dict[str, str]:
    """The stock and movements table names of ``stage`` (as template.yaml names them)."""
    return {
        "stock": naming.resource(stage, f"{SERVICE}-stock"),
        "movements": naming.resource(stage, f"{SERVICE}-movements"),
    }


def stock_ledger(
    stage: str = "dev", *, client: DynamoDBClient | None = None
) -> DynamoDBStockLedger:
    """The stage's stock ledger on DynamoDB (default credentials, region and endpoint)."""
    from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger  # noqa: PLC0415

    if client is None:
        import boto3  # noqa: PLC0415  (deferred: the CLI imports this module on every command)

        client = boto3.client("dynamodb")
    names = table_names(stage)
    return DynamoDBStockLedger(
        client, stock_table=names["stock"], movements_table=names["movements"]
    )


def load_stock_file(path: str | Path) -> list[StockSetting]:
    """Read a JSON or CSV stock file; raises ``StockFileError`` naming the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise StockFileError(f"{path}: cannot read: {reason}") from exc
    suffix = path.suffix.lower()
    if suffix == ".json":
        return parse_stock_json(text, source=str(path))
    if suffix == ".csv":
        return parse_stock_csv(text, source=str(path))
    raise StockFileError(
        f"{path}: unknown stock file type {suffix or '(none)'!r}; use .json or .csv"
    )


def parse_stock_json(text: str, *, source: str = "<json>") -> list[StockSetting]:
    """``{"sku": {"available": n, "threshold": t}, ...}`` -> settings."""
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise StockFileError(f"{source}: not JSON: {exc.msg} at line {exc.lineno}") from exc
    except _DuplicateKeyError as exc:
        raise StockFileError(f"{source}: sku {exc.args[0]!r} is listed twice") from None
    if not isinstance(document, dict):
        raise StockFileError(f"{source}: expected an object of sku -> settings")
    settings = []
    for sku, fields in document.items():
        where = f"{source}: sku {sku!r}"
        if not isinstance(fields, dict):
            raise StockFileError(f"{where}: expected an object with 'available'")
        unknown = sorted(set(fields) - {"available", "threshold"})
        if unknown:
            raise StockFileError(f"{where}: unknown field(s) {', '.join(unknown)}")
        if "available" not in fields:
            raise StockFileError(f"{where}: 'available' is missing")
        settings.append(
            StockSetting(
                sku=_sku(sku, where),
                available=_json_count(fields["available"], "available", where),
                threshold=_json_count(
                    fields.get("threshold", DEFAULT_REORDER_THRESHOLD), "threshold", where
                ),
            )
        )
    return _non_empty(settings, source)


def parse_stock_csv(text: str, *, source: str = "<csv>") -> list[StockSetting]:
    """CSV with header ``sku,available[,threshold]`` -> settings."""
    rows = csv.reader(io.StringIO(text))
    header = [column.strip().lower() for column in next(rows, [])]
    if header not in (list(_CSV_COLUMNS[:2]), list(_CSV_COLUMNS)):
        raise StockFileError(
            f"{source}: line 1: header must be 'sku,available,threshold' (threshold optional)"
        )
    settings: list[StockSetting] = []
    seen: set[str] = set()
    for row in rows:
        where = f"{source}: line {rows.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise StockFileError(f"{where}: expected {len(header)} columns, found {len(row)}")
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        sku = _sku(cells["sku"], where)
        if sku in seen:
            raise StockFileError(f"{where}: sku {sku!r} is listed twice")
        seen.add(sku)
        threshold = cells.get("threshold") or str(DEFAULT_REORDER_THRESHOLD)
        settings.append(
            StockSetting(
                sku=sku,
                available=_csv_count(cells["available"], "available", where),
                threshold=_csv_count(threshold, "threshold", where),
            )
        )
    return _non_empty(settings, source)


def seed_stock(
    ledger: StockLedger,
    settings: Iterable[StockSetting],
    *,
    seed_id: str | None = None,
    clock: Callable[[], datetime] = utc_now,
    backoff: Backoff = BACKOFF,
) -> list[StockLevel]:
    """Set each item's level and threshold, recorded as ``seed`` movements; return the levels.

    Safe while orders flow (each item's change is pinned to the level it was computed from;
    one that lost a race is computed again, pausing as ``backoff`` says) and safe to re-run
    with the same ``seed_id`` (items already seeded by it are left alone).
    """
    settings = list(settings)
    seed_id = seed_id or f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    for setting in settings:
        seeded = retrying(
            _seed_step(ledger, seed_id, setting, clock),
            conflicts=LevelChangedError,
            backoff=backoff,
        )
        if seeded is None:
            raise StockContentionError(f"sku {setting.sku}: level kept moving while seeding")
    return read_levels(ledger, [s.sku for s in settings])


def _seed_step(
    ledger: StockLedger, seed_id: str, setting: StockSetting, clock: Callable[[], datetime]
) -> Callable[[], ApplyOutcome]:
    # One attempt: read the item's level, record the movement that takes it to the setting.
    def step() -> ApplyOutcome:
        current = ledger.levels([setting.sku])[setting.sku]
        return ledger.record(plan_seed(seed_id, setting, current, clock()))

    return step


def read_levels(ledger: StockLedger, skus: Iterable[str] | None = None) -> list[StockLevel]:
    """Levels of ``skus`` (every item when ``None``), sorted by sku."""
    if skus is None:
        return ledger.all_levels()
    return sorted(ledger.levels(skus).values(), key=lambda level: level.sku)


def audit_stock(ledger: StockLedger) -> list[StockDiscrepancy]:
    """Items whose level differs from the sum of their movements (empty when stock is exact)."""
    totals = total_by_sku(ledger.all_movements())
    levels = {level.sku: level.available for level in ledger.all_levels()}
    return [
        StockDiscrepancy(sku, levels.get(sku, 0), totals.get(sku, 0))
        for sku in sorted(set(totals) | set(levels))
        if levels.get(sku, 0) != totals.get(sku, 0)
    ]


def format_levels(levels: Iterable[StockLevel]) -> str:
    """A plain text table of levels, flagging items below their threshold."""
    rows = [("SKU", "AVAILABLE", "THRESHOLD", "")]
    rows += [
        (lv.sku, str(lv.available), str(lv.threshold), "low" if lv.available < lv.threshold else "")
        for lv in levels
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        f"{sku:<{widths[0]}}  {available:>{widths[1]}}  {threshold:>{widths[2]}}  {flag}".rstrip()
        for sku, available, threshold, flag in rows
    )


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of repeated keys; a stock file listing a sku twice is a mistake.
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKeyError(key)
        document[key] = value
    return document


def _sku(value: Any, where: str) -> str:
    try:
        return _SKU.validate_python(value)
    except ValidationError:
        raise StockFileError(
            f"{where}: sku {value!r} must be 1-64 letters, digits, '-' or '_'"
        ) from None


def _json_count(value: Any, name: str, where: str) -> int:
    # bool is an int in Python; a JSON true is not a stock count.
    if type(value) is not int or value < 0:
        raise StockFileError(f"{where}: {name} must be a whole number >= 0, got {value!r}")
    return value


def _csv_count(value: str, name: str, where: str) -> int:
    if not _WHOLE_NUMBER.match(value):
        raise StockFileError(f"{where}: {name} must be a whole number >= 0, got {value!r}")
    return int(value)


def _non_empty(settings: list[StockSetting], source: str) -> list[StockSetting]:
    if not settings:
        raise StockFileError(f"{source}: no items")
    return settings


__all__ = [
    "StockDiscrepancy",
    "StockFileError",
    "audit_stock",
    "format_levels",
    "load_stock_file",
    "parse_stock_csv",
    "parse_stock_json",
    "read_levels",
    "seed_stock",
    "stock_ledger",
    "table_names",
]
