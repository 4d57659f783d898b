"""CloudFormation types moto skips: created for real, as the CloudFormation reference says."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orderflow.emulator import cfn_resources

QUEUE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
        }
    ],
}


def fan_out_template(raw: str = "false") -> dict[str, Any]:
    return {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "orders"}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "payment"}},
            "Subscription": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": "Topic"},
                    "Protocol": "sqs",
                    "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]},
                    "RawMessageDelivery": raw,
                    "FilterPolicyScope": "MessageAttributes",
                    "FilterPolicy": {"event_type": ["order.created"]},
                },
            },
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": QUEUE_POLICY},
            },
            "TopicPolicy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {
                    "Topics": [{"Ref": "Topic"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "OnlyThisAccount",
                                "Effect": "Allow",
                                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                "Action": "sns:Publish",
                                "Resource": {"Ref": "Topic"},
                            }
                        ],
                    },
                },
            },
            "DepthAlarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": "payment-depth",
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [{"Name": "QueueName", "Value": "payment"}],
                    "Statistic": "Maximum",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                    "Threshold": 0,
                    "ComparisonOperator": "GreaterThanThreshold",
                    "AlarmActions": [{"Ref": "Topic"}],
                },
            },
        },
        "Outputs": {
            "SubscriptionArn": {"Value": {"Ref": "Subscription"}},
            "AlarmArn": {"Value": {"Fn::GetAtt": ["DepthAlarm", "Arn"]}},
        },
    }


def publish(sns: Any, topic_arn: str, event_type: str, body: str) -> None:
    sns.publish(
        TopicArn=topic_arn,
        Message=body,
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
    )


def bodies(sqs: Any, queue_url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [m["Body"] for m in messages.get("Messages", [])]


def test_the_subscription_delivers_only_what_its_template_filter_policy_matches(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    # GIVEN a stack whose subscription filters on event_type = order.created
    installed(cfn_resources)
    aws("cloudformation").create_stack(StackName="s", TemplateBody=json.dumps(fan_out_template()))
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.list_topics()["Topics"][0]["TopicArn"]
    # WHEN one matching and one other event are published
    publish(sns, topic, "order.created", "wanted")
    publish(sns, topic, "order.shipped", "unwanted")
    # THEN only the matching one arrives, SNS-wrapped (raw delivery "false" means off)
    received = bodies(sqs, sqs.get_queue_url(QueueName="payment")["QueueUrl"])
    assert [json.loads(b)["Message"] for b in received] == ["wanted"]


def test_raw_message_delivery_true_delivers_the_bare_message(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    installed(cfn_resources)
    template = json.dumps(fan_out_template(raw="true"))
    aws("cloudformation").create_stack(StackName="s", TemplateBody=template)
    sns, sqs = aws("sns"), aws("sqs")
    publish(sns, sns.list_topics()["Topics"][0]["TopicArn"], "order.created", "bare")
    assert bodies(sqs, sqs.get_queue_url(QueueName="payment")["QueueUrl"]) == ["bare"]


def test_policies_alarm_and_refs_are_what_the_template_says(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    installed(cfn_resources)
    cloudformation, sqs, sns = aws("cloudformation"), aws("sqs"), aws("sns")
    cloudformation.create_stack(StackName="s", TemplateBody=json.dumps(fan_out_template()))
    queue_url = sqs.get_queue_url(QueueName="payment")["QueueUrl"]
    topic = sns.list_topics()["Topics"][0]["TopicArn"]

    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"][
            "Policy"
        ]
    )
    assert policy["Statement"][0]["Resource"] == "arn:aws:sqs:us-east-1:123456789012:payment"
    topic_policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert [s["Sid"] for s in topic_policy["Statement"]] == ["OnlyThisAccount"]
    alarm = aws("cloudwatch").describe_alarms(AlarmNames=["payment-depth"])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == [topic]
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName="s")["Stacks"][0]["Outputs"]
    }
    assert outputs["SubscriptionArn"].startswith(f"{topic}:")
    assert outputs["AlarmArn"] == alarm["AlarmArn"]


def test_deleting_the_stack_removes_what_it_created(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    installed(cfn_resources)
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(StackName="s", TemplateBody=json.dumps(fan_out_template()))
    cloudformation.delete_stack(StackName="s")
    assert aws("sns").list_subscriptions()["Subscriptions"] == []
    assert aws("cloudwatch").describe_alarms()["MetricAlarms"] == []


def test_ses_templates_and_a_verified_sender_come_from_the_stack(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    installed(cfn_resources)
    template = {
        "Resources": {
            "Sender": {
                "Type": "AWS::SES::EmailIdentity",
                "Properties": {"EmailIdentity": "orders@shop.example"},
            },
            "Confirmation": {
                "Type": "AWS::SES::Template",
                "Properties": {
                    "Template": {
                        "TemplateName": "order-confirmation",
                        "SubjectPart": "Order {{order_id}} confirmed",
                        "TextPart": "Thanks for order {{order_id}}",
                    }
                },
            },
        }
    }
    aws("cloudformation").create_stack(StackName="mail", TemplateBody=json.dumps(template))
    ses = aws("ses")
    assert ses.get_template(TemplateName="order-confirmation")["Template"]["SubjectPart"] == (
        "Order {{order_id}} confirmed"
    )
    assert ses.list_identities()["Identities"] == ["orders@shop.example"]


def test_a_passed_ssm_parameter_value_wins_over_a_default_path_that_does_not_exist(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    # GIVEN a template whose SSM-typed parameter defaults to another stage's path
    installed(cfn_resources)
    aws("ssm").put_parameter(Name="/orderflow/local/topic", Value="the-local-topic", Type="String")
    template = {
        "Parameters": {
            "TopicArn": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/orderflow/dev/topic",
            }
        },
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}}},
        "Outputs": {"Topic": {"Value": {"Ref": "TopicArn"}}},
    }
    # WHEN the stack passes the local path
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName="s",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "TopicArn", "ParameterValue": "/orderflow/local/topic"}],
    )
    # THEN CloudFormation resolved the passed path, and never the default
    stack = cloudformation.describe_stacks(StackName="s")["Stacks"][0]
    assert stack["Outputs"][0]["OutputValue"] == "the-local-topic"


def test_uninstalled_moto_skips_the_subscription_again(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    installed(cfn_resources)
    cfn_resources.uninstall()
    template = fan_out_template()
    del template["Outputs"]  # moto rejects outputs of types it does not know
    aws("cloudformation").create_stack(StackName="s", TemplateBody=json.dumps(template))
    assert aws("sns").list_subscriptions()["Subscriptions"] == []


YAML_QUEUE_POLICY = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: payment
  Policy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Version: 2012-10-17
        Statement:
          - Effect: Allow
            Principal: {Service: sns.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt Queue.Arn
"""


def test_a_yaml_policy_with_an_unquoted_version_date_is_applied_as_written(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    """IAM's policy ``Version`` is the string "2012-10-17" (IAM User Guide, "IAM JSON policy
    elements: Version", https://docs.aws.amazon.com/IAM/latest/UserGuide/
    reference_policies_elements_version.html); YAML templates commonly leave it unquoted."""
    installed(cfn_resources)
    aws("cloudformation").create_stack(StackName="s", TemplateBody=YAML_QUEUE_POLICY)
    sqs = aws("sqs")
    queue_url = sqs.get_queue_url(QueueName="payment")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])
    assert json.loads(attributes["Attributes"]["Policy"])["Version"] == "2012-10-17"
