"""Metric alarm evaluation as the CloudWatch user guide describes it.

Metric math as "Using metric math" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/
monitoring/using-metric-math.html) defines it: arithmetic treats a missing value as 0; DIFF is
"the difference between each value in the time series and the preceding value"; FILL "fills the
missing values of a time series" with a number, REPEAT or LINEAR.

The missing-data cases are the user guide's own table ("How alarm state is evaluated when data
is missing", EvaluationPeriods 3, DatapointsToAlarm 3), written oldest first: 0 is a datapoint
within the threshold, X one breaching it, - a missing one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderflow.emulator import alarm_evaluation, clock, eventbridge_targets
from orderflow.emulator.alarm_evaluation import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmEvaluationError,
    decide_state,
    evaluate_alarms,
    evaluate_expression,
)

from .conftest import ACCOUNT, REGION

NOW = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)


def series(pattern: str) -> dict[int, float]:
    """'0 - X - X' (oldest first) -> {period index (0 = latest): value}."""
    cells = pattern.split()
    return {
        age: (5.0 if cell == "X" else 0.0)
        for age, cell in enumerate(reversed(cells))
        if cell != "-"
    }


@pytest.mark.parametrize(
    ("pattern", "missing", "ignore", "breaching", "not_breaching"),
    [
        ("0 - X - X", OK, OK, OK, OK),
        ("- - - - -", INSUFFICIENT_DATA, "KEEP", ALARM, OK),
        ("0 X X - X", ALARM, ALARM, ALARM, ALARM),
        ("- - X - -", ALARM, "KEEP", ALARM, OK),
        ("0 - - - -", OK, OK, OK, OK),
    ],
)
def test_the_user_guide_missing_data_table(
    pattern: str, missing: str, ignore: str, breaching: str, not_breaching: str
) -> None:
    for treatment, expected in (
        ("missing", missing),
        ("ignore", ignore),
        ("breaching", breaching),
        ("notBreaching", not_breaching),
    ):
        state, _ = decide_state(
            series(pattern),
            evaluation_periods=3,
            datapoints_to_alarm=3,
            breaches=lambda value: value > 1,
            treat_missing_data=treatment,
            current_state="CURRENT",
        )
        assert state == ("CURRENT" if expected == "KEEP" else expected), treatment


def test_m_out_of_n_alarms_on_m_breaching_datapoints() -> None:
    state, used = decide_state(
        {0: 5.0, 1: 0.0, 2: 5.0},
        evaluation_periods=3,
        datapoints_to_alarm=2,
        breaches=lambda value: value > 1,
        treat_missing_data=None,
        current_state=OK,
    )
    assert (state, used) == (ALARM, [5.0, 0.0, 5.0])


def test_diff_is_the_change_from_the_previous_period() -> None:
    visible = {0: 12.0, 1: 12.0, 2: 3.0, 3: 0.0}
    assert evaluate_expression("DIFF(visible)", {"visible": visible}, 60) == {
        0: 0.0,
        1: 9.0,
        2: 3.0,
    }


def test_rate_divides_the_change_by_the_period_and_arithmetic_combines_series() -> None:
    # RATE(a) has no value for the oldest period: arithmetic takes the missing value as 0
    a, b = {0: 120.0, 1: 60.0}, {0: 1.0, 1: 1.0}
    assert evaluate_expression("RATE(a) * 60 + b", {"a": a, "b": b}, 60) == {0: 61.0, 1: 1.0}


def test_diff_takes_the_preceding_value_of_the_series_across_a_gap() -> None:
    # GIVEN a series with no datapoint one period ago
    visible = {0: 5.0, 2: 3.0, 3: 3.0}
    # THEN DIFF compares with the value before the gap, and RATE spreads it over the gap
    assert evaluate_expression("DIFF(visible)", {"visible": visible}, 60) == {0: 2.0, 2: 0.0}
    assert evaluate_expression("RATE(visible)", {"visible": visible}, 60) == {
        0: 2.0 / 120,
        2: 0.0,
    }


def test_fill_with_a_number_fills_every_period_of_the_range() -> None:
    # GIVEN one datapoint, the latest, in a range of four periods
    only_latest = {"m": {0: 1.0}}
    # THEN FILL gives the range's earlier periods the value, so DIFF has a predecessor
    assert evaluate_expression("FILL(m, 0)", only_latest, 60, span=4) == {
        0: 1.0,
        1: 0.0,
        2: 0.0,
        3: 0.0,
    }
    assert evaluate_expression("DIFF(FILL(m, 0))", only_latest, 60, span=4) == {
        0: 1.0,
        1: 0.0,
        2: 0.0,
    }
    # AND a series with no datapoint at all is filled too
    assert evaluate_expression("FILL(m, 7)", {"m": {}}, 60, span=2) == {0: 7.0, 1: 7.0}


def test_fill_repeat_and_linear_fill_gaps_from_the_real_values_around_them() -> None:
    m = {"m": {1: 4.0, 3: 2.0}}
    # REPEAT: the most recent real value before each missing one; nothing before the first
    assert evaluate_expression("FILL(m, REPEAT)", m, 60, span=5) == {
        3: 2.0,
        2: 2.0,
        1: 4.0,
        0: 4.0,
    }
    # LINEAR: only between two real values
    assert evaluate_expression("FILL(m, LINEAR)", m, 60, span=5) == {3: 2.0, 2: 3.0, 1: 4.0}


def test_an_unsupported_function_is_named() -> None:
    with pytest.raises(AlarmEvaluationError, match="ANOMALY_DETECTION_BAND"):
        evaluate_expression("ANOMALY_DETECTION_BAND(m)", {"m": {0: 1.0}}, 60)


# --- against moto: state changes, actions and events -------------------------------------------


@pytest.fixture
def paging(aws: Callable[[str], Any], installed: Callable[..., None]) -> dict[str, str]:
    """A paging topic with an inbox queue, and a rule sending alarm events to another queue."""
    installed(clock, alarm_evaluation, eventbridge_targets)
    sqs, sns, events = aws("sqs"), aws("sns"), aws("events")
    pager = sqs.create_queue(QueueName="pager")["QueueUrl"]
    event_inbox = sqs.create_queue(QueueName="alarm-events")["QueueUrl"]
    topic = sns.create_topic(Name="paging")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:pager")
    events.put_rule(
        Name="alarm-changes",
        EventPattern=json.dumps(
            {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}
        ),
    )
    events.put_targets(
        Rule="alarm-changes",
        Targets=[{"Id": "inbox", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:alarm-events"}],
    )
    return {"topic": topic, "pager": pager, "events": event_inbox}


def put_depth(cloudwatch: Any, queue: str, value: float, at: datetime) -> None:
    cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": queue}],
                "Value": value,
                "Timestamp": at,
            }
        ],
    )


def depth_alarm(cloudwatch: Any, topic: str, **extra: Any) -> None:
    settings: dict[str, Any] = {"Threshold": 0, "ActionsEnabled": True, **extra}
    cloudwatch.put_metric_alarm(
        AlarmName="payment-dlq-depth",
        AlarmDescription="Runbook: orderflow dlq inspect payment",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "payment-dlq"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic],
        OKActions=[topic],
        **settings,
    )


def drained(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def state_of(cloudwatch: Any, name: str) -> str:
    return str(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])


def test_a_new_alarm_starts_in_insufficient_data_and_an_update_keeps_its_state(
    aws: Callable[[str], Any], paging: dict[str, str]
) -> None:
    cloudwatch = aws("cloudwatch")
    depth_alarm(cloudwatch, paging["topic"])
    assert state_of(cloudwatch, "payment-dlq-depth") == INSUFFICIENT_DATA
    put_depth(cloudwatch, "payment-dlq", 4, NOW - timedelta(seconds=10))
    evaluate_alarms(NOW)
    depth_alarm(cloudwatch, paging["topic"], Threshold=10)
    assert state_of(cloudwatch, "payment-dlq-depth") == ALARM


def test_breaching_pages_with_the_notification_and_puts_the_state_change_event(
    aws: Callable[[str], Any], paging: dict[str, str]
) -> None:
    # GIVEN a DLQ depth alarm and a DLQ holding four messages in the last minute
    cloudwatch, sqs = aws("cloudwatch"), aws("sqs")
    depth_alarm(cloudwatch, paging["topic"])
    put_depth(cloudwatch, "payment-dlq", 4, NOW - timedelta(seconds=10))
    # WHEN CloudWatch evaluates
    changes = evaluate_alarms(NOW)
    # THEN the alarm is in ALARM, the page carries CloudWatch's notification
    assert [(c.alarm_name, c.new_state) for c in changes] == [("payment-dlq-depth", ALARM)]
    [page] = drained(sqs, paging["pager"])
    assert page["Subject"] == 'ALARM: "payment-dlq-depth" in US East (N. Virginia)'
    notification = json.loads(page["Message"])
    assert notification["NewStateValue"] == ALARM
    assert notification["OldStateValue"] == INSUFFICIENT_DATA
    assert notification["AlarmDescription"] == "Runbook: orderflow dlq inspect payment"
    assert notification["Trigger"]["Dimensions"] == [{"value": "payment-dlq", "name": "QueueName"}]
    # AND EventBridge got the "CloudWatch Alarm State Change" event
    [event] = drained(sqs, paging["events"])
    assert event["source"] == "aws.cloudwatch"
    assert event["detail"]["alarmName"] == "payment-dlq-depth"
    assert event["detail"]["state"]["value"] == ALARM
    assert event["detail"]["previousState"]["value"] == INSUFFICIENT_DATA


def test_back_within_the_threshold_sends_the_ok_action(
    aws: Callable[[str], Any], paging: dict[str, str]
) -> None:
    cloudwatch, sqs = aws("cloudwatch"), aws("sqs")
    depth_alarm(cloudwatch, paging["topic"])
    put_depth(cloudwatch, "payment-dlq", 4, NOW - timedelta(seconds=10))
    evaluate_alarms(NOW)
    drained(sqs, paging["pager"])
    put_depth(cloudwatch, "payment-dlq", 0, NOW + timedelta(seconds=50))
    evaluate_alarms(NOW + timedelta(seconds=60))
    assert state_of(cloudwatch, "payment-dlq-depth") == OK
    [page] = drained(sqs, paging["pager"])
    assert json.loads(page["Message"])["NewStateValue"] == OK


def test_no_change_no_page(aws: Callable[[str], Any], paging: dict[str, str]) -> None:
    cloudwatch, sqs = aws("cloudwatch"), aws("sqs")
    depth_alarm(cloudwatch, paging["topic"])
    put_depth(cloudwatch, "payment-dlq", 4, NOW - timedelta(seconds=10))
    evaluate_alarms(NOW)
    drained(sqs, paging["pager"])
    put_depth(cloudwatch, "payment-dlq", 5, NOW + timedelta(seconds=50))
    assert evaluate_alarms(NOW + timedelta(seconds=60)) == []
    assert drained(sqs, paging["pager"]) == []


def test_disabled_actions_page_nobody_but_the_event_is_still_put(
    aws: Callable[[str], Any], paging: dict[str, str]
) -> None:
    cloudwatch, sqs = aws("cloudwatch"), aws("sqs")
    depth_alarm(cloudwatch, paging["topic"], ActionsEnabled=False)
    put_depth(cloudwatch, "payment-dlq", 4, NOW - timedelta(seconds=10))
    evaluate_alarms(NOW)
    assert drained(sqs, paging["pager"]) == []
    assert [e["detail"]["state"]["value"] for e in drained(sqs, paging["events"])] == [ALARM]


def test_a_dlq_growth_alarm_fires_on_growth_and_clears_after_the_window(
    aws: Callable[[str], Any], paging: dict[str, str]
) -> None:
    # GIVEN the growth alarm: DIFF of the DLQ's visible count over 3 one-minute periods
    cloudwatch = aws("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="payment-dlq-growth",
        Metrics=[
            {
                "Id": "visible",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateNumberOfMessagesVisible",
                        "Dimensions": [{"Name": "QueueName", "Value": "payment-dlq"}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
                "ReturnData": False,
            },
            {"Id": "growth", "Expression": "DIFF(visible)", "ReturnData": True},
        ],
        EvaluationPeriods=3,
        DatapointsToAlarm=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[paging["topic"]],
        OKActions=[paging["topic"]],
    )
    depths = [0, 0, 12, 12, 0, 0, 0, 0]
    states = []
    for minute, depth in enumerate(depths):
        at = NOW + timedelta(minutes=minute)
        put_depth(cloudwatch, "payment-dlq", depth, at - timedelta(seconds=20))
        evaluate_alarms(at)
        states.append(state_of(cloudwatch, "payment-dlq-growth"))
    # THEN: no growth yet, growth pages, stays while growth is in the window, clears after
    assert states == [OK, OK, ALARM, ALARM, ALARM, OK, OK, OK]


def growth_alarm(cloudwatch: Any, topic: str, metrics: list[dict[str, Any]]) -> None:
    visible = {
        "Id": "visible",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": "payment-dlq"}],
            },
            "Period": 60,
            "Stat": "Maximum",
        },
        "ReturnData": False,
    }
    cloudwatch.put_metric_alarm(
        AlarmName="payment-dlq-growth",
        Metrics=[visible, *metrics],
        EvaluationPeriods=5,
        DatapointsToAlarm=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic],
        OKActions=[topic],
    )


def test_a_filled_growth_alarm_fires_on_the_first_datapoint_after_a_gap(
    aws: Callable[[str], Any], paging: dict[str, str]
) -> None:
    # GIVEN a growth alarm over the DLQ depth with missing periods filled with 0, through an
    # intermediate expression
    cloudwatch = aws("cloudwatch")
    growth_alarm(
        cloudwatch,
        paging["topic"],
        [
            {"Id": "depth", "Expression": "FILL(visible, 0)", "ReturnData": False},
            {"Id": "growth", "Expression": "DIFF(depth)", "ReturnData": True},
        ],
    )
    # WHEN the DLQ's only datapoint in the range is its first message (nothing before it)
    put_depth(cloudwatch, "payment-dlq", 1, NOW - timedelta(seconds=20))
    evaluate_alarms(NOW)
    # THEN the filled predecessor makes it growth
    assert state_of(cloudwatch, "payment-dlq-growth") == ALARM


def test_an_unfilled_growth_alarm_sees_no_growth_in_a_first_datapoint(
    aws: Callable[[str], Any], paging: dict[str, str]
) -> None:
    # GIVEN DIFF without FILL
    cloudwatch = aws("cloudwatch")
    growth_alarm(
        cloudwatch,
        paging["topic"],
        [{"Id": "growth", "Expression": "DIFF(visible)", "ReturnData": True}],
    )
    # WHEN the only datapoint is the first message, THEN DIFF has nothing to compare with
    put_depth(cloudwatch, "payment-dlq", 1, NOW - timedelta(seconds=20))
    evaluate_alarms(NOW)
    assert state_of(cloudwatch, "payment-dlq-growth") == OK


def test_periods_run_on_the_emulator_clock(
    aws: Callable[[str], Any], paging: dict[str, str]
) -> None:
    # GIVEN a clock 60 times faster: a 60 s period is one real second
    clock.set_clock(clock.EmulatorClock(60))
    cloudwatch = aws("cloudwatch")
    depth_alarm(cloudwatch, paging["topic"])
    # WHEN the only datapoint is four real seconds old (four emulated minutes)
    put_depth(cloudwatch, "payment-dlq", 4, NOW - timedelta(seconds=4))
    evaluate_alarms(NOW)
    # THEN it is outside the evaluation range (1 + 2 periods): missing, not breaching
    assert state_of(cloudwatch, "payment-dlq-depth") == OK
