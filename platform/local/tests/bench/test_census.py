"""What the request census bills a call on: SNS payload bytes, SES recipients, the environment."""

from __future__ import annotations

import pytest

from orderflow.bench.census import (
    ServiceCensus,
    email_recipients,
    function_environment,
    sns_payload_bytes,
)
from orderflow.bench.cost import RequestUnits
from orderflow.bench.stats import BenchError


def test_an_sns_message_is_billed_on_its_body_and_attributes():
    request = {
        "Message": "é" * 10,  # 20 bytes in UTF-8
        "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": "order.created"}},
    }
    assert sns_payload_bytes(request) == 20 + len("event_type") + len("String") + 13


def test_every_recipient_of_an_email_is_one_email():
    request = {"Destination": {"ToAddresses": ["a@x.io"], "BccAddresses": ["b@x.io", "c@x.io"]}}
    assert email_recipients(request) == 3
    assert email_recipients({}) == 0


def test_the_environment_resolves_refs_to_parameters_and_tables():
    # GIVEN a template's function variables and the names the census created
    variables = {
        "STAGE": {"Ref": "Stage"},
        "PAYMENTS_TABLE": {"Ref": "PaymentsTable"},
        "POWERTOOLS_SERVICE_NAME": "payment",
    }
    names = {"Stage": "bench", "PaymentsTable": "orderflow-bench-payment-payments"}

    # THEN every reference is a plain string
    assert function_environment(variables, names) == {
        "STAGE": "bench",
        "PAYMENTS_TABLE": "orderflow-bench-payment-payments",
        "POWERTOOLS_SERVICE_NAME": "payment",
    }


def test_an_unresolvable_reference_names_itself():
    with pytest.raises(BenchError, match="Nowhere"):
        function_environment({"X": {"Ref": "Nowhere"}}, {})


def test_a_census_survives_its_trip_through_json():
    census = ServiceCensus(
        service="payment",
        orders=10,
        records=11,
        invocations=2,
        calls={"dynamodb.PutItem": 11},
        dynamodb=RequestUnits(write=22.0, read=1.0),
        sns_publishes=10,
        emails=0,
    )
    assert ServiceCensus.from_json(census.as_json()) == census
