"""python -m orderflow.analytics.rebuild against the tables of a stage (moto)."""

from __future__ import annotations

import json

import pytest

from orderflow.analytics.rebuild import main

pytestmark = pytest.mark.functional


@pytest.fixture
def recorded(dynamo_store, story_of, recorder_over):
    recorder = recorder_over(dynamo_store)
    for name in ("shipped_then_refunded", "declined", "out_of_stock_refunded"):
        for event in story_of(name, order_id=f"ord-{name.replace('_', '-')}"):
            recorder.handle(event)
    return dynamo_store


def test_equal_projections_exit_zero(recorded, capsys):
    # WHEN the rebuild runs over the test stage
    status = main(["--stage", "test"])

    # THEN it replayed every event and found the live projections equal
    assert status == 0
    assert capsys.readouterr().out.strip() == (
        "replayed 10 events into 3 orders and 1 hour: projections equal the live tables"
    )


def test_a_drifted_projection_exits_one_and_names_the_difference(
    recorded, dynamodb, tables, capsys
):
    # GIVEN an hourly counter changed behind the service's back
    (hour,) = [h.hour for h in recorded.hours()]
    dynamodb.update_item(
        TableName=tables.hourly_metrics,
        Key={"hour": {"S": hour}},
        UpdateExpression="ADD refunds :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )

    # WHEN the rebuild runs, asked for JSON
    status = main(["--stage", "test", "--json"])

    # THEN it exits 1 with the difference
    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert report["equal"] is False
    assert report["differences"] == [f"hour {hour}: refunds is 3 live, 2 rebuilt"]


def test_missing_tables_are_a_one_line_error(dynamodb, capsys):
    # WHEN the stage has no analytics tables
    status = main(["--stage", "nowhere"])

    # THEN one line says what could not be read, and the exit status is 2
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith("rebuild: cannot read the nowhere analytics tables:")
    assert "\n" not in err


def test_a_bad_stage_name_is_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--stage", "Not A Stage"])
    assert exit_info.value.code == 2
    assert "not a stage name: 'Not A Stage'" in capsys.readouterr().err
