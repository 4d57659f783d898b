"""The project's template rules: each catches its own mistake, and the real templates pass."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orderflow.contracts import SERVICES, filter_policy
from orderflow.testing.template_rules import check_template, main

ROOT = Path(__file__).resolve().parents[3]
REAL_TEMPLATES = [ROOT / "platform" / "template.yaml"] + [
    ROOT / "services" / s / "template.yaml"
    for s in SERVICES
    if (ROOT / "services" / s / "template.yaml").exists()
]

GOOD = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
  TopicArn: {Type: String, Default: arn:aws:sns:us-east-1:123456789012:t}
  FunctionTimeout: {Type: Number, Default: 30}
Globals:
  Function:
    Tracing: Active
Resources:
  DeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 1209600
      Tags:
        - {Key: orderflow:role, Value: dlq}
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 180
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DeadLetterQueue.Arn
        maxReceiveCount: 5
      Tags:
        - {Key: orderflow:service, Value: payment}
  Subscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref TopicArn
      Protocol: sqs
      Endpoint: !GetAtt Queue.Arn
      FilterPolicyScope: MessageAttributes
      FilterPolicy: __PAYMENT_POLICY__
  Function:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: !Ref FunctionTimeout
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:PutItem]
              Resource: !Sub arn:aws:dynamodb:us-east-1:123456789012:table/orderflow-${Stage}-x
            - Effect: Allow
              Action: [xray:PutTraceSegments, xray:PutTelemetryRecords]
              Resource: "*"
        - SQSPollerPolicy:
            QueueName: !GetAtt Queue.QueueName
      Events:
        Orders:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            FunctionResponseTypes: [ReportBatchItemFailures]
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TracingConfig: Active
""".replace("__PAYMENT_POLICY__", json.dumps(filter_policy("payment")))


def write(tmp_path: Path, text: str, name: str = "template.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def messages(path: Path) -> list[str]:
    return [f"{v.resource}: {v.message}" for v in check_template(path)]


def test_a_template_that_follows_every_rule_has_no_violation(tmp_path: Path) -> None:
    assert messages(write(tmp_path, GOOD)) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt DeadLetterQueue.Arn\n"
            "        maxReceiveCount: 5\n",
            "",
            "Queue: queue has no RedrivePolicy with a deadLetterTargetArn",
        ),
        (
            "MessageRetentionPeriod: 1209600",
            "MessageRetentionPeriod: 604800",
            "DeadLetterQueue: DLQ MessageRetentionPeriod is 604800, not 1209600 (14 days)",
        ),
        (
            "VisibilityTimeout: 180",
            "VisibilityTimeout: 120",
            "Queue: VisibilityTimeout 120 s is under 6x the timeout of Function (30 s): "
            "at least 180 s",
        ),
        (
            "    Tracing: Active",
            "    Tracing: PassThrough",
            "Function: function Tracing is not Active",
        ),
        (
            "TracingConfig: Active",
            "TracingConfig: PassThrough",
            "Topic: topic TracingConfig is not Active",
        ),
        (
            "FunctionResponseTypes: [ReportBatchItemFailures]",
            "BatchSize: 10",
            "Function.Events.Orders: SQS event source lacks FunctionResponseTypes: "
            "[ReportBatchItemFailures]",
        ),
        (
            "Action: [dynamodb:PutItem]",
            "Action: [dynamodb:*]",
            "Function: Allow grants every action: dynamodb:*",
        ),
        (
            "Resource: !Sub arn:aws:dynamodb:us-east-1:123456789012:table/orderflow-${Stage}-x",
            'Resource: "*"',
            "Function: Resource '*' for dynamodb:PutItem; name the resource",
        ),
        (
            "FilterPolicyScope: MessageAttributes",
            "FilterPolicyScope: MessageBody",
            "Subscription: FilterPolicyScope is MessageBody, not MessageAttributes",
        ),
    ],
)
def test_each_rule_catches_its_mistake(tmp_path: Path, old: str, new: str, expected: str) -> None:
    # GIVEN a good template with exactly one mistake
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))

    # WHEN it is checked, THEN that mistake is the one violation
    assert messages(path) == [expected]


def test_a_filter_policy_out_of_step_with_the_routing_table(tmp_path: Path) -> None:
    # GIVEN payment's subscription missing order.refunded
    policy = json.dumps({"event_type": ["order.created"]})
    path = write(tmp_path, GOOD.replace(json.dumps(filter_policy("payment")), policy))

    # WHEN checked, THEN the difference is named
    [violation] = messages(path)
    assert violation.startswith("Subscription: FilterPolicy")
    assert "differs from the routing table's" in violation


def test_a_service_that_takes_everything_must_not_filter(tmp_path: Path) -> None:
    # GIVEN analytics (every event type) with a filter
    path = write(tmp_path, GOOD.replace("Value: payment", "Value: analytics"))

    # WHEN checked, THEN the filter must go
    assert messages(path) == [
        "Subscription: analytics takes every event type; remove the FilterPolicy"
    ]


def test_a_queue_fed_by_a_plain_event_source_mapping_is_checked_too(tmp_path: Path) -> None:
    # GIVEN CloudFormation (not SAM) resources: a function with a 60 s timeout and its mapping
    path = write(
        tmp_path,
        """
        Resources:
          Dlq:
            Type: AWS::SQS::Queue
            Properties: {MessageRetentionPeriod: 1209600}
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 5}
          Fn:
            Type: AWS::Lambda::Function
            Properties: {Timeout: 60, TracingConfig: {Mode: Active}}
          Mapping:
            Type: AWS::Lambda::EventSourceMapping
            Properties:
              EventSourceArn: !GetAtt Queue.Arn
              FunctionName: !Ref Fn
              FunctionResponseTypes: [ReportBatchItemFailures]
        """,
    )

    # WHEN checked, THEN the default 30 s visibility is too short for a 60 s function
    assert messages(path) == [
        "Queue: VisibilityTimeout 30 s is under 6x the timeout of Fn (60 s): at least 360 s"
    ]


def test_deny_statements_and_key_policies_may_use_wildcards(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        Resources:
          Key:
            Type: AWS::KMS::Key
            Properties:
              KeyPolicy:
                Statement:
                  - {Effect: Allow, Principal: {AWS: "*"}, Action: "kms:*", Resource: "*"}
          TopicPolicy:
            Type: AWS::SNS::TopicPolicy
            Properties:
              Topics: [x]
              PolicyDocument:
                Statement:
                  - Effect: Deny
                    Principal: "*"
                    Action: "*"
                    Resource: "*"
                    Condition: {Bool: {aws:SecureTransport: "false"}}
        """,
    )
    assert messages(path) == []


@pytest.mark.parametrize(
    ("source_retention", "expected"),
    [
        (
            "1209600",
            [
                "Queue: MessageRetentionPeriod 1209600 s is not shorter than its DLQ "
                "DeadLetterQueue's (1209600 s): a message keeps its enqueue time when it moves, "
                "so it would expire in the DLQ sooner than it would have here"
            ],
        ),
        ("1209599", []),
        ("345600", []),
    ],
)
def test_a_dlq_must_keep_messages_longer_than_its_source_queue(
    tmp_path: Path, source_retention: str, expected: list[str]
) -> None:
    # GIVEN a source queue keeping messages as long as (or less than) its 14-day DLQ
    text = GOOD.replace(
        "      VisibilityTimeout: 180\n",
        f"      VisibilityTimeout: 180\n      MessageRetentionPeriod: {source_retention}\n",
    )

    # WHEN checked, THEN only a source that is not shorter is a violation
    assert messages(write(tmp_path, text)) == expected


def test_a_source_queue_without_a_retention_keeps_the_sqs_default_of_four_days(
    tmp_path: Path,
) -> None:
    # GIVEN a DLQ that also keeps SQS's default (4 days) and a source with the default
    text = GOOD.replace("MessageRetentionPeriod: 1209600", "MessageRetentionPeriod: 345600")

    # THEN the DLQ is both too short for the 14-day rule and not longer than its source
    assert messages(write(tmp_path, text)) == [
        "DeadLetterQueue: DLQ MessageRetentionPeriod is 345600, not 1209600 (14 days)",
        "Queue: MessageRetentionPeriod 345600 s is not shorter than its DLQ DeadLetterQueue's "
        "(345600 s): a message keeps its enqueue time when it moves, so it would expire in the "
        "DLQ sooner than it would have here",
    ]


ALLOW_POLICY = (
    "      RedriveAllowPolicy:\n"
    "        redrivePermission: byQueue\n"
    "        sourceQueueArns:\n"
    "          - !Sub arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:q\n"
)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "        sourceQueueArns:\n",
            "        sourceQueueArnList:\n",
            [
                "DeadLetterQueue: RedriveAllowPolicy has unknown key sourceQueueArnList "
                "(SQS's keys: redrivePermission, sourceQueueArns)",
                "DeadLetterQueue: RedriveAllowPolicy with redrivePermission byQueue lacks "
                "sourceQueueArns",
            ],
        ),
        (
            "        redrivePermission: byQueue\n",
            "",
            ["DeadLetterQueue: RedriveAllowPolicy lacks redrivePermission"],
        ),
        (
            "        redrivePermission: byQueue\n",
            "        redrivePermission: allowAll\n",
            [
                "DeadLetterQueue: RedriveAllowPolicy sets sourceQueueArns, which SQS accepts "
                "only with redrivePermission byQueue"
            ],
        ),
        (
            "        redrivePermission: byQueue\n",
            "        redrivePermission: ByQueue\n",
            [
                "DeadLetterQueue: RedriveAllowPolicy redrivePermission is ByQueue, not one of "
                "allowAll, denyAll, byQueue"
            ],
        ),
    ],
)
def test_a_redrive_allow_policy_must_use_sqs_keys(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    # GIVEN a DLQ whose RedriveAllowPolicy has one mistake
    retention = "      MessageRetentionPeriod: 1209600\n"
    good = GOOD.replace(retention, retention + ALLOW_POLICY)
    assert messages(write(tmp_path, good)) == []
    assert old in ALLOW_POLICY

    # WHEN checked, THEN the mistake is named
    assert messages(write(tmp_path, good.replace(old, new))) == expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "        maxReceiveCount: 5\n",
            "",
            ["Queue: RedrivePolicy lacks maxReceiveCount"],
        ),
        (
            "        maxReceiveCount: 5\n",
            "        maxReceiveCount: 5\n        maxRetries: 2\n",
            [
                "Queue: RedrivePolicy has unknown key maxRetries "
                "(SQS's keys: deadLetterTargetArn, maxReceiveCount)"
            ],
        ),
        (
            "        deadLetterTargetArn: !GetAtt DeadLetterQueue.Arn\n",
            "        deadLetterQueueArn: !GetAtt DeadLetterQueue.Arn\n",
            [
                "Queue: RedrivePolicy has unknown key deadLetterQueueArn "
                "(SQS's keys: deadLetterTargetArn, maxReceiveCount)",
                "Queue: RedrivePolicy lacks deadLetterTargetArn",
            ],
        ),
    ],
)
def test_a_redrive_policy_must_use_sqs_keys(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    # GIVEN a source queue whose RedrivePolicy has one mistake
    assert old in GOOD
    found = messages(write(tmp_path, GOOD.replace(old, new)))

    # THEN the mistake is named (a policy without its target no longer marks a DLQ, so the
    # missing target is also the queue-has-no-DLQ rule's finding)
    assert [m for m in found if "RedrivePolicy lacks" in m or "unknown key" in m] == expected


def test_a_redrive_policy_given_as_a_json_string_is_checked_too(tmp_path: Path) -> None:
    # GIVEN the policy as SQS's JSON string instead of a template object
    text = GOOD.replace(
        "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt DeadLetterQueue.Arn\n"
        "        maxReceiveCount: 5\n",
        '      RedrivePolicy: \'{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:d", '
        '"maxReceivecount": 5}\'\n',
    )
    found = messages(write(tmp_path, text))

    # THEN its keys are checked as an object's would be
    assert [m for m in found if "RedrivePolicy" in m and "queue has no" not in m] == [
        "Queue: RedrivePolicy has unknown key maxReceivecount "
        "(SQS's keys: deadLetterTargetArn, maxReceiveCount)",
        "Queue: RedrivePolicy lacks maxReceiveCount",
    ]


LAMBDA_SQS_GUIDE = (
    "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-queueconfig"
)
"""Lambda's SQS guide: "Set the maxReceiveCount on the queue's redrive policy to at least 5"."""

RECEIVES_PARAMETER = "  MaxReceiveCount: {Type: Number, Default: 5, MinValue: 5}\n"


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        pytest.param(RECEIVES_PARAMETER, [], id="default-and-min-5"),
        pytest.param(
            "  MaxReceiveCount: {Type: Number, Default: 3, MinValue: 1}\n",
            [
                "Queue: maxReceiveCount parameter MaxReceiveCount has Default 3: at least 5 "
                "for a queue Lambda consumes",
                "Queue: maxReceiveCount parameter MaxReceiveCount has MinValue 1: at least 5 "
                "for a queue Lambda consumes",
            ],
            id="the-seed-pipeline-3",
        ),
        pytest.param(
            "  MaxReceiveCount: {Type: Number, Default: 5}\n",
            [
                "Queue: maxReceiveCount parameter MaxReceiveCount has no MinValue: it must be "
                "at least 5"
            ],
            id="no-floor-a-deploy-could-lower-it",
        ),
    ],
)
def test_a_queue_lambda_consumes_redrives_after_at_least_five_receives(
    tmp_path: Path, parameter: str, expected: list[str]
) -> None:
    # GIVEN the source queue's maxReceiveCount as a stack parameter (see LAMBDA_SQS_GUIDE: a
    # throttled batch, or a record the shell had no time left to start, uses a receive too)
    text = GOOD.replace("Parameters:\n", "Parameters:\n" + parameter).replace(
        "maxReceiveCount: 5", "maxReceiveCount: !Ref MaxReceiveCount"
    )
    # WHEN checked, THEN a setting that could park a message before its 5th receive is named
    assert messages(write(tmp_path, text)) == expected


def test_a_literal_receive_count_under_five_is_refused_too(tmp_path: Path) -> None:
    text = GOOD.replace("maxReceiveCount: 5", "maxReceiveCount: 4")
    assert messages(write(tmp_path, text)) == [
        "Queue: maxReceiveCount 4 is under 5 for a queue Lambda consumes"
    ]


def test_a_queue_no_function_consumes_may_redrive_sooner(tmp_path: Path) -> None:
    # The advice is about Lambda's poller; a queue without an event source is not held to it.
    text = GOOD.replace("maxReceiveCount: 5", "maxReceiveCount: 1").replace(
        "        Orders:\n          Type: SQS\n          Properties:\n"
        "            Queue: !GetAtt Queue.Arn\n"
        "            FunctionResponseTypes: [ReportBatchItemFailures]\n",
        "        {}\n",
    )
    assert "Events:\n        {}" in text
    assert messages(write(tmp_path, text)) == []


def test_a_consumer_timeout_must_leave_room_beyond_the_record_budget(tmp_path: Path) -> None:
    # GIVEN a function whose timeout is barely more than the 10 s record budget: after its
    # first record it would start no other, and every batch would come back
    text = GOOD.replace(
        "FunctionTimeout: {Type: Number, Default: 30}",
        "FunctionTimeout: {Type: Number, Default: 15}",
    ).replace("VisibilityTimeout: 180", "VisibilityTimeout: 90")
    assert messages(write(tmp_path, text)) == [
        "Function: Timeout 15 s is under 2x the record budget (10 s, the time left below which "
        "no record starts): at least 20 s"
    ]


@pytest.mark.parametrize("template", REAL_TEMPLATES, ids=lambda p: p.parent.name)
def test_the_real_templates_follow_the_rules(template: Path) -> None:
    assert messages(template) == []


def test_the_command_prints_one_line_per_violation_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN one good and one bad template
    good = write(tmp_path, GOOD, "good.yaml")
    bad = write(
        tmp_path, GOOD.replace("TracingConfig: Active", "TracingConfig: PassThrough"), "bad.yaml"
    )

    # WHEN the rules run over both
    status = main([str(good), str(bad)])

    # THEN one line names the bad template's violation, and the exit status is 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"{bad}: Topic: topic TracingConfig is not Active"]
    assert status == 1
    assert main([str(good)]) == 0


def test_an_unreadable_template_is_a_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yaml"
    assert main([str(missing)]) == 1
    assert capsys.readouterr().out.startswith(f"{missing}: -: cannot read")


def test_it_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orderflow.testing.template_rules", str(REAL_TEMPLATES[0])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 violation(s)" in result.stderr


# --- samconfig: one region per stage -------------------------------------------------------------

from orderflow.testing.template_rules import check_samconfig_regions  # noqa: E402

REAL_SAMCONFIGS = [ROOT / "platform" / "samconfig.toml"] + [
    ROOT / "services" / s / "samconfig.toml"
    for s in SERVICES
    if (ROOT / "services" / s / "samconfig.toml").exists()
]


class TestSamconfigRegions:
    """Service stacks read the platform's SSM parameters, which exist in the stage's region."""

    @staticmethod
    def samconfig(root: Path, package: str, **regions: str | None) -> Path:
        """``package``/samconfig.toml with one deploy section per stage (region or none)."""
        path = root / package / "samconfig.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        sections = ["version = 0.1"]
        for stage, region in regions.items():
            sections.append(f'[{stage}.deploy.parameters]\nstack_name = "orderflow-{stage}-x"')
            if region:
                sections.append(f'region = "{region}"')
        path.write_text("\n".join(sections) + "\n")
        return path

    def test_every_stage_of_the_real_samconfigs_pins_one_region(self) -> None:
        assert len(REAL_SAMCONFIGS) == 1 + len(SERVICES)
        assert check_samconfig_regions(REAL_SAMCONFIGS) == []

    def test_a_stage_without_a_region_is_rejected(self, tmp_path: Path) -> None:
        # GIVEN a payment samconfig whose prod stage deploys to the caller's default region
        path = self.samconfig(tmp_path, "services/payment", dev="us-east-1", prod=None)

        # THEN the rule names the stage that lacks a region
        assert [str(v) for v in check_samconfig_regions([path])] == [
            f"{path}: prod.deploy.parameters: no region: pin the stage's region "
            "(its SSM parameters live in one)"
        ]

    def test_one_stage_split_across_regions_is_rejected_against_the_platform(
        self, tmp_path: Path
    ) -> None:
        # GIVEN dev pinned to us-east-1 by the platform and payment, eu-west-1 by inventory
        platform = self.samconfig(tmp_path, "platform", dev="us-east-1", prod="eu-west-1")
        payment = self.samconfig(tmp_path, "services/payment", dev="us-east-1", prod="eu-west-1")
        inventory = self.samconfig(
            tmp_path, "services/inventory", dev="eu-west-1", prod="eu-west-1"
        )

        # THEN only inventory's dev stage is wrong: the platform's region is the reference
        violations = check_samconfig_regions([platform, payment, inventory])
        assert [(v.path, v.resource) for v in violations] == [
            (str(inventory), "dev.deploy.parameters")
        ]
        assert violations[0].message.startswith("region eu-west-1 differs from the stage's ")
        assert f"us-east-1 in {platform}" in violations[0].message

    def test_the_command_checks_the_samconfigs_named_with_the_templates(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # GIVEN a good template and two samconfigs that split dev across regions
        good = write(tmp_path, GOOD)
        platform = self.samconfig(tmp_path, "platform", dev="us-east-1")
        payment = self.samconfig(tmp_path, "services/payment", dev="us-west-2")

        # WHEN the command runs over all three
        status = main([str(good), str(platform), str(payment)])

        # THEN the split is one line and the run fails
        out = capsys.readouterr().out.strip().splitlines()
        assert out == [
            f"{payment}: dev.deploy.parameters: region us-west-2 differs from the stage's "
            f"us-east-1 in {platform}"
        ]
        assert status == 1
