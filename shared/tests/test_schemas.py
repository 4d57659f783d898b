"""Committed JSON Schemas match the contracts; a breaking change needs a major version bump."""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError, validators

from orderflow.contracts import EVENT_TYPES, SCHEMA_VERSION, ContractError, Money, parse_event
from orderflow.contracts.schema import SCHEMA_DIR, breaking_changes, current_schemas


def committed(event_type: str) -> dict[str, object]:
    path = SCHEMA_DIR / f"{event_type}.v{SCHEMA_VERSION}.json"
    assert path.exists(), f"{path.name} missing: run python -m orderflow.contracts.schema"
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


@pytest.mark.parametrize("event_type", sorted(current_schemas()))
def test_no_breaking_change_within_the_major_version(event_type: str) -> None:
    problems = breaking_changes(committed(event_type), current_schemas()[event_type])

    assert problems == [], f"breaking change without a SCHEMA_VERSION bump: {problems}"


@pytest.mark.parametrize("event_type", sorted(current_schemas()))
def test_committed_schemas_are_current(event_type: str) -> None:
    assert committed(event_type) == current_schemas()[event_type], (
        "schemas are stale: run python -m orderflow.contracts.schema and commit"
    )


def test_breaking_changes_are_detected() -> None:
    old = {
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "string"}},
        "required": ["a"],
    }
    new = {
        "properties": {"a": {"type": "integer"}, "c": {"type": "string"}, "d": {"type": "string"}},
        "required": ["a", "d"],
    }

    problems = breaking_changes(old, new)

    assert [p.split(":")[0] for p in problems] == ["a", "b", "d"]
    assert problems[0].startswith("a: type")
    assert problems[1:] == ["b: removed", "d: newly required"]


def test_adding_an_optional_field_is_not_breaking() -> None:
    old = {"properties": {"a": {"type": "string"}}, "required": ["a"]}
    new = {"properties": {"a": {"type": "string"}, "z": {"type": "string"}}, "required": ["a"]}

    assert breaking_changes(old, new) == []


# --- The published schemas say exactly what the consumers accept --------------------------------
#
# A producer team builds its messages from the committed schemas with an ordinary JSON Schema
# validator; every document that validator accepts must parse in every consumer, and every
# document a consumer parses must validate, or messages park in DLQs (or valid ones get refused).

ENVELOPE = {
    "event_id": "6f1c2a4e-8d0b-4f57-9a43-2f3c1d7e5b90",
    "schema_version": 1,
    "occurred_at": "2026-11-27T10:00:00.250Z",
    "order_id": "ord-1",
    "correlation_id": "corr-ord-1",
    "producer": "order-api",
}
CUSTOMER = {**ENVELOPE, "customer_email": "jane.doe@example.com"}
TEN_EUR = {"amount": "10.00", "currency": "EUR"}
VALID_DOCUMENTS: dict[str, dict[str, Any]] = {
    "order.created": {
        **CUSTOMER,
        "event_type": "order.created",
        "customer_id": "cust-1",
        "items": [
            {"sku": "sku-1", "quantity": 2, "unit_price": "2.50"},
            {"sku": "sku-2", "quantity": 1, "unit_price": "5"},
        ],
        "total": TEN_EUR,
        "payment_token": "tok_visa",
    },
    "order.cancelled": {**CUSTOMER, "event_type": "order.cancelled", "reason": "changed mind"},
    "order.refunded": {**CUSTOMER, "event_type": "order.refunded", "amount": TEN_EUR},
    "order.shipped": {
        **CUSTOMER,
        "event_type": "order.shipped",
        "carrier": "dhl",
        "tracking_number": "T-1",
    },
    "payment.completed": {
        **CUSTOMER,
        "event_type": "payment.completed",
        "payment_id": "pay-1",
        "amount": TEN_EUR,
    },
    "payment.failed": {
        **CUSTOMER,
        "event_type": "payment.failed",
        "amount": TEN_EUR,
        "decline_code": "card_declined",
    },
    "inventory.low_stock": {
        **ENVELOPE,
        "event_type": "inventory.low_stock",
        "sku": "sku-1",
        "available": 3,
        "threshold": 10,
    },
    "inventory.out_of_stock": {
        **CUSTOMER,
        "event_type": "inventory.out_of_stock",
        "shortfalls": [{"sku": "sku-1", "requested": 5, "available": 0}],
    },
}


def _ecma_pattern(
    validator: Any, pattern: str, instance: object, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """``pattern`` as JSON Schema defines it (ECMA-262): ``$`` is the end of the input.

    The library matches with Python's re, whose ``$`` also matches before a final newline, so
    it would let "ord-1\\n" through where ajv, Go and every consumer refuse it.
    """
    if not validator.is_type(instance, "string"):
        return
    ecma = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if re.search(ecma, str(instance)) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


ProducerValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


@functools.cache
def producer_validator(event_type: str) -> Any:
    """What a producer team would run: Draft 2020-12, formats asserted, on the committed file."""
    schema = committed(event_type)
    Draft202012Validator.check_schema(schema)
    return ProducerValidator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_accepts(event_type: str, document: object) -> bool:
    return bool(producer_validator(event_type).is_valid(document))


def consumers_accept(document: object) -> bool:
    try:
        parse_event(json.dumps(document))
    except ContractError:
        return False
    return True


def rules_beyond_the_schema_hold(document: dict[str, Any]) -> bool:
    """The cross-field rules the schema's description states and JSON Schema cannot."""
    if document.get("event_type") != "order.created":
        return True
    items = document["items"]
    total = sum((Decimal(i["unit_price"]) * int(i["quantity"]) for i in items), Decimal(0))
    skus = [i["sku"] for i in items]
    return total == Decimal(document["total"]["amount"]) and len(set(skus)) == len(skus)


def paths(document: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every field and array element of ``document``, nested ones included."""
    found: list[tuple[str | int, ...]] = []
    children: list[tuple[str | int, object]] = []
    if isinstance(document, dict):
        children = list(document.items())
    elif isinstance(document, list):
        children = list(enumerate(document))
    for key, child in children:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


MONEY_LIKE = st.from_regex(r"\A[+-]?[0-9]{0,14}(\.[0-9]{0,4})?([eE][+-]?[0-9])?\Z")
DATE_TIME_LIKE = st.one_of(
    st.datetimes(
        min_value=datetime(1890, 1, 1),
        max_value=datetime(3010, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), None]),
    ).map(lambda d: d.isoformat()),
    st.from_regex(
        r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{0,7})?"
        r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?\Z"
    ),
)
UUID_LIKE = st.uuids().flatmap(
    lambda u: st.sampled_from([str(u), u.hex, str(u).upper(), f"{{{u}}}", f"urn:uuid:{u}"])
)
NAME_LIKE = st.from_regex(r"\A[A-Za-z0-9_\-. @\n]{0,70}\Z")
EMAIL_LIKE = st.one_of(st.emails(), st.from_regex(r"\A[a-z@.\x00 \n\t]{0,12}\Z"))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=2_000_000_000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-3, max_value=20_000).map(float),
    st.text(max_size=80),
)
WIRE_VALUES = st.one_of(
    SCALARS,
    MONEY_LIKE,
    DATE_TIME_LIKE,
    UUID_LIKE,
    NAME_LIKE,
    EMAIL_LIKE,
    st.sampled_from(sorted(EVENT_TYPES)),
    st.lists(SCALARS, max_size=2),
    st.just([]),
    st.just({}),
    st.builds(lambda a: {"amount": a, "currency": "EUR"}, MONEY_LIKE),
)


@st.composite
def mutated_documents(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    """A valid document with one to three fields replaced, removed or added."""
    document = copy.deepcopy(VALID_DOCUMENTS[event_type])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths(document)))
        *parents, last = path
        holder: Any = document
        for key in parents:
            holder = holder[key]
        action = draw(st.sampled_from(["replace", "replace", "replace", "remove", "add"]))
        if action == "replace":
            holder[last] = draw(WIRE_VALUES)
        elif action == "remove":
            del holder[last]
        elif isinstance(holder, dict):
            holder[draw(st.sampled_from(["coupon", "note", "amount"]))] = draw(WIRE_VALUES)
        else:
            holder.append(draw(WIRE_VALUES))
    return document


@pytest.mark.parametrize("event_type", sorted(VALID_DOCUMENTS))
def test_valid_documents_pass_schema_and_consumers_alike(event_type: str) -> None:
    document = VALID_DOCUMENTS[event_type]

    assert schema_accepts(event_type, document)
    assert consumers_accept(document)


@pytest.mark.parametrize("event_type", sorted(VALID_DOCUMENTS))
def test_the_schema_accepts_exactly_what_the_consumers_accept(event_type: str) -> None:
    @settings(max_examples=150, deadline=None, database=None)
    @given(document=mutated_documents(event_type))
    def check(document: dict[str, Any]) -> None:
        by_schema = schema_accepts(event_type, document)
        by_consumers = consumers_accept(document)

        if by_consumers:
            assert by_schema, f"consumers accept what the schema refuses: {document}"
        if by_schema:
            assert by_consumers == rules_beyond_the_schema_hold(document), (
                f"the schema accepts what consumers refuse: {document}"
            )

    check()


MONEY_EVENTS = [
    ("order.created", ("total", "amount")),
    ("order.created", ("items", 0, "unit_price")),
    ("order.refunded", ("amount", "amount")),
    ("payment.completed", ("amount", "amount")),
    ("payment.failed", ("amount", "amount")),
]


def with_value(event_type: str, path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    document = copy.deepcopy(VALID_DOCUMENTS[event_type])
    holder: Any = document
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return document


@pytest.mark.parametrize(("event_type", "path"), MONEY_EVENTS)
@pytest.mark.parametrize(
    "amount", [5.5, 10.0, 10, "-5.00", "-0", "+10.00", "5.005", "10.000", "1e1", " 10", "010.00"]
)
def test_money_the_consumers_refuse_the_schema_refuses(
    event_type: str, path: tuple[str | int, ...], amount: object
) -> None:
    document = with_value(event_type, path, amount)

    assert not consumers_accept(document)
    assert not schema_accepts(event_type, document), f"the schema lets {amount!r} through"


@pytest.mark.parametrize(
    ("event_type", "path", "value"),
    [
        ("order.created", ("items",), []),
        ("inventory.out_of_stock", ("shortfalls",), []),
        ("order.created", ("order_id",), "ord-1\n"),
        ("order.created", ("order_id",), ""),
        ("order.created", ("customer_email",), "jane@example.com\n"),
        ("order.created", ("event_id",), "6f1c2a4e8d0b4f579a432f3c1d7e5b90"),
        ("order.created", ("occurred_at",), "2026-11-27T10:00:00"),
        ("order.created", ("occurred_at",), "2026-02-29T10:00:00Z"),
        ("order.created", ("occurred_at",), 1764237600),
        ("order.created", ("items", 0, "quantity"), "2"),
        ("order.created", ("schema_version",), True),
        ("order.created", ("total", "currency"), "eur"),
        ("order.created", ("coupon",), "FREE"),
    ],
)
def test_known_bad_documents_are_refused_by_both(
    event_type: str, path: tuple[str | int, ...], value: object
) -> None:
    document = with_value(event_type, path, value)

    assert not consumers_accept(document)
    assert not schema_accepts(event_type, document)


@pytest.mark.parametrize("event_type", sorted(VALID_DOCUMENTS))
def test_a_document_without_its_event_type_is_refused_by_both(event_type: str) -> None:
    document = copy.deepcopy(VALID_DOCUMENTS[event_type])
    del document["event_type"]

    assert not consumers_accept(document)
    assert not schema_accepts(event_type, document)


JSON_SCHEMA_KEYWORDS = {
    "$defs", "$ref", "$schema", "additionalProperties", "const", "default", "description",
    "exclusiveMaximum", "exclusiveMinimum", "format", "items", "maxItems", "maxLength",
    "maximum", "minItems", "minLength", "minimum", "pattern", "properties", "required",
    "title", "type",
}  # fmt: skip


def schema_keywords(schema: object, under_properties: bool = False) -> set[str]:
    """Keywords used anywhere in ``schema`` (property and definition names are not keywords)."""
    if isinstance(schema, list):
        return set().union(*(schema_keywords(s) for s in schema))
    if not isinstance(schema, dict):
        return set()
    found = set() if under_properties else set(schema)
    for key, value in schema.items():
        found |= schema_keywords(value, under_properties=key in {"properties", "$defs"})
    return found


@pytest.mark.parametrize("event_type", sorted(current_schemas()))
def test_schemas_use_only_keywords_a_json_schema_validator_enforces(event_type: str) -> None:
    unknown = schema_keywords(committed(event_type)) - JSON_SCHEMA_KEYWORDS

    assert unknown == set(), f"keywords no validator enforces (pydantic's own?): {unknown}"


@pytest.mark.parametrize("event_type", sorted(VALID_DOCUMENTS))
def test_what_our_producers_serialise_validates(event_type: str) -> None:
    event = parse_event(json.dumps(VALID_DOCUMENTS[event_type]))

    assert schema_accepts(event_type, json.loads(event.model_dump_json()))


def test_money_built_in_python_serialises_in_the_published_form() -> None:
    money = Money(amount=Decimal("10.500"), currency="EUR")
    hundred = Money(amount=Decimal("1E+2"), currency="EUR")

    assert json.loads(money.model_dump_json())["amount"] == "10.5"
    assert json.loads(hundred.model_dump_json())["amount"] == "100"
    with pytest.raises(ValueError, match="decimal string"):
        Money(amount=Decimal("-0"), currency="EUR")
