"""Step Functions X-Ray tracing, sent as the state machine's role, and X-Ray's sampling API.

* "Trace Step Functions request data in AWS X-Ray"
  (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html): a state
  machine with X-Ray tracing enabled sends traces for its executions, even without an upstream
  trace ID; its role needs ``xray:PutTraceSegments``, ``xray:PutTelemetryRecords``,
  ``xray:GetSamplingRules`` and ``xray:GetSamplingTargets``, and without them no data reaches
  X-Ray; the default sampling records the first request each second and five percent of the
  rest; with tracing off, an upstream trace ID still gets the execution traced.
* "Using sampling rules with the X-Ray API"
  (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sampling.html): rules from
  GetSamplingRules, a reservoir borrowed one per second until GetSamplingTargets assigns a
  quota, then the fixed rate; the reservoir applies across all clients of a rule.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderflow.emulator import (
    cfn_resources,
    iam_enforcement,
    sfn_tracing,
    stepfunctions_execution,
    xray_sampling,
)
from orderflow.emulator.sfn_tracing import SamplingRule

from .conftest import ACCOUNT, REGION

SEND_TRACES = {
    "Sid": "SendTraces",
    "Effect": "Allow",
    "Action": [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    ],
    "Resource": "*",
}
FIND_QUEUE = {
    "Sid": "FindQueue",
    "Effect": "Allow",
    "Action": "sqs:GetQueueUrl",
    "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:work",
}
DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "FindQueue"},
        "FindQueue": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueUrl",
            "Parameters": {"QueueName": "work"},
            "End": True,
        },
    },
}
XRAY_ACTIONS = {
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/workflow/{iam_enforcement.EXECUTION_SESSION_NAME}"


@pytest.fixture
def tracing(aws: Callable[[str], Any], installed: Callable[..., None]) -> Callable[[str], Any]:
    installed(stepfunctions_execution, xray_sampling, sfn_tracing, iam_enforcement)
    iam_enforcement.clear_decisions()
    aws("sqs").create_queue(QueueName="work")
    return aws


def role(aws: Callable[[str], Any], *statements: dict[str, Any]) -> str:
    iam = aws("iam")
    iam.create_role(RoleName="workflow", AssumeRolePolicyDocument="{}")
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    iam.put_role_policy(
        RoleName="workflow", PolicyName="workflow", PolicyDocument=json.dumps(policy)
    )
    return f"arn:aws:iam::{ACCOUNT}:role/workflow"


def machine(
    aws: Callable[[str], Any],
    role_arn: str,
    *,
    traced: bool = True,
    name: str = "incident",
    definition: dict[str, Any] = DEFINITION,
) -> str:
    return str(
        aws("stepfunctions").create_state_machine(
            name=name,
            definition=json.dumps(definition),
            roleArn=role_arn,
            tracingConfiguration={"enabled": traced},
        )["stateMachineArn"]
    )


def finished(sfn: Any, execution_arn: str) -> dict[str, Any]:
    for _ in range(300):
        execution: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.02)
    raise AssertionError("the execution did not finish")


def traces(aws: Callable[[str], Any]) -> list[dict[str, Any]]:
    """Every trace X-Ray holds from the last hour, each segment's document parsed."""
    xray = aws("xray")
    now = datetime.now(UTC)
    summaries = xray.get_trace_summaries(
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=1)
    )["TraceSummaries"]
    if not summaries:
        return []
    found = xray.batch_get_traces(TraceIds=[s["Id"] for s in summaries])["Traces"]
    return [
        {"Id": t["Id"], "Segments": [json.loads(s["Document"]) for s in t["Segments"]]}
        for t in found
    ]


def xray_decisions() -> list[iam_enforcement.Decision]:
    return [d for d in iam_enforcement.decisions() if d.action.startswith("xray:")]


def test_a_traced_execution_sends_its_trace_as_the_state_machines_role(
    tracing: Callable[[str], Any],
) -> None:
    # GIVEN a traced state machine whose role allows the X-Ray calls, under enforced IAM
    arn = machine(tracing, role(tracing, SEND_TRACES, FIND_QUEUE))
    sfn = tracing("stepfunctions")

    # WHEN it runs
    execution_arn = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    execution = finished(sfn, execution_arn)

    # THEN it succeeded, and X-Ray holds its trace: the machine's segment, a subsegment per
    # state, the task's call to SQS inside its state
    assert execution["status"] == "SUCCEEDED"
    [trace] = traces(tracing)
    [segment] = trace["Segments"]
    assert segment["trace_id"] == trace["Id"]
    assert segment["name"] == "incident"
    assert segment["origin"] == "AWS::StepFunctions::StateMachine"
    assert segment["resource_arn"] == arn
    assert segment["aws"] == {"execution_arn": execution_arn}
    assert "error" not in segment
    assert [s["name"] for s in segment["subsegments"]] == ["Prepare", "FindQueue"]
    [call] = segment["subsegments"][1]["subsegments"]
    assert (call["name"], call["namespace"], call["aws"]) == (
        "sqs",
        "aws",
        {"operation": "GetQueueUrl"},
    )
    assert segment["start_time"] <= call["start_time"] <= call["end_time"] <= segment["end_time"]
    # ... and each X-Ray call was the role's session, allowed by the SendTraces statement
    decisions = xray_decisions()
    assert {d.action for d in decisions} == XRAY_ACTIONS
    assert {(d.principal, d.resource, d.allowed) for d in decisions} == {(SESSION, "*", True)}
    assert {d.statement.sid for d in decisions if d.statement} == {"SendTraces"}


def test_without_the_xray_statement_nothing_is_traced_and_the_execution_still_succeeds(
    tracing: Callable[[str], Any],
) -> None:
    # GIVEN a traced state machine whose role allows its task but no X-Ray call
    arn = machine(tracing, role(tracing, FIND_QUEUE))
    sfn = tracing("stepfunctions")

    # WHEN it runs
    execution = finished(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])

    # THEN the execution succeeded as it would untraced, X-Ray holds no trace, and the upload
    # was denied to the role's session for want of an identity-based policy
    assert execution["status"] == "SUCCEEDED"
    assert traces(tracing) == []
    upload = [d for d in xray_decisions() if d.action == "xray:PutTraceSegments"]
    assert [(d.principal, d.allowed, d.reason) for d in upload] == [
        (SESSION, False, "no identity-based policy allows the action")
    ]
    # ... as were the rules (so the local default sampled it, and no targets were asked for)
    # and the telemetry
    assert {d.action for d in xray_decisions()} == {
        "xray:GetSamplingRules",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert not any(d.allowed for d in xray_decisions())


def test_a_machine_without_tracing_sends_nothing(tracing: Callable[[str], Any]) -> None:
    arn = machine(tracing, role(tracing, SEND_TRACES, FIND_QUEUE), traced=False)
    sfn = tracing("stepfunctions")

    execution = finished(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])

    assert execution["status"] == "SUCCEEDED"
    assert traces(tracing) == []
    assert xray_decisions() == []


def test_a_failed_execution_and_its_failed_task_are_marked_as_errors(
    tracing: Callable[[str], Any],
) -> None:
    # GIVEN a traced machine whose task looks for a queue that does not exist
    missing = json.loads(json.dumps(DEFINITION).replace('"work"', '"missing"'))
    find_any = {**FIND_QUEUE, "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:*"}
    arn = machine(tracing, role(tracing, SEND_TRACES, find_any), definition=missing)
    sfn = tracing("stepfunctions")

    execution = finished(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])

    assert execution["status"] == "FAILED"
    [trace] = traces(tracing)
    [segment] = trace["Segments"]
    assert segment["error"] is True
    prepare, find_queue = segment["subsegments"]
    assert "error" not in prepare
    assert find_queue["error"] is True
    assert find_queue["subsegments"][0]["error"] is True


def _backend() -> Any:
    from moto.stepfunctions.responses import get_backend  # noqa: PLC0415

    return get_backend(ACCOUNT, REGION)


def test_an_upstream_trace_id_is_traced_even_with_tracing_off_and_its_sampled_flag_decides(
    tracing: Callable[[str], Any],
) -> None:
    # GIVEN one machine with tracing off and one with it on
    role_arn = role(tracing, SEND_TRACES, FIND_QUEUE)
    untraced = machine(tracing, role_arn, traced=False, name="untraced")
    traced = machine(tracing, role_arn, name="traced")
    sfn = tracing("stepfunctions")
    root = "1-5759e988-bd862e3fe1be46a994272793"

    # WHEN the first starts with an upstream trace header that was sampled, the second with one
    # that was not
    sampled = _backend().start_execution(
        untraced, "sampled", "{}", f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1"
    )
    unsampled = _backend().start_execution(
        traced, "unsampled", "{}", "Root=1-5759e988-00000000000000000000000a;Sampled=0"
    )
    finished(sfn, sampled.exec_arn)
    finished(sfn, unsampled.exec_arn)

    # THEN only the sampled one is traced, in the upstream trace, under the upstream parent, and
    # the upstream decision stood: no sampling call was made
    [trace] = traces(tracing)
    assert trace["Id"] == root
    [segment] = trace["Segments"]
    assert (segment["name"], segment["parent_id"]) == ("untraced", "53995c3f42cd8ad8")
    assert {d.action for d in xray_decisions()} == {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


def test_a_stack_deployed_machine_keeps_its_tracing_configuration(
    tracing: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    # GIVEN a template's state machine with TracingConfiguration Enabled (as SAM's Tracing
    # property renders it, "AWS::StepFunctions::StateMachine TracingConfiguration")
    installed(cfn_resources)
    role_arn = role(tracing, SEND_TRACES, FIND_QUEUE)
    template = {
        "Resources": {
            "Workflow": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "deployed",
                    "RoleArn": role_arn,
                    "Definition": DEFINITION,
                    "TracingConfiguration": {"Enabled": True},
                },
            }
        },
    }
    tracing("cloudformation").create_stack(StackName="wf", TemplateBody=json.dumps(template))
    sfn = tracing("stepfunctions")
    [listed] = sfn.list_state_machines()["stateMachines"]

    # WHEN it runs
    finished(sfn, sfn.start_execution(stateMachineArn=listed["stateMachineArn"])["executionArn"])

    # THEN the API says it is traced, and its execution was
    described = sfn.describe_state_machine(stateMachineArn=listed["stateMachineArn"])
    assert described["tracingConfiguration"] == {"enabled": True}
    assert [t["Segments"][0]["name"] for t in traces(tracing)] == ["deployed"]


# --- sampling ---------------------------------------------------------------------------------


def test_the_default_rule_records_the_first_request_each_second_then_its_fixed_rate() -> None:
    # GIVEN a rule with a reservoir of one and no fixed rate, before any quota is assigned
    rule = SamplingRule("Default", 10000, reservoir=1, fixed_rate=0.0, matches={})

    # WHEN three requests come in one second and one in the next
    decisions = [rule.decide(7), rule.decide(7), rule.decide(7), rule.decide(8)]

    # THEN the first of each second was borrowed from the reservoir, the others not sampled
    assert decisions == [True, False, False, True]
    assert (rule.requests, rule.sampled, rule.borrowed) == (4, 2, 2)
    # ... and a fixed rate of 100% samples every request beyond the reservoir
    everything = SamplingRule("all", 1, reservoir=0, fixed_rate=1.0, matches={})
    assert [everything.decide(1) for _ in range(3)] == [True, True, True]


def test_a_rule_applies_by_service_name_type_and_resource_arn() -> None:
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:orderflow-dev-dlq-incident"
    rule = SamplingRule(
        "incidents",
        1,
        1,
        0.5,
        {"ServiceName": "orderflow-*-dlq-incident", "ServiceType": "AWS::StepFunctions::*"},
    )
    web = SamplingRule("web", 1, 1, 0.5, {"URLPath": "/api/*"})

    assert rule.applies("orderflow-dev-dlq-incident", arn)
    assert not rule.applies("orderflow-dev-other", arn.replace("dlq-incident", "other"))
    assert not web.applies("orderflow-dev-dlq-incident", arn)


def test_x_ray_serves_the_default_rule_and_divides_its_reservoir_among_clients(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    installed(xray_sampling)
    xray = aws("xray")

    [record] = xray.get_sampling_rules()["SamplingRuleRecords"]
    rule = record["SamplingRule"]
    assert (rule["RuleName"], rule["Priority"], rule["ReservoirSize"], rule["FixedRate"]) == (
        "Default",
        10000,
        1,
        0.05,
    )

    def report(client: str, rule_name: str = "Default") -> dict[str, Any]:
        document = {"RuleName": rule_name, "ClientID": client, "Timestamp": datetime.now(UTC),
                    "RequestCount": 3, "SampledCount": 1}  # fmt: skip
        answer: dict[str, Any] = xray.get_sampling_targets(SamplingStatisticsDocuments=[document])
        return answer

    first = report("a" * 24)["SamplingTargetDocuments"]
    second = report("b" * 24)["SamplingTargetDocuments"]
    # one client alone gets the whole reservoir; two reporting in one interval share it
    assert [(t["ReservoirQuota"], t["FixedRate"], t["Interval"]) for t in first] == [(1, 0.05, 10)]
    assert [t["ReservoirQuota"] for t in second] == [0]
    assert first[0]["ReservoirQuotaTTL"] > datetime.now(UTC)
    assert [s["RuleName"] for s in report("c" * 24, "missing")["UnprocessedStatistics"]] == [
        "missing"
    ]
