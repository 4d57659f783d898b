"""Request units and dollars per million orders, checked against hand-computed bills."""

from __future__ import annotations

import pytest

from orderflow.bench import cost
from orderflow.bench.cost import (
    RequestUnits,
    ServiceUsage,
    attribute_size,
    billed_seconds,
    dynamodb_units,
    item_size,
    lambda_seconds,
    number_size,
    read_units,
    write_units,
)


def s(text: str) -> dict[str, str]:
    return {"S": text}


def test_item_size_counts_names_and_values_by_dynamodbs_rules():
    # GIVEN an item with a string, a number, a boolean and a map
    item = {
        "order_id": s("ord-1"),  # 8 + 5
        "total": {"N": "123.45"},  # 5 + (5 digits + 1) // 2 + 1 = 5 + 4
        "paid": {"BOOL": True},  # 4 + 1
        "lines": {"M": {"sku": s("tee")}},  # 5 + 3 + (1 + 3 + 3)
    }
    # THEN its size is the sum of every name and value
    assert item_size(item) == 13 + 9 + 5 + 15


def test_numbers_take_a_byte_per_two_significant_digits_plus_one():
    assert number_size("7") == 2
    assert number_size("1000") == 2  # one significant digit
    assert number_size("0.0012345") == 4
    assert attribute_size({"L": [s("ab"), {"NULL": True}]}) == 3 + (1 + 2) + (1 + 1)


def test_write_and_read_units_round_up_to_their_unit_sizes():
    assert write_units(1) == 1
    assert write_units(1024) == 1
    assert write_units(1025) == 2
    assert write_units(100, transactional=True) == 2
    assert read_units(4096, consistent=True) == 1
    assert read_units(4097, consistent=True) == 2
    assert read_units(100, consistent=False) == 0.5
    assert read_units(100, consistent=True, transactional=True) == 2


def test_a_transaction_costs_two_units_per_item():
    # GIVEN a ledger entry put and a level update in one transaction
    params = {
        "TransactItems": [
            {"Put": {"TableName": "t", "Item": {"pk": s("a" * 1500)}}},
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"pk": s("b")},
                    "UpdateExpression": "ADD n :d",
                    "ExpressionAttributeValues": {":d": {"N": "-1"}},
                }
            },
        ]
    }
    # THEN the 1.5 KB put costs 2 x 2 WRU and the small update 2 WRU
    assert dynamodb_units("TransactWriteItems", params, {}) == RequestUnits(write=6.0)


def test_reads_are_billed_on_what_comes_back():
    item = {"pk": s("x" * 5000)}
    consistent_get = dynamodb_units("GetItem", {"ConsistentRead": True}, {"Item": item})
    eventual_miss = dynamodb_units("GetItem", {}, {})
    query = dynamodb_units(
        "Query", {"ConsistentRead": True}, {"Items": [{"pk": s("y" * 3000)}] * 2}
    )
    assert consistent_get == RequestUnits(read=2.0)
    assert eventual_miss == RequestUnits(read=0.5)
    # 6 KB returned in total: rounded once, not per item
    assert query == RequestUnits(read=2.0)


def test_a_batch_get_pays_the_minimum_for_keys_it_does_not_find():
    params = {"RequestItems": {"stock": {"Keys": [{}, {}, {}], "ConsistentRead": True}}}
    response = {"Responses": {"stock": [{"sku": s("tee")}]}}
    assert dynamodb_units("BatchGetItem", params, response) == RequestUnits(read=3.0)


def test_table_management_is_not_billed_per_request():
    assert dynamodb_units("DescribeTable", {}, {}) == RequestUnits()


def test_lambda_bills_whole_milliseconds_of_cpu_stretched_by_the_memory_share():
    assert billed_seconds(0.0001) == pytest.approx(0.001)
    assert billed_seconds(0.002) == pytest.approx(0.002)
    assert billed_seconds(0.0021) == pytest.approx(0.003)
    # half a vCPU doubles the time; above a vCPU nothing gets faster for one thread
    assert lambda_seconds(0.010, cost.LAMBDA_MB_PER_VCPU // 2) == pytest.approx(0.0200, rel=1e-3)
    assert lambda_seconds(0.010, 3008) == pytest.approx(0.010)


def test_a_service_bill_adds_up_from_its_requests():
    # GIVEN 100 orders whose 200 records ran in batches of 10 on a 1769 MB x86 function,
    # 1 ms of compute per record, with 400 WRU, 100 RRU, 100 publishes and 50 emails
    usage = ServiceUsage(
        service="s",
        orders=100,
        records=200,
        batch_size=10,
        memory_mb=1769,
        architecture="x86_64",
        seconds_per_record=0.001,
        dynamodb=RequestUnits(write=400, read=100),
        sns_publishes=100,
        emails=50,
    )
    # WHEN priced per million orders
    bill = cost.service_cost(usage)

    # THEN each line is the per-order count times a million times the list price
    invocations = 200_000  # 0.2 per order
    gb_seconds = invocations * 0.010 * 1769 / 1024
    assert bill.lambda_ == pytest.approx(invocations * 0.20 / 1e6 + gb_seconds * 0.0000166667)
    # a send per record, a receive and a delete per batch
    assert bill.sqs == pytest.approx((2_000_000 + 2 * invocations) * 0.40 / 1e6)
    assert bill.sns == pytest.approx(1_000_000 * 0.50 / 1e6)
    assert bill.dynamodb == pytest.approx(4_000_000 * 0.625 / 1e6 + 1_000_000 * 0.125 / 1e6)
    assert bill.ses == pytest.approx(500_000 * 0.0001)
    assert bill.total == pytest.approx(
        bill.lambda_ + bill.sqs + bill.sns + bill.dynamodb + bill.ses
    )


def test_deliveries_to_sqs_cost_nothing_but_publishes_do():
    bill = cost.publisher_cost(orders=10, publishes=20, deliveries=80)
    assert bill.sns == pytest.approx(2_000_000 * 0.50 / 1e6)
    assert bill.total == bill.sns


def test_waiting_on_aws_is_billed_per_gb_second_of_every_batch():
    usage = ServiceUsage("s", 100, 1000, 10, 1024, "arm64", 0.0, RequestUnits(), 0, 0)
    # 1 M invocations per million orders, 10 ms each at 1 GB
    assert cost.lambda_wait_cost([usage], 0.010) == pytest.approx(1e6 * 0.010 * 0.0000133334)


def test_an_unknown_architecture_has_no_price():
    with pytest.raises(cost.BenchError, match="architecture"):
        cost.gb_second_price("sparc")
