"""The emulator clock: AWS durations take duration / factor real seconds, the same everywhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from orderflow.emulator import clock
from orderflow.emulator.clock import ClockFactorError, EmulatorClock, clock_from_env


def test_durations_and_ages_convert_both_ways() -> None:
    ten_times = EmulatorClock(10)
    assert ten_times.real(180) == 18
    assert ten_times.emulated(18) == 180


@pytest.mark.parametrize("raw", ["0.5", "0", "-3", "fast"])
def test_a_factor_below_one_or_not_a_number_is_refused(raw: str) -> None:
    with pytest.raises(ClockFactorError, match=r"ORDERFLOW_CLOCK_FACTOR|at least 1"):
        clock_from_env({"ORDERFLOW_CLOCK_FACTOR": raw})


def test_unset_means_aws_time() -> None:
    assert clock_from_env({}).factor == 1


def test_a_received_message_comes_back_after_the_compressed_visibility_timeout(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    # GIVEN a 30 s visibility timeout on a clock running 600 times faster (50 ms real)
    installed(clock)
    clock.set_clock(EmulatorClock(600))
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = sqs.receive_message(QueueUrl=url)["Messages"]
    # WHEN the consumer neither deletes it nor answers for longer than that
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    time.sleep(0.2)
    # THEN it is delivered again, a second receive
    again = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    assert again[0]["MessageId"] == first[0]["MessageId"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_on_aws_time_the_same_message_stays_invisible(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    installed(clock)
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    sqs.receive_message(QueueUrl=url)
    time.sleep(0.2)
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
