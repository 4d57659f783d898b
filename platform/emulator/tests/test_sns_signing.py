"""SNS notifications signed with one certificate per region, each with its own signature.

AWS: "HTTP/HTTPS notification JSON format"
(https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html), whose examples of a
subscription confirmation, a notification and an unsubscribe confirmation name the same
``SigningCertURL``, and "Verifying the signatures of Amazon SNS messages"
(https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html): fetch the
certificate at ``SigningCertURL`` and check ``Signature`` (SHA256withRSA for ``SignatureVersion``
2) over the message's fields with its public key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import load_pem_x509_certificate
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from orderflow.emulator import sns_signing

from .conftest import ACCOUNT, REGION


def _subscribed_queues(sns: Any, sqs: Any, topic_arn: str, count: int, region: str) -> list[str]:
    urls = []
    for index in range(count):
        url = sqs.create_queue(QueueName=f"subscriber-{index}")["QueueUrl"]
        endpoint = f"arn:aws:sqs:{region}:{ACCOUNT}:subscriber-{index}"
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=endpoint)
        urls.append(url)
    return urls


def _notifications(sqs: Any, url: str) -> list[dict[str, Any]]:
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    return [json.loads(m["Body"]) for m in received]


def _verify(notification: dict[str, Any]) -> None:
    """Verify as a subscriber does: fetch the certificate, check the signature (raises if bad)."""
    pem = requests.get(notification["SigningCertURL"], timeout=10).content
    public_key: Any = load_pem_x509_certificate(pem).public_key()
    assert notification["SignatureVersion"] == "2"
    text = sns_signing.string_to_sign(
        notification["Message"],
        notification["MessageId"],
        notification["Timestamp"],
        notification["TopicArn"],
    )
    public_key.verify(
        base64.b64decode(notification["Signature"]),
        text.encode("utf-8"),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


@pytest.fixture
def clients(aws: Callable[[str], Any], installed: Callable[..., None]) -> tuple[Any, Any]:
    installed(sns_signing)
    return aws("sns"), aws("sqs")


def test_every_notification_of_a_region_names_one_certificate_that_verifies_it(
    clients: tuple[Any, Any],
) -> None:
    sns, sqs = clients
    # GIVEN a topic with three SQS subscribers
    topic_arn = sns.create_topic(Name="orders")["TopicArn"]
    urls = _subscribed_queues(sns, sqs, topic_arn, 3, REGION)
    # WHEN two messages are published
    published = [sns.publish(TopicArn=topic_arn, Message=body)["MessageId"] for body in "ab"]
    notifications = [n for url in urls for n in _notifications(sqs, url)]
    # THEN each subscriber got both, all six name the same certificate of the region
    assert sorted(n["MessageId"] for n in notifications) == sorted(published * 3)
    assert {n["SigningCertURL"] for n in notifications} == {
        sns_signing.signing_certificate(REGION).url
    }
    assert notifications[0]["SigningCertURL"].startswith(f"https://sns.{REGION}.amazonaws.com/")
    # AND each is signed on its own, and the certificate at that URL verifies every one
    signatures = {b: {n["Signature"] for n in notifications if n["Message"] == b} for b in "ab"}
    assert not signatures["a"] & signatures["b"]
    for notification in notifications:
        _verify(notification)


def test_a_tampered_notification_does_not_verify(clients: tuple[Any, Any]) -> None:
    sns, sqs = clients
    topic_arn = sns.create_topic(Name="orders")["TopicArn"]
    (url,) = _subscribed_queues(sns, sqs, topic_arn, 1, REGION)
    sns.publish(TopicArn=topic_arn, Message='{"amount": "10.00"}')
    (notification,) = _notifications(sqs, url)
    # WHEN the message is changed after signing, THEN the signature check fails
    with pytest.raises(InvalidSignature):
        _verify({**notification, "Message": '{"amount": "99.00"}'})


def test_the_served_certificates_do_not_grow_with_deliveries(clients: tuple[Any, Any]) -> None:
    sns, sqs = clients
    topic_arn = sns.create_topic(Name="orders")["TopicArn"]
    _subscribed_queues(sns, sqs, topic_arn, 4, REGION)
    # WHEN 25 messages fan out to 4 queues (100 deliveries)
    for number in range(25):
        sns.publish(TopicArn=topic_arn, Message=f"order {number}")
    # THEN one certificate is kept for the region, not one per delivery
    served = sns_backends[DEFAULT_ACCOUNT_ID][REGION]._message_public_keys
    assert list(served) == [sns_signing.signing_certificate(REGION).name]


def test_each_region_has_its_own_certificate(clients: tuple[Any, Any]) -> None:
    sns, sqs = clients
    other = "eu-west-1"
    sns_other = boto3.client("sns", region_name=other)
    sqs_other = boto3.client("sqs", region_name=other)
    urls = {}
    for region, topic_client, queue_client in ((REGION, sns, sqs), (other, sns_other, sqs_other)):
        topic_arn = topic_client.create_topic(Name="orders")["TopicArn"]
        (url,) = _subscribed_queues(topic_client, queue_client, topic_arn, 1, region)
        topic_client.publish(TopicArn=topic_arn, Message="hello")
        (notification,) = _notifications(queue_client, url)
        _verify(notification)
        urls[region] = notification["SigningCertURL"]
    assert urls[other].startswith(f"https://sns.{other}.amazonaws.com/")
    assert urls[REGION] != urls[other]


def test_the_certificate_is_served_again_after_moto_is_reset(
    installed: Callable[..., None],
) -> None:
    installed(sns_signing)
    for _ in range(2):
        # GIVEN a fresh moto (a new mock empties every backend), WHEN a message is delivered
        with mock_aws():
            sns = boto3.client("sns", region_name=REGION)
            sqs = boto3.client("sqs", region_name=REGION)
            topic_arn = sns.create_topic(Name="orders")["TopicArn"]
            (url,) = _subscribed_queues(sns, sqs, topic_arn, 1, REGION)
            sns.publish(TopicArn=topic_arn, Message="hello")
            (notification,) = _notifications(sqs, url)
            # THEN its certificate can be fetched and verifies it
            _verify(notification)


def test_the_unsubscribe_url_names_the_subscription_in_its_region(
    clients: tuple[Any, Any],
) -> None:
    sns, sqs = clients
    topic_arn = sns.create_topic(Name="orders")["TopicArn"]
    (url,) = _subscribed_queues(sns, sqs, topic_arn, 1, REGION)
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    sns.publish(TopicArn=topic_arn, Message="hello", Subject="greeting")
    (notification,) = _notifications(sqs, url)
    assert notification["Subject"] == "greeting"
    assert notification["UnsubscribeURL"] == (
        f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe"
        f"&SubscriptionArn={subscription['SubscriptionArn']}"
    )
