"""IAM enforcement on moto in-process: each role session's request authorized as AWS does.

Every behaviour asserted here is the one the AWS documentation describes:

* "Policy evaluation logic", IAM User Guide
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
  an explicit deny wins, then an allow from an identity-based or (same account) resource-based
  policy, else an implicit deny.
* "IAM JSON policy elements: Action / NotAction / Resource / Condition operators" and
  "Single-valued vs. multivalued context keys", IAM User Guide.
* "Actions, resources, and condition keys for <service>", Service Authorization Reference
  (https://docs.aws.amazon.com/service-authorization/latest/reference/): which resource each
  call is authorized on (queue ARN from QueueUrl, table and index ARNs, SES identity and
  template ARNs, SSM parameter ARN, secret ARN).
* "Using IAM with DynamoDB transactions", DynamoDB Developer Guide: each item of a transaction
  is authorized as its own action with ``dynamodb:EnclosingOperation``.
* "Subscribing an Amazon SQS queue to an Amazon SNS topic", SNS Developer Guide: the queue policy
  must allow ``sns.amazonaws.com`` with ``aws:SourceArn`` the topic, or SNS cannot deliver.
* "Using Amazon SNS for CloudWatch alarm actions" / the topic policy for
  ``cloudwatch.amazonaws.com``: an alarm publishes only if the topic policy allows it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from orderflow.emulator import (
    alarm_evaluation,
    eventbridge_targets,
    iam_enforcement,
    server,
    sesv2_templates,
    sqs_move_tasks,
    stepfunctions_execution,
)
from orderflow.emulator.iam_enforcement import Decision, StatementRef

from .conftest import ACCOUNT, REGION

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
QUEUE_ARN_PREFIX = f"arn:aws:sqs:{REGION}:{ACCOUNT}:"
TABLE_ARN_PREFIX = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class Roles:
    """Creates roles with the admin credentials and hands out clients of their sessions."""

    def __init__(self, aws: Callable[[str], Any]) -> None:
        self._aws = aws
        self._iam = aws("iam")
        self._sts = aws("sts")

    def session(
        self,
        name: str,
        *statements: dict[str, Any],
        managed: list[dict[str, Any]] | None = None,
    ) -> Callable[[str], Any]:
        self._iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
        if statements:
            self._iam.put_role_policy(
                RoleName=name, PolicyName=f"{name}-inline", PolicyDocument=_policy(*statements)
            )
        if managed:
            arn = self._iam.create_policy(
                PolicyName=f"{name}-managed", PolicyDocument=_policy(*managed)
            )["Policy"]["Arn"]
            self._iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        credentials = self._sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="fn"
        )["Credentials"]

        def client(service: str) -> Any:
            return boto3.client(
                service,
                region_name=REGION,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )

        return client


@pytest.fixture
def enforced(aws: Callable[[str], Any], installed: Callable[..., None]) -> Iterator[Roles]:
    installed(iam_enforcement)
    iam_enforcement.clear_decisions()
    yield Roles(aws)
    iam_enforcement.clear_decisions()


def _principal(role: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/fn"


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


# --- identity-based policies ------------------------------------------------------------------


def test_an_allowed_call_succeeds_and_the_decision_names_the_allowing_statement(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN a queue and a role that may send to it
    url = aws("sqs").create_queue(QueueName="orders")["QueueUrl"]
    role = enforced.session(
        "sender",
        {"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"},
        {
            "Sid": "SendOrders",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": QUEUE_ARN_PREFIX + "orders",
        },
    )

    # WHEN the role's session sends
    role("sqs").send_message(QueueUrl=url, MessageBody="hello")

    # THEN the message is there, and the record names the statement that allowed it
    assert aws("sqs").receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hello"
    assert iam_enforcement.decisions() == [
        Decision(
            principal=_principal("sender"),
            role_name="sender",
            action="sqs:SendMessage",
            resource=QUEUE_ARN_PREFIX + "orders",
            allowed=True,
            reason="allowed",
            statement=StatementRef("sender", "sender-inline", 1, "SendOrders"),
        )
    ]


def test_a_call_no_statement_allows_is_access_denied_naming_action_and_resource(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN a role that may only send to another queue
    url = aws("sqs").create_queue(QueueName="orders")["QueueUrl"]
    role = enforced.session(
        "sender",
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE_ARN_PREFIX + "other"},
    )

    # WHEN it receives from the queue
    with pytest.raises(ClientError) as raised:
        role("sqs").receive_message(QueueUrl=url)

    # THEN SQS answers AccessDenied with AWS's implicit-deny message
    code, message = _error(raised)
    assert code == "AccessDenied"
    assert message == (
        f"User: {_principal('sender')} is not authorized to perform: sqs:ReceiveMessage on "
        f"resource: {QUEUE_ARN_PREFIX}orders because no identity-based policy allows the "
        "sqs:ReceiveMessage action"
    )
    [decision] = iam_enforcement.decisions_json(denied_only=True)
    assert decision["allowed"] is False
    assert decision["statement"] is None


def test_an_explicit_deny_wins_over_an_allow(aws: Callable[[str], Any], enforced: Roles) -> None:
    # GIVEN a role allowed every SQS action, with a Deny on DeleteQueue
    url = aws("sqs").create_queue(QueueName="orders")["QueueUrl"]
    role = enforced.session(
        "careful",
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        {"Sid": "NeverDelete", "Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"},
    )

    # THEN other actions pass, and DeleteQueue is denied with the explicit-deny message
    role("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    with pytest.raises(ClientError) as raised:
        role("sqs").delete_queue(QueueUrl=url)
    code, message = _error(raised)
    assert code == "AccessDenied"
    assert message.endswith("with an explicit deny in an identity-based policy")
    assert "sqs:DeleteQueue" in message
    denial = iam_enforcement.decisions()[-1]
    assert denial.statement == StatementRef("careful", "careful-inline", 1, "NeverDelete")
    assert aws("sqs").get_queue_url(QueueName="orders")["QueueUrl"] == url


def test_not_action_allows_everything_but_the_named_actions(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN a table and a role allowed every DynamoDB action but DeleteItem on it
    aws("dynamodb").create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    role = enforced.session(
        "no-delete",
        {"Effect": "Allow", "NotAction": "dynamodb:Delete*", "Resource": TABLE_ARN_PREFIX + "*"},
    )
    table = role("dynamodb")

    # THEN PutItem and GetItem pass, DeleteItem is AccessDeniedException (DynamoDB's JSON error)
    table.put_item(TableName="orders", Item={"id": {"S": "1"}})
    assert table.get_item(TableName="orders", Key={"id": {"S": "1"}})["Item"]
    with pytest.raises(ClientError) as raised:
        table.delete_item(TableName="orders", Key={"id": {"S": "1"}})
    code, message = _error(raised)
    assert code == "AccessDeniedException"
    assert f"dynamodb:DeleteItem on resource: {TABLE_ARN_PREFIX}orders" in message


def test_resource_wildcards_match_as_iam_documents(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN queues whose names a "*" pattern does and does not match
    sqs = aws("sqs")
    dlq = sqs.create_queue(QueueName="orderflow-dev-payment-dlq")["QueueUrl"]
    source = sqs.create_queue(QueueName="orderflow-dev-payment")["QueueUrl"]
    other = sqs.create_queue(QueueName="orderflow-prod-payment-dlq")["QueueUrl"]
    role = enforced.session(
        "redrive",
        {
            "Effect": "Allow",
            "Action": "sqs:Receive*",
            "Resource": QUEUE_ARN_PREFIX + "orderflow-dev-*-dlq",
        },
    )

    # THEN only the stage's DLQ may be read
    role("sqs").receive_message(QueueUrl=dlq)
    for url in (source, other):
        with pytest.raises(ClientError, match="AccessDenied"):
            role("sqs").receive_message(QueueUrl=url)


def test_the_question_mark_wildcard_matches_a_secrets_six_character_suffix(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN a secret (its ARN ends in "-" and six random characters) and a role allowed
    # "<name>-??????", as the payment template grants its Stripe key
    secrets = aws("secretsmanager")
    secrets.create_secret(Name="stripe", SecretString="sk_test_1")
    secrets.create_secret(Name="stripe-admin", SecretString="sk_live_2")
    role = enforced.session(
        "payment",
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stripe-??????",
        },
    )

    # THEN that secret is readable by name, the longer name is not
    assert role("secretsmanager").get_secret_value(SecretId="stripe")["SecretString"]
    with pytest.raises(ClientError) as raised:
        role("secretsmanager").get_secret_value(SecretId="stripe-admin")
    assert _error(raised)[0] == "AccessDeniedException"
    assert ":secret:stripe-admin-" in _error(raised)[1]


def test_attached_managed_policies_allow_as_inline_ones_do(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN an SSM parameter and a role whose managed policy allows reading it
    aws("ssm").put_parameter(Name="/orderflow/dev/topic-arn", Value="arn", Type="String")
    role = enforced.session(
        "reader",
        managed=[
            {
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/orderflow/dev/*",
            }
        ],
    )

    # THEN it reads (the parameter ARN drops the name's leading slash) and the record names the
    # managed policy by its ARN
    assert role("ssm").get_parameter(Name="/orderflow/dev/topic-arn")["Parameter"]["Value"]
    [decision] = iam_enforcement.decisions()
    assert decision.resource == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/orderflow/dev/topic-arn"
    assert decision.statement is not None
    assert decision.statement.policy_name == f"arn:aws:iam::{ACCOUNT}:policy/reader-managed"


def test_a_query_on_an_index_is_authorized_on_the_index_arn(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    aws("dynamodb").create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "customer", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-customer",
                "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    role = enforced.session(
        "table-only",
        {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": TABLE_ARN_PREFIX + "orders"},
    )
    query = {
        "TableName": "orders",
        "KeyConditionExpression": "customer = :c",
        "ExpressionAttributeValues": {":c": {"S": "jane"}},
    }

    # THEN a statement on the table does not cover its index ("table/<t>/index/<i>")
    with pytest.raises(ClientError) as raised:
        role("dynamodb").query(IndexName="by-customer", **query)
    assert f"on resource: {TABLE_ARN_PREFIX}orders/index/by-customer" in _error(raised)[1]


# --- condition keys the templates use ---------------------------------------------------------


def _table(aws: Callable[[str], Any], name: str) -> None:
    aws("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_enclosing_operation_allows_writes_inside_transactions_only(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN the payment template's statement: PutItem only inside TransactWriteItems
    _table(aws, "payments")
    role = enforced.session(
        "payment",
        {
            "Sid": "RecordPaymentsInTransactions",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": TABLE_ARN_PREFIX + "payments",
            "Condition": {
                "ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}
            },
        },
    )
    dynamodb = role("dynamodb")

    # THEN a direct PutItem is denied, the same put inside a transaction is allowed
    with pytest.raises(ClientError, match="AccessDeniedException"):
        dynamodb.put_item(TableName="payments", Item={"id": {"S": "1"}})
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": "payments", "Item": {"id": {"S": "1"}}}}]
    )
    assert aws("dynamodb").get_item(TableName="payments", Key={"id": {"S": "1"}})["Item"]
    allowed = iam_enforcement.decisions()[-1]
    assert (allowed.action, allowed.allowed) == ("dynamodb:PutItem", True)


def test_a_transaction_needs_every_items_action_on_every_items_table(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN two tables and a role that may put into one only
    _table(aws, "events")
    _table(aws, "status")
    role = enforced.session(
        "analytics",
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE_ARN_PREFIX + "events"},
    )

    # WHEN a transaction also updates the other table
    with pytest.raises(ClientError) as raised:
        role("dynamodb").transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "events", "Item": {"id": {"S": "1"}}}},
                {
                    "Update": {
                        "TableName": "status",
                        "Key": {"id": {"S": "1"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "1"}},
                    }
                },
            ]
        )

    # THEN it is denied naming the missing item action, and nothing was written
    assert f"dynamodb:UpdateItem on resource: {TABLE_ARN_PREFIX}status" in _error(raised)[1]
    assert "Item" not in aws("dynamodb").get_item(TableName="events", Key={"id": {"S": "1"}})


@pytest.fixture
def sesv2(aws: Callable[[str], Any], installed: Callable[..., None]) -> Callable[[str], Any]:
    installed(sesv2_templates)
    ses = aws("ses")
    ses.verify_domain_identity(Domain="shop.example")
    ses.create_template(
        Template={"TemplateName": "receipt", "SubjectPart": "Receipt", "TextPart": "Thanks"}
    )
    return aws


def _send(sender: str, to: list[str], template: str = "receipt") -> dict[str, Any]:
    return {
        "FromEmailAddress": sender,
        "Destination": {"ToAddresses": to},
        "Content": {"Template": {"TemplateName": template, "TemplateData": "{}"}},
    }


def test_ses_from_address_pins_the_sender_on_a_domain_identity(
    sesv2: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN the notifications statement: SendEmail on the domain identity and the template,
    # with ses:FromAddress the sender's address
    identity = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/shop.example"
    template = f"arn:aws:ses:{REGION}:{ACCOUNT}:template/receipt"
    role = enforced.session(
        "notifications",
        {
            "Effect": "Allow",
            "Action": "ses:SendEmail",
            "Resource": [identity, template],
            "Condition": {"StringEquals": {"ses:FromAddress": "orders@shop.example"}},
        },
    )

    # THEN the sender may send; another address at the same verified domain may not
    role("sesv2").send_email(**_send("Shop <orders@shop.example>", ["jane@example.com"]))
    assert {d.resource for d in iam_enforcement.decisions()} == {identity, template}
    with pytest.raises(ClientError) as raised:
        role("sesv2").send_email(**_send("ceo@shop.example", ["jane@example.com"]))
    code, message = _error(raised)
    assert code == "AccessDeniedException"
    assert f"ses:SendEmail on resource: {identity}" in message


def test_a_template_the_role_does_not_name_is_denied(
    sesv2: Callable[[str], Any], enforced: Roles
) -> None:
    sesv2("ses").create_template(
        Template={"TemplateName": "other", "SubjectPart": "x", "TextPart": "y"}
    )
    role = enforced.session(
        "notifications",
        {
            "Effect": "Allow",
            "Action": "ses:SendEmail",
            "Resource": [
                f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/shop.example",
                f"arn:aws:ses:{REGION}:{ACCOUNT}:template/receipt",
            ],
        },
    )

    with pytest.raises(ClientError) as raised:
        role("sesv2").send_email(**_send("orders@shop.example", ["jane@example.com"], "other"))
    assert f"on resource: arn:aws:ses:{REGION}:{ACCOUNT}:template/other" in _error(raised)[1]


def test_for_all_values_string_like_limits_every_recipient(
    sesv2: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN the SES sandbox statement: every recipient at a listed domain
    role = enforced.session(
        "notifications",
        {
            "Effect": "Allow",
            "Action": "ses:SendEmail",
            "Resource": f"arn:aws:ses:{REGION}:{ACCOUNT}:*",
            "Condition": {"ForAllValues:StringLike": {"ses:Recipients": ["*@example.com"]}},
        },
    )

    role("sesv2").send_email(**_send("orders@shop.example", ["a@example.com", "b@example.com"]))
    with pytest.raises(ClientError, match="AccessDeniedException"):
        role("sesv2").send_email(**_send("orders@shop.example", ["a@example.com", "c@else.org"]))


def test_if_exists_null_and_negated_operators_on_missing_keys(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # "Condition operators": a missing key makes ...IfExists true, StringNotEquals true,
    # StringEquals false; Null "true" holds when the key is absent.
    url = aws("sqs").create_queue(QueueName="orders")["QueueUrl"]
    queue = QUEUE_ARN_PREFIX + "orders"
    role = enforced.session(
        "conditions",
        {
            "Sid": "IfExists",
            "Effect": "Allow",
            "Action": "sqs:GetQueueAttributes",
            "Resource": queue,
            "Condition": {"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*"}},
        },
        {
            "Sid": "SourceAbsent",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": queue,
            "Condition": {"Null": {"aws:SourceArn": "true"}},
        },
        {
            "Sid": "NeedsSource",
            "Effect": "Allow",
            "Action": "sqs:ReceiveMessage",
            "Resource": queue,
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        },
        {
            "Sid": "OtherAccountsOnly",
            "Effect": "Deny",
            "Action": "sqs:ChangeMessageVisibility",
            "Resource": queue,
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "999999999999"}},
        },
    )
    sqs = role("sqs")

    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sqs.send_message(QueueUrl=url, MessageBody="x")
    with pytest.raises(ClientError, match="no identity-based policy allows"):
        sqs.receive_message(QueueUrl=url)
    with pytest.raises(ClientError, match="explicit deny"):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="h", VisibilityTimeout=0)


def test_an_unknown_condition_key_is_denied_saying_the_emulator_could_not_decide(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    url = aws("sqs").create_queue(QueueName="orders")["QueueUrl"]
    role = enforced.session(
        "vpc",
        {
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceIp": "10.0.0.1"}},
        },
    )

    with pytest.raises(ClientError) as raised:
        role("sqs").send_message(QueueUrl=url, MessageBody="x")
    message = _error(raised)[1]
    assert "could not decide" in message
    assert "aws:sourceip" in message


def test_an_action_the_emulator_cannot_resolve_is_denied_never_allowed(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # A role allowed everything still gets no call the emulator cannot resolve (here S3,
    # whose authorization moto does its own way and this extension does not resolve).
    role = enforced.session("admin-like", {"Effect": "Allow", "Action": "*", "Resource": "*"})
    role("sqs").list_queues()
    with pytest.raises(ClientError) as raised:
        role("lambda").list_functions()
    assert "could not decide" in _error(raised)[1]


# --- resource policies at service deliveries --------------------------------------------------


def _subscribed_queue(aws: Callable[[str], Any], policy: dict[str, Any] | None) -> tuple[str, str]:
    topic = aws("sns").create_topic(Name="order-events")["TopicArn"]
    url = aws("sqs").create_queue(QueueName="payment")["QueueUrl"]
    if policy is not None:
        aws("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    aws("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=QUEUE_ARN_PREFIX + "payment")
    return topic, url


def _queue_policy(source_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OrderEventsTopicOnly",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": QUEUE_ARN_PREFIX + "payment",
                "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
            }
        ],
    }


def test_sns_delivers_to_a_queue_whose_policy_allows_the_topic(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:order-events"
    topic, url = _subscribed_queue(aws, _queue_policy(topic_arn))

    aws("sns").publish(TopicArn=topic, Message="order.created")

    assert len(aws("sqs").receive_message(QueueUrl=url).get("Messages", [])) == 1
    [decision] = iam_enforcement.decisions()
    assert decision.principal == "sns.amazonaws.com"
    assert decision.allowed
    assert decision.statement == StatementRef(
        "sns.amazonaws.com", QUEUE_ARN_PREFIX + "payment", 0, "OrderEventsTopicOnly"
    )


@pytest.mark.parametrize(
    "policy",
    [None, _queue_policy(f"arn:aws:sns:{REGION}:{ACCOUNT}:another-topic")],
    ids=["no-queue-policy", "policy-for-another-topic"],
)
def test_sns_drops_a_delivery_the_queue_policy_does_not_allow(
    aws: Callable[[str], Any], enforced: Roles, policy: dict[str, Any] | None
) -> None:
    topic, url = _subscribed_queue(aws, policy)

    aws("sns").publish(TopicArn=topic, Message="order.created")

    assert aws("sqs").receive_message(QueueUrl=url).get("Messages", []) == []
    [decision] = iam_enforcement.decisions_json(denied_only=True)
    assert decision["principal"] == "sns.amazonaws.com"
    assert decision["action"] == "sqs:SendMessage"
    assert decision["reason"] == "no resource-based policy allows the action"


def _paging_topic(aws: Callable[[str], Any], alarm_pattern: str) -> tuple[str, str]:
    topic = aws("sns").create_topic(Name="paging")["TopicArn"]
    aws("sns").set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=_policy(
            {
                "Sid": "StageAlarmsPage",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": alarm_pattern},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            }
        ),
    )
    url = aws("sqs").create_queue(QueueName="pages")["QueueUrl"]
    aws("sqs").set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": _policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": QUEUE_ARN_PREFIX + "pages",
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
                }
            )
        },
    )
    aws("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=QUEUE_ARN_PREFIX + "pages")
    return topic, url


def _alarm(aws: Callable[[str], Any], name: str, topic: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    aws("cloudwatch").put_metric_alarm(
        AlarmName=name,
        MetricName="depth",
        Namespace="orderflow",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic],
    )
    return cloudwatch_backends[ACCOUNT][REGION].alarms[name]


def test_an_alarm_pages_only_through_a_topic_policy_that_allows_cloudwatch(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # GIVEN the platform's paging topic policy: this stage's alarms only
    alarm_arns = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:orderflow-dev-*"
    topic, url = _paging_topic(aws, alarm_arns)
    stage_alarm = _alarm(aws, "orderflow-dev-payment-dlq-growth", topic)
    other_alarm = _alarm(aws, "orderflow-prod-payment-dlq-growth", topic)

    # WHEN both alarms' actions publish
    alarm_evaluation.publish_alarm_action(stage_alarm, topic, "ALARM", "ALARM: payment")
    alarm_evaluation.publish_alarm_action(other_alarm, topic, "ALARM", "ALARM: other")

    # THEN only the stage's alarm reaches the topic (and its subscriber)
    messages = aws("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["Subject"] for m in messages] == ["ALARM: payment"]
    denied = [d for d in iam_enforcement.decisions() if not d.allowed]
    assert [(d.principal, d.action, d.resource) for d in denied] == [
        ("cloudwatch.amazonaws.com", "sns:Publish", topic)
    ]


def test_a_same_account_resource_policy_for_the_role_allows_and_its_deny_wins(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # "Policy evaluation logic": within one account an Allow in either the identity-based or the
    # resource-based policy allows; an account principal only delegates to identity policies.
    topic = aws("sns").create_topic(Name="order-events")["TopicArn"]
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/publisher"
    aws("sns").set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=_policy(
            {
                "Sid": "AccountDelegates",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sns:GetTopicAttributes",
                "Resource": topic,
            },
            {
                "Sid": "PublisherPublishes",
                "Effect": "Allow",
                "Principal": {"AWS": role_arn},
                "Action": "sns:Publish",
                "Resource": topic,
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOtherAccounts",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Subscribe",
                "Resource": topic,
                "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
            },
        ),
    )
    role = enforced.session(
        "publisher", {"Effect": "Allow", "Action": "sns:Subscribe", "Resource": topic}
    )
    sns = role("sns")

    sns.publish(TopicArn=topic, Message="x")
    with pytest.raises(ClientError) as raised:
        sns.get_topic_attributes(TopicArn=topic)
    code, _ = _error(raised)
    assert code == "AuthorizationError"
    with pytest.raises(ClientError) as raised:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=QUEUE_ARN_PREFIX + "x")
    assert _error(raised)[1].endswith("with an explicit deny in a resource-based policy")


# --- administrators, recording only, uninstall ------------------------------------------------


def test_administrator_credentials_pass_and_are_not_recorded(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    url = aws("sqs").create_queue(QueueName="orders")["QueueUrl"]
    aws("sqs").send_message(QueueUrl=url, MessageBody="x")
    _table(aws, "orders")
    aws("dynamodb").put_item(TableName="orders", Item={"id": {"S": "1"}})

    assert iam_enforcement.decisions() == []


@pytest.fixture
def recording(aws: Callable[[str], Any]) -> Iterator[Roles]:
    iam_enforcement.install(enforce=False)
    iam_enforcement.clear_decisions()
    yield Roles(aws)
    iam_enforcement.uninstall()
    iam_enforcement.clear_decisions()


def test_recording_only_allows_what_it_records_as_denied(
    aws: Callable[[str], Any], recording: Roles
) -> None:
    url = aws("sqs").create_queue(QueueName="orders")["QueueUrl"]
    role = recording.session("nothing")

    role("sqs").send_message(QueueUrl=url, MessageBody="x")

    assert not iam_enforcement.enforcing()
    [decision] = iam_enforcement.decisions()
    assert (decision.action, decision.allowed) == ("sqs:SendMessage", False)
    assert aws("sqs").receive_message(QueueUrl=url)["Messages"]


def test_recording_only_still_delivers_what_a_queue_policy_would_drop(
    aws: Callable[[str], Any], recording: Roles
) -> None:
    topic, url = _subscribed_queue(aws, None)

    aws("sns").publish(TopicArn=topic, Message="order.created")

    assert len(aws("sqs").receive_message(QueueUrl=url)["Messages"]) == 1
    assert [d.allowed for d in iam_enforcement.decisions()] == [False]


def test_uninstall_gives_moto_back_its_own_authorization(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    url = aws("sqs").create_queue(QueueName="orders")["QueueUrl"]
    iam_enforcement.install()
    role = Roles(aws).session("nothing")
    with pytest.raises(ClientError, match="AccessDenied"):
        role("sqs").send_message(QueueUrl=url, MessageBody="x")

    iam_enforcement.uninstall()

    role("sqs").send_message(QueueUrl=url, MessageBody="x")
    assert not iam_enforcement.installed()


# --- the embedded AWS -------------------------------------------------------------------------


def _inspect(path: str, query: str = "", method: str = "GET") -> Any:
    app = server.inspection_app(lambda *_: [b""], server.EmulatedMinute(server.EmulatorClock()))
    status: list[str] = []
    body = app(
        {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method},
        lambda s, _h: status.append(s),
    )
    assert status == ["200 OK"]
    return json.loads(b"".join(body))


def test_the_embedded_aws_serves_and_clears_the_decisions(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    url = aws("sqs").create_queue(QueueName="orders")["QueueUrl"]
    role = enforced.session(
        "sender", {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}
    )
    role("sqs").send_message(QueueUrl=url, MessageBody="x")
    with pytest.raises(ClientError):
        role("sqs").receive_message(QueueUrl=url)

    every = _inspect("/_orderflow/iam-decisions")
    denied = _inspect("/_orderflow/iam-decisions", "denied=1")
    cleared = _inspect("/_orderflow/iam-decisions", method="DELETE")

    assert [d["action"] for d in every] == ["sqs:SendMessage", "sqs:ReceiveMessage"]
    assert every[0]["statement"] == {
        "role_name": "sender",
        "policy_name": "sender-inline",
        "index": 0,
        "sid": None,
    }
    assert [d["action"] for d in denied] == ["sqs:ReceiveMessage"]
    assert cleared == []
    assert iam_enforcement.decisions() == []


@pytest.mark.parametrize(
    ("mode", "installed_after", "enforce"),
    [("off", False, True), ("record", True, False), ("enforce", True, True)],
)
def test_the_server_installs_iam_enforcement_as_its_mode_asks(
    mode: str, installed_after: bool, enforce: bool
) -> None:
    server.install_iam(mode)
    try:
        assert iam_enforcement.installed() is installed_after
        assert iam_enforcement.enforcing() is enforce
    finally:
        iam_enforcement.uninstall()


def test_the_iam_mode_comes_from_the_environment_unless_the_option_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(server.IAM_ENV, raising=False)
    assert server.iam_mode_from_environment() == "off"
    monkeypatch.setenv(server.IAM_ENV, "Record")
    assert server.iam_mode_from_environment() == "record"
    with pytest.raises(ValueError, match="not one of"):
        server.install_iam("strict")
    with pytest.raises(ValueError, match="not one of"):
        server.EmbeddedAws(iam="strict")


# --- Step Functions under the state machine's role, EventBridge under the target's ------------


@pytest.fixture
def workflows(aws: Callable[[str], Any], installed: Callable[..., None], enforced: Roles) -> Roles:
    installed(stepfunctions_execution, eventbridge_targets)
    return enforced


def _finished(sfn: Any, machine_arn: str, count: int = 1) -> list[dict[str, Any]]:
    for _ in range(300):
        executions = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
        if len(executions) >= count and all(e["status"] != "RUNNING" for e in executions):
            return [sfn.describe_execution(executionArn=e["executionArn"]) for e in executions]
        time.sleep(0.02)
    raise AssertionError("executions did not finish")


def _machine(aws: Callable[[str], Any], role: str, queue_name: str) -> str:
    definition = {
        "StartAt": "FindQueue",
        "States": {
            "FindQueue": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueUrl",
                "Parameters": {"QueueName": queue_name},
                "End": True,
            }
        },
    }
    return str(
        aws("stepfunctions").create_state_machine(
            name=f"find-{queue_name}",
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
        )["stateMachineArn"]
    )


def test_a_workflow_calls_aws_with_its_state_machines_role(
    aws: Callable[[str], Any], workflows: Roles
) -> None:
    # "How Step Functions works with IAM": a task calls its service as the state machine's role.
    aws("sqs").create_queue(QueueName="orderflow-dev-payment-dlq")
    aws("sqs").create_queue(QueueName="orderflow-dev-secret")
    workflows.session(
        "workflow",
        {
            "Effect": "Allow",
            "Action": "sqs:GetQueueUrl",
            "Resource": QUEUE_ARN_PREFIX + "orderflow-dev-*-dlq",
        },
    )
    allowed = _machine(aws, "workflow", "orderflow-dev-payment-dlq")
    denied = _machine(aws, "workflow", "orderflow-dev-secret")
    sfn = aws("stepfunctions")

    sfn.start_execution(stateMachineArn=allowed)
    sfn.start_execution(stateMachineArn=denied)

    assert [e["status"] for e in _finished(sfn, allowed)] == ["SUCCEEDED"]
    [failed] = _finished(sfn, denied)
    assert failed["status"] == "FAILED"
    decisions = iam_enforcement.decisions()
    assert {d.principal for d in decisions} == {
        f"arn:aws:sts::{ACCOUNT}:assumed-role/workflow/{iam_enforcement.EXECUTION_SESSION_NAME}"
    }
    assert sorted((d.resource.rsplit(":", 1)[-1], d.allowed) for d in decisions) == [
        ("orderflow-dev-payment-dlq", True),
        ("orderflow-dev-secret", False),
    ]


def _rule(aws: Callable[[str], Any], machine: str, **target: Any) -> None:
    events = aws("events")
    events.put_rule(Name="alarms", EventPattern=json.dumps({"source": ["aws.cloudwatch"]}))
    events.put_targets(Rule="alarms", Targets=[{"Id": "wf", "Arn": machine, **target}])
    events.put_events(Entries=[{"Source": "aws.cloudwatch", "DetailType": "x", "Detail": "{}"}])


def _echo(aws: Callable[[str], Any]) -> str:
    return str(
        aws("stepfunctions").create_state_machine(
            name="echo",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/workflow",
        )["stateMachineArn"]
    )


def test_an_eventbridge_target_starts_a_workflow_its_role_may_start(
    aws: Callable[[str], Any], workflows: Roles
) -> None:
    machine = _echo(aws)
    workflows.session(
        "rule-role", {"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine}
    )

    _rule(aws, machine, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/rule-role")

    assert [e["status"] for e in _finished(aws("stepfunctions"), machine)] == ["SUCCEEDED"]
    [decision] = [d for d in iam_enforcement.decisions() if d.action == "states:StartExecution"]
    assert decision.allowed
    assert decision.role_name == "rule-role"


@pytest.mark.parametrize("role", [None, "powerless"])
def test_an_eventbridge_target_whose_role_may_not_start_the_workflow_starts_nothing(
    aws: Callable[[str], Any], workflows: Roles, role: str | None
) -> None:
    machine = _echo(aws)
    workflows.session("powerless")
    target = {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{role}"} if role else {}

    _rule(aws, machine, **target)

    assert aws("stepfunctions").list_executions(stateMachineArn=machine)["executions"] == []
    [decision] = iam_enforcement.decisions()
    assert (decision.action, decision.resource, decision.allowed) == (
        "states:StartExecution",
        machine,
        False,
    )


def test_the_embedded_aws_enforces_in_server_mode_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the embedded AWS in its own process with --iam enforce
    monkeypatch.delenv("MOTO_ACCOUNT_ID", raising=False)
    with server.EmbeddedAws(iam="enforce") as embedded:

        def admin(service: str) -> Any:
            return boto3.client(service, region_name=REGION, endpoint_url=embedded.endpoint_url)

        url = admin("sqs").create_queue(QueueName="orders")["QueueUrl"]
        admin("iam").create_role(RoleName="sender", AssumeRolePolicyDocument=json.dumps(TRUST))
        admin("iam").put_role_policy(
            RoleName="sender",
            PolicyName="send",
            PolicyDocument=_policy(
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE_ARN_PREFIX + "*"}
            ),
        )
        credentials = admin("sts").assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/sender", RoleSessionName="fn"
        )["Credentials"]
        role = boto3.client(
            "sqs",
            region_name=REGION,
            endpoint_url=embedded.endpoint_url,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

        # WHEN the role sends (allowed) and receives (not allowed)
        role.send_message(QueueUrl=url, MessageBody="x")
        with pytest.raises(ClientError) as raised:
            role.receive_message(QueueUrl=url)

        # THEN the denial is AWS's, and the embedded AWS serves both decisions
        assert _error(raised)[0] == "AccessDenied"
        assert [d["allowed"] for d in embedded.iam_decisions()] == [True, False]
        assert [d["action"] for d in embedded.iam_decisions(denied_only=True)] == [
            "sqs:ReceiveMessage"
        ]
        embedded.clear_iam_decisions()
        assert embedded.iam_decisions() == []


def test_log_streams_are_authorized_on_the_stream_arn_a_log_group_statement_covers(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # CloudWatch Logs authorizes CreateLogStream and PutLogEvents on
    # "log-group:<group>:log-stream:<stream>"; "log-group:<group>:*" (the group's
    # CloudFormation Arn) covers every stream of the group and no other group.
    logs = aws("logs")
    logs.create_log_group(logGroupName="/aws/lambda/payment")
    logs.create_log_group(logGroupName="/aws/lambda/other")
    role = enforced.session(
        "payment",
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/payment:*",
        },
    )

    role("logs").create_log_stream(logGroupName="/aws/lambda/payment", logStreamName="s")
    role("logs").put_log_events(
        logGroupName="/aws/lambda/payment",
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello"}],
    )
    with pytest.raises(ClientError) as raised:
        role("logs").create_log_stream(logGroupName="/aws/lambda/other", logStreamName="s")
    assert _error(raised)[0] == "AccessDeniedException"
    assert ":log-group:/aws/lambda/other:log-stream:s" in _error(raised)[1]


def test_actions_without_resource_types_are_authorized_on_star(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # X-Ray PutTraceSegments and CloudWatch PutMetricData have no resource types in the Service
    # Authorization Reference: only a statement on "*" allows them.
    segment = json.dumps(
        {
            "name": "fn",
            "id": "70de5b6f19ff9a0a",
            "trace_id": "1-581cf771-a006649127e371903a2de979",
            "start_time": 1.0,
            "end_time": 2.0,
        }
    )
    metric = {"Namespace": "orderflow", "MetricData": [{"MetricName": "m", "Value": 1.0}]}
    allowed = enforced.session(
        "traced",
        {
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "cloudwatch:PutMetricData"],
            "Resource": "*",
        },
    )
    narrow = enforced.session(
        "narrow",
        {
            "Effect": "Allow",
            "Action": "xray:PutTraceSegments",
            "Resource": f"arn:aws:xray:{REGION}:{ACCOUNT}:group/*",
        },
    )

    allowed("xray").put_trace_segments(TraceSegmentDocuments=[segment])
    allowed("cloudwatch").put_metric_data(**metric)
    with pytest.raises(ClientError) as raised:
        narrow("xray").put_trace_segments(TraceSegmentDocuments=[segment])
    assert _error(raised)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as raised:
        narrow("cloudwatch").put_metric_data(**metric)
    assert _error(raised)[0] == "AccessDenied"
    assert "cloudwatch:PutMetricData on resource: *" in _error(raised)[1]


def test_a_dlq_redrive_needs_read_and_delete_on_the_dlq_and_send_on_the_source(
    aws: Callable[[str], Any], enforced: Roles, installed: Callable[..., None]
) -> None:
    # "Configure queue permissions for dead-letter queue redrive" (SQS Developer Guide):
    # StartMessageMoveTask, ReceiveMessage, DeleteMessage, GetQueueAttributes on the DLQ and
    # SendMessage on the destination, by default the queues that dead-letter to it.
    installed(sqs_move_tasks)
    sqs = aws("sqs")
    sqs.create_queue(QueueName="orderflow-dev-payment-dlq")
    dlq = QUEUE_ARN_PREFIX + "orderflow-dev-payment-dlq"
    sqs.create_queue(
        QueueName="orderflow-dev-payment",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq, "maxReceiveCount": 3})
        },
    )
    on_dlq = {
        "Effect": "Allow",
        "Action": [
            "sqs:StartMessageMoveTask",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ],
        "Resource": QUEUE_ARN_PREFIX + "orderflow-dev-*-dlq",
    }
    send_back = {
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": QUEUE_ARN_PREFIX + "orderflow-dev-*",
    }
    without_send = enforced.session("no-send", on_dlq)
    workflow = enforced.session("workflow", on_dlq, send_back)

    with pytest.raises(ClientError) as raised:
        without_send("sqs").start_message_move_task(SourceArn=dlq)
    assert (
        f"sqs:SendMessage on resource: {QUEUE_ARN_PREFIX}orderflow-dev-payment "
        in (_error(raised)[1])
    )
    assert workflow("sqs").start_message_move_task(SourceArn=dlq)["TaskHandle"]


def test_publishing_to_a_topic_encrypted_with_a_customer_key_needs_the_key(
    aws: Callable[[str], Any], enforced: Roles
) -> None:
    # "Managing Amazon SNS encryption keys" (SNS Developer Guide): a publisher to a topic with a
    # customer managed key needs kms:GenerateDataKey and kms:Decrypt on it; alias/aws/sns none.
    key_arn = aws("kms").create_key()["KeyMetadata"]["Arn"]
    sns = aws("sns")
    paging = sns.create_topic(Name="paging", Attributes={"KmsMasterKeyId": key_arn})["TopicArn"]
    events = sns.create_topic(Name="events", Attributes={"KmsMasterKeyId": "alias/aws/sns"})[
        "TopicArn"
    ]
    publish = {"Effect": "Allow", "Action": "sns:Publish", "Resource": [paging, events]}
    publisher = enforced.session("publisher", publish)
    pager = enforced.session(
        "pager",
        publish,
        {
            "Sid": "EncryptPages",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": key_arn,
        },
    )

    publisher("sns").publish(TopicArn=events, Message="x")
    with pytest.raises(ClientError) as raised:
        publisher("sns").publish(TopicArn=paging, Message="x")
    assert f"kms:GenerateDataKey on resource: {key_arn}" in _error(raised)[1]
    pager("sns").publish(TopicArn=paging, Message="x")
    used = {d.statement.sid for d in iam_enforcement.decisions() if d.allowed and d.statement}
    assert "EncryptPages" in used


@pytest.mark.parametrize("cloudwatch_may_use_the_key", [True, False])
def test_an_alarm_pages_an_encrypted_topic_only_if_the_key_policy_lets_cloudwatch_use_it(
    aws: Callable[[str], Any], enforced: Roles, cloudwatch_may_use_the_key: bool
) -> None:
    # CloudWatch publishes to a topic with a customer managed key only if the key policy allows
    # cloudwatch.amazonaws.com kms:GenerateDataKey* and kms:Decrypt ("Enable compatibility
    # between event sources from AWS services and encrypted topics", SNS Developer Guide).
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if cloudwatch_may_use_the_key:
        statements.append(
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        )
    key = aws("kms").create_key(Policy=_policy(*statements))["KeyMetadata"]["Arn"]
    topic, url = _paging_topic(aws, f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*")
    aws("sns").set_topic_attributes(
        TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue=key
    )
    alarm = _alarm(aws, "orderflow-dev-payment-dlq-growth", topic)

    alarm_evaluation.publish_alarm_action(alarm, topic, "ALARM", "ALARM: payment")

    delivered = aws("sqs").receive_message(QueueUrl=url).get("Messages", [])
    assert len(delivered) == (1 if cloudwatch_may_use_the_key else 0)
    on_key = [d for d in iam_enforcement.decisions() if d.resource == key]
    assert {d.action for d in on_key} == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert all(d.allowed is cloudwatch_may_use_the_key for d in on_key)


def test_the_latest_hundred_thousand_decisions_are_kept_oldest_first() -> None:
    # GIVEN more decisions than are kept
    iam_enforcement.clear_decisions()
    kept = iam_enforcement._MAX_DECISIONS
    try:
        for number in range(kept + 5):
            iam_enforcement._record(
                Decision(
                    principal="arn:aws:sts::123456789012:assumed-role/r/s",
                    role_name="r",
                    action="sqs:SendMessage",
                    resource=f"arn:aws:sqs:us-east-1:123456789012:q{number}",
                    allowed=True,
                    reason="allowed",
                    statement=None,
                )
            )

        # THEN the first five are gone and the rest are there, in the order they were made
        recorded = iam_enforcement.decisions()
        assert len(recorded) == kept
        assert recorded[0].resource.endswith(":q5")
        assert recorded[-1].resource.endswith(f":q{kept + 4}")
    finally:
        iam_enforcement.clear_decisions()
