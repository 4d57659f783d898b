"""Contracts parse what AWS delivers and reject every malformed shape with a typed error."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest

from orderflow.contracts import (
    ContractError,
    ContractViolationError,
    MalformedMessageError,
    OrderCreated,
    UnknownEventTypeError,
    derived_event_id,
    parse_body,
    parse_sqs_record,
)
from orderflow.testing import make_order, sqs_record


def order_document(**overrides: object) -> dict[str, object]:
    document = json.loads(make_order("ord-1").model_dump_json())
    document.update(overrides)
    return document


def test_sns_wrapped_and_raw_bodies_parse_to_the_same_contract() -> None:
    order = make_order(items=[("sku-1", 2, "9.99"), ("sku-2", 1, "0.02")])

    wrapped = parse_sqs_record(sqs_record(order))
    raw = parse_sqs_record(sqs_record(order, raw=True))

    assert wrapped == order
    assert raw == order
    assert isinstance(wrapped, OrderCreated)
    assert wrapped.total.amount == Decimal("20.00")


def test_money_serialises_as_a_string_and_round_trips_exactly() -> None:
    order = make_order(items=[("sku-1", 3, "0.10")])

    document = json.loads(order.model_dump_json())

    assert document["total"] == {"amount": "0.30", "currency": "EUR"}
    assert parse_body(json.dumps(document)).total.amount == Decimal("0.30")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "error", "says"),
    [
        ("not json {", MalformedMessageError, "not JSON"),
        ("[1, 2]", MalformedMessageError, "not an object"),
        (json.dumps({"hello": "world"}), MalformedMessageError, "neither an SNS notification"),
        (json.dumps({"Type": "Notification"}), MalformedMessageError, "no string Message"),
        (
            json.dumps(order_document(event_type="order.teleported")),
            UnknownEventTypeError,
            "teleported",
        ),
    ],
)
def test_malformed_bodies_raise_their_typed_error(
    body: str, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        parse_body(body)


def test_missing_field_is_a_contract_violation_naming_the_field() -> None:
    document = order_document()
    del document["customer_email"]

    with pytest.raises(ContractViolationError, match="customer_email"):
        parse_body(json.dumps(document))


def test_negative_quantity_is_a_contract_violation() -> None:
    document = order_document(items=[{"sku": "sku-1", "quantity": -1, "unit_price": "10.00"}])

    with pytest.raises(ContractViolationError, match="quantity"):
        parse_body(json.dumps(document))


def test_float_money_is_rejected() -> None:
    document = order_document(total={"amount": 10.0, "currency": "EUR"})

    with pytest.raises(ContractViolationError, match="not a JSON float"):
        parse_body(json.dumps(document))


def test_total_must_equal_the_items() -> None:
    document = order_document(total={"amount": "11.00", "currency": "EUR"})

    with pytest.raises(ContractViolationError, match="does not equal"):
        parse_body(json.dumps(document))


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ContractViolationError, match="coupon"):
        parse_body(json.dumps(order_document(coupon="FREE")))


def test_naive_timestamps_are_rejected_and_aware_ones_become_utc() -> None:
    with pytest.raises(ContractViolationError, match="occurred_at"):
        parse_body(json.dumps(order_document(occurred_at="2026-11-27T10:00:00")))

    parsed = parse_body(json.dumps(order_document(occurred_at="2026-11-27T11:00:00+01:00")))

    assert parsed.occurred_at.isoformat() == "2026-11-27T10:00:00+00:00"


def test_contracts_are_frozen() -> None:
    order = make_order()

    with pytest.raises(ValueError, match="frozen"):
        order.order_id = "other"  # type: ignore[misc]


def test_derived_event_ids_are_deterministic_and_distinct_per_type() -> None:
    first = derived_event_id("ord-1", "payment.completed")

    assert first == derived_event_id("ord-1", "payment.completed")
    assert first != derived_event_id("ord-1", "payment.failed")
    assert first != derived_event_id("ord-2", "payment.completed")
    assert isinstance(first, uuid.UUID)


def test_a_float_price_is_the_only_problem_reported() -> None:
    # GIVEN a one-item order whose unit price is a JSON float
    document = order_document()
    document["items"][0]["unit_price"] = 10.0  # type: ignore[index]

    # WHEN it is parsed
    with pytest.raises(ContractViolationError) as raised:
        parse_body(json.dumps(document))

    # THEN the error names the float price, and not an "empty" items list that was not empty
    assert str(raised.value) == (
        "order.created: items.0.unit_price: Value error, money must be a decimal string such as"
        " '12.50' (no sign, up to 12 digits before the point, 2 after), not a JSON float"
    )


def test_an_empty_items_list_is_still_reported() -> None:
    with pytest.raises(ContractViolationError, match="items: Tuple should have at least 1 item"):
        parse_body(json.dumps(order_document(items=[])))


@pytest.mark.parametrize("event_type", [[], {"a": 1}, 5, None])
def test_an_event_type_that_is_no_known_name_is_an_unknown_event_type(event_type: object) -> None:
    with pytest.raises(UnknownEventTypeError):
        parse_body(json.dumps(order_document(event_type=event_type)))


@pytest.mark.parametrize(
    ("body", "order_id"),
    [
        (json.dumps(order_document(total={"amount": 10.0, "currency": "EUR"})), "ord-1"),
        (
            json.dumps({"Type": "Notification", "Message": json.dumps(order_document(items=[]))}),
            "ord-1",
        ),
        (json.dumps(order_document(event_type="order.teleported")), "ord-1"),
        (json.dumps(order_document(order_id="jane@example.com", items=[])), ""),
        (json.dumps(order_document(order_id=["ord-1"], items=[])), ""),
        ("not json {", ""),
    ],
)
def test_a_rejected_message_names_the_order_it_claims_when_that_id_is_well_formed(
    body: str, order_id: str
) -> None:
    with pytest.raises(ContractError) as raised:
        parse_body(body)

    assert raised.value.claimed_order_id == order_id


# --- A function builds only the contracts it uses ---------------------------------------------
#
# Building a contract's validator is most of what importing the contracts costs; a Lambda pays it
# in every cold start. Each runs in a fresh interpreter, since this one has built them all.


def contracts_built_after(work: str = "", *, body: str = "") -> list[str]:
    """The event types whose contracts a fresh interpreter has built after running ``work``."""
    code = f"""
import json, sys
from orderflow.contracts import *
{work}
print(json.dumps(sorted(m.TYPE for m in EVENT_MODELS if m.__pydantic_complete__)))
"""
    done = subprocess.run(
        [sys.executable, "-c", code, body], capture_output=True, text=True, check=True
    )
    built: list[str] = json.loads(done.stdout)
    return built


def test_importing_the_contracts_builds_none_of_them() -> None:
    assert contracts_built_after() == []


def test_a_function_builds_only_the_contracts_it_receives_and_publishes() -> None:
    # GIVEN an order.created as payment receives it
    body = json.dumps(order_document())

    # WHEN a fresh function parses it and publishes a payment.completed
    built = contracts_built_after(
        """
order = parse_body(sys.argv[1])
PaymentCompleted(
    event_id=derived_event_id(order.order_id, "payment.completed"),
    occurred_at=utc_now(),
    order_id=order.order_id,
    correlation_id=order.correlation_id,
    producer="payment",
    customer_email=order.customer_email,
    payment_id="pay-1",
    amount=order.total,
).model_dump_json()
""",
        body=body,
    )

    # THEN those two contracts are built, and none of the six it never saw
    assert built == ["order.created", "payment.completed"]


def test_a_value_object_read_from_an_event_serialises_on_its_own() -> None:
    # GIVEN a fresh function that has only parsed an order.created
    body = json.dumps(order_document())

    # WHEN its money and items are serialised by inference, as an Any field would be
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pydantic_core\n"
            "from orderflow.contracts import parse_body\n"
            "order = parse_body(sys.argv[1])\n"
            "print(pydantic_core.to_json([order.total, order.items]).decode())",
            body,
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    # THEN they serialise in their published form
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]
    assert json.loads(done.stdout) == [
        {"amount": "10.00", "currency": "EUR"},
        [{"sku": "sku-1", "quantity": 1, "unit_price": "10.00"}],
    ]
