"""Step Functions that run, deployed by CloudFormation and started by EventBridge rules."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from orderflow.emulator import (
    cfn_resources,
    clock,
    eventbridge_targets,
    stepfunctions_execution,
)

ROLE = "arn:aws:iam::123456789012:role/workflow"
ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
SUBSTITUTED = {
    "StartAt": "Tag",
    "States": {"Tag": {"Type": "Pass", "Result": {"stage": "${Stage}"}, "End": True}},
}


@pytest.fixture
def running(aws: Callable[[str], Any], installed: Callable[..., None]) -> Callable[[str], Any]:
    installed(cfn_resources, stepfunctions_execution, eventbridge_targets)
    return aws


def finished(sfn: Any, machine_arn: str) -> list[dict[str, Any]]:
    """The machine's executions once none is RUNNING (they run on moto's threads)."""
    for _ in range(200):
        executions = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
        if executions and all(e["status"] != "RUNNING" for e in executions):
            return [sfn.describe_execution(executionArn=e["executionArn"]) for e in executions]
        time.sleep(0.02)
    raise AssertionError("executions did not finish")


def deploy_machine(aws: Callable[[str], Any], definition_property: dict[str, Any]) -> str:
    template = {
        "Resources": {
            "Workflow": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "workflow",
                    "RoleArn": ROLE,
                    **definition_property,
                },
            }
        },
        "Outputs": {"Arn": {"Value": {"Ref": "Workflow"}}},
    }
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(StackName="wf", TemplateBody=json.dumps(template))
    return str(
        cloudformation.describe_stacks(StackName="wf")["Stacks"][0]["Outputs"][0]["OutputValue"]
    )


def test_a_stack_deployed_machine_is_the_one_the_api_runs(running: Callable[[str], Any]) -> None:
    # GIVEN a state machine from a template's Definition object
    arn = deploy_machine(running, {"Definition": ECHO})
    sfn = running("stepfunctions")
    # WHEN it is started through the API
    sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order_id": "ord-1"}))
    # THEN it really ran: the Pass state returned its input
    [execution] = finished(sfn, arn)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"order_id": "ord-1"}


def test_definition_substitutions_are_applied(running: Callable[[str], Any]) -> None:
    arn = deploy_machine(
        running,
        {"Definition": SUBSTITUTED, "DefinitionSubstitutions": {"Stage": "local"}},
    )
    sfn = running("stepfunctions")
    sfn.start_execution(stateMachineArn=arn, input="{}")
    [execution] = finished(sfn, arn)
    assert json.loads(execution["output"]) == {"stage": "local"}


def test_a_wait_state_lasts_its_seconds_on_the_emulator_clock(
    running: Callable[[str], Any],
) -> None:
    """A Wait state's ``Seconds`` / ``SecondsPath`` is "a time, in seconds, to wait before
    beginning the state specified in the Next field" (AWS Step Functions Developer Guide, "Wait
    workflow state", https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html): an
    AWS duration, so on the emulator it runs on the clock like a visibility timeout does."""
    # GIVEN a clock where ten AWS minutes pass in one real second
    clock.set_clock(clock.EmulatorClock(600))
    definition = {
        "StartAt": "Fixed",
        "States": {
            "Fixed": {"Type": "Wait", "Seconds": 300, "Next": "FromInput"},
            "FromInput": {"Type": "Wait", "SecondsPath": "$.seconds", "End": True},
        },
    }
    arn = deploy_machine(running, {"Definition": definition})
    sfn = running("stepfunctions")
    # WHEN a workflow waits five minutes, then five more from its input
    sfn.start_execution(stateMachineArn=arn, input=json.dumps({"seconds": 300}))
    # THEN it finishes within the few real seconds ``finished`` allows, not in ten minutes
    [execution] = finished(sfn, arn)
    assert execution["status"] == "SUCCEEDED"


def rule_to(events: Any, arn: str, **target: Any) -> None:
    events.put_rule(
        Name="dlq-alarms",
        EventPattern=json.dumps(
            {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"state": {"value": ["ALARM"]}},
            }
        ),
    )
    events.put_targets(Rule="dlq-alarms", Targets=[{"Id": "workflow", "Arn": arn, **target}])


def alarm_event(events: Any, state: str) -> None:
    events.put_events(
        Entries=[
            {
                "Source": "aws.cloudwatch",
                "DetailType": "CloudWatch Alarm State Change",
                "Resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:payment-dlq-depth"],
                "Detail": json.dumps({"alarmName": "payment-dlq-depth", "state": {"value": state}}),
            }
        ]
    )


def test_a_matching_event_starts_the_target_machine_with_the_event(
    running: Callable[[str], Any],
) -> None:
    arn = deploy_machine(running, {"Definition": ECHO})
    events, sfn = running("events"), running("stepfunctions")
    rule_to(events, arn)
    alarm_event(events, "ALARM")
    [execution] = finished(sfn, arn)
    delivered = json.loads(execution["input"])
    assert delivered["detail-type"] == "CloudWatch Alarm State Change"
    assert delivered["detail"]["alarmName"] == "payment-dlq-depth"
    assert delivered["time"].endswith("Z")


def test_input_path_delivers_part_of_the_event(running: Callable[[str], Any]) -> None:
    arn = deploy_machine(running, {"Definition": ECHO})
    events, sfn = running("events"), running("stepfunctions")
    rule_to(events, arn, InputPath="$.detail")
    alarm_event(events, "ALARM")
    [execution] = finished(sfn, arn)
    assert json.loads(execution["input"]) == {
        "alarmName": "payment-dlq-depth",
        "state": {"value": "ALARM"},
    }


def test_an_event_the_pattern_does_not_match_starts_nothing(
    running: Callable[[str], Any],
) -> None:
    arn = deploy_machine(running, {"Definition": ECHO})
    events, sfn = running("events"), running("stepfunctions")
    rule_to(events, arn)
    alarm_event(events, "OK")
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_a_disabled_rule_delivers_nothing(running: Callable[[str], Any]) -> None:
    arn = deploy_machine(running, {"Definition": ECHO})
    events, sfn = running("events"), running("stepfunctions")
    rule_to(events, arn)
    events.disable_rule(Name="dlq-alarms")
    alarm_event(events, "ALARM")
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_an_event_forwarded_to_another_bus_reaches_that_buses_machine(
    running: Callable[[str], Any],
) -> None:
    """A rule may target another event bus, whose rules (any target kind) run on the same thread.

    EventBridge documents event buses as targets ("Sending and receiving events between AWS
    accounts in Amazon EventBridge", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html;
    the same holds within one account). moto's own test_put_events_event_bus_forwarding_rules
    hung with this extension installed while the outer rule held a lock the inner one waited for.
    """
    arn = deploy_machine(running, {"Definition": ECHO})
    events, sfn = running("events"), running("stepfunctions")
    inner = events.create_event_bus(Name="incidents")["EventBusArn"]
    events.put_rule(
        Name="to-workflow",
        EventBusName="incidents",
        EventPattern=json.dumps({"source": ["aws.cloudwatch"]}),
    )
    sqs = running("sqs")
    queue_url = sqs.create_queue(QueueName="incident-audit")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    events.put_targets(
        Rule="to-workflow",
        EventBusName="incidents",
        Targets=[
            {"Id": "wf", "Arn": arn},
            {"Id": "audit", "Arn": queue_arn["Attributes"]["QueueArn"]},
        ],
    )
    events.put_rule(
        Name="forward",
        EventPattern=json.dumps({"source": ["aws.cloudwatch"]}),
        State="ENABLED",
    )
    events.put_targets(Rule="forward", Targets=[{"Id": "bus", "Arn": inner}])
    delivering = threading.Thread(target=alarm_event, args=(events, "ALARM"), daemon=True)
    delivering.start()
    delivering.join(timeout=60)  # a guard only: a deadlock would otherwise hang the suite
    assert not delivering.is_alive(), "delivery to the forwarding rule never returned"
    [execution] = finished(sfn, arn)
    assert json.loads(execution["input"])["detail"]["alarmName"] == "payment-dlq-depth"
    [audited] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert json.loads(audited["Body"])["detail"]["alarmName"] == "payment-dlq-depth"


WAITS = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}}}


def test_executions_started_without_a_name_each_get_their_own_uuid(
    running: Callable[[str], Any],
) -> None:
    """Without a name, "Step Functions automatically generates a universally unique identifier
    (UUID) as the execution name" (Step Functions API Reference, StartExecution,
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html)."""
    arn = deploy_machine(running, {"Definition": ECHO})
    sfn = running("stepfunctions")
    first = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    names = {e["name"] for e in finished(sfn, arn)}
    assert names == {first.rsplit(":", 1)[1], second.rsplit(":", 1)[1]}
    assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", n) for n in names)


def test_an_execution_name_longer_than_80_characters_is_refused(
    running: Callable[[str], Any],
) -> None:
    """StartExecution's ``name`` has "Length Constraints: Minimum length of 1. Maximum length of
    80." (Step Functions API Reference, StartExecution,
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html)."""
    arn = deploy_machine(running, {"Definition": ECHO})
    sfn = running("stepfunctions")
    with pytest.raises(sfn.exceptions.ClientError) as refused:
        sfn.start_execution(stateMachineArn=arn, name="t" * 81, input="{}")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_an_execution_stopped_as_soon_as_it_starts_is_aborted(
    running: Callable[[str], Any],
) -> None:
    """StopExecution "stops an execution" (Step Functions API Reference, StopExecution,
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html),
    however soon after StartExecution it comes: never an internal error, always ABORTED."""
    arn = deploy_machine(running, {"Definition": WAITS})
    sfn = running("stepfunctions")
    stopped = []
    for _ in range(20):
        started = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        stopped.append(sfn.stop_execution(executionArn=started)["stopDate"])
    executions = finished(sfn, arn)
    assert [e["status"] for e in executions] == ["ABORTED"] * 20
    assert sorted(e["stopDate"] for e in executions) == sorted(stopped)


def test_a_stack_update_changes_the_machine_the_api_runs(running: Callable[[str], Any]) -> None:
    """A DefinitionString or RoleArn change updates the state machine with "No interruption"
    (CloudFormation User Guide, AWS::StepFunctions::StateMachine, https://docs.aws.amazon.com/
    AWSCloudFormation/latest/TemplateReference/aws-resource-stepfunctions-statemachine.html):
    the same machine, now running the new definition."""
    arn = deploy_machine(running, {"Definition": ECHO})
    template = {
        "Resources": {
            "Workflow": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "workflow",
                    "RoleArn": ROLE,
                    "Definition": SUBSTITUTED,
                    "DefinitionSubstitutions": {"Stage": "updated"},
                },
            }
        },
    }
    running("cloudformation").update_stack(StackName="wf", TemplateBody=json.dumps(template))
    sfn = running("stepfunctions")
    sfn.start_execution(stateMachineArn=arn, input="{}")
    [execution] = finished(sfn, arn)
    assert json.loads(execution["output"]) == {"stage": "updated"}
