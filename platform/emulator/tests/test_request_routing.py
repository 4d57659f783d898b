"""Each request reaches the same service as with moto's routing, without a scan per request."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from moto import backends
from moto.core import responses
from moto.core.base_backend import BackendDict
from moto.core.utils import method_names_from_class
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import sqs_backends

from orderflow.emulator import request_routing

HOSTS = [
    "sqs.us-east-1.amazonaws.com",
    "sns.us-east-1.amazonaws.com",
    "dynamodb.us-east-1.amazonaws.com",
    "monitoring.us-east-1.amazonaws.com",
    "states.us-east-1.amazonaws.com",
    "email.us-east-1.amazonaws.com",
    "xray.us-east-1.amazonaws.com",
    "sts.amazonaws.com",
    "iam.amazonaws.com",
    "cloudformation.eu-west-1.amazonaws.com",
    "s3",
    "moto_api",
    None,
]


@pytest.fixture
def dispatcher() -> DomainDispatcherApplication:
    return DomainDispatcherApplication(create_backend_app)


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts moto's directory scans (``list_of_moto_modules``) while the test runs."""
    counted = [0]
    scan = backends.list_of_moto_modules

    def counting() -> object:
        counted[0] += 1
        return scan()

    monkeypatch.setattr(backends, "list_of_moto_modules", counting)
    return counted


def test_every_host_reaches_the_backend_moto_routes_it_to(
    dispatcher: DomainDispatcherApplication,
) -> None:
    plain = {host: dispatcher.get_backend_for_host(host) for host in HOSTS}
    request_routing.install()
    try:
        assert {host: dispatcher.get_backend_for_host(host) for host in HOSTS} == plain
    finally:
        request_routing.uninstall()
    assert plain["sqs.us-east-1.amazonaws.com"] == "sqs"
    assert plain["monitoring.us-east-1.amazonaws.com"] == "cloudwatch"


def test_a_host_is_routed_once_however_many_requests_name_it(
    dispatcher: DomainDispatcherApplication, scans: list[int]
) -> None:
    request_routing.install()
    try:
        for _ in range(50):
            assert dispatcher.get_backend_for_host("sqs.us-east-1.amazonaws.com") == "sqs"
            assert dispatcher.get_backend_for_host("sns.us-east-1.amazonaws.com") == "sns"
    finally:
        request_routing.uninstall()
    assert scans[0] == 2


def test_without_the_extension_every_request_scans_moto_again(
    dispatcher: DomainDispatcherApplication, scans: list[int]
) -> None:
    for _ in range(5):
        dispatcher.get_backend_for_host("sqs.us-east-1.amazonaws.com")
    assert scans[0] == 5


def test_an_account_backend_is_the_same_object_and_reset_still_empties_it() -> None:
    plain = sqs_backends["111122223333"]
    request_routing.install()
    try:
        assert sqs_backends["111122223333"] is plain
        assert sqs_backends["111122223333"]["us-east-1"] is plain["us-east-1"]
        plain["us-east-1"].create_queue("kept-until-reset")
        BackendDict.reset()
        again = sqs_backends["111122223333"]
        assert again is not plain
        assert any(registered is sqs_backends for registered in BackendDict._instances)
        assert again["us-east-1"].list_queues(None) == []
    finally:
        request_routing.uninstall()


def _response_classes() -> list[type]:
    from moto.core.responses import BaseResponse  # noqa: PLC0415

    for name in ("sqs", "sns", "dynamodb", "sesv2", "stepfunctions", "cloudwatch", "xray", "iam"):
        importlib.import_module(f"moto.{name}.responses")
    found: list[type] = []
    pending: list[type] = [BaseResponse]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_an_action_is_a_method_exactly_when_moto_lists_it() -> None:
    classes = _response_classes()
    listed = {cls: set(method_names_from_class(cls)) for cls in classes}
    request_routing.install()
    try:
        for cls in classes:
            names = responses.method_names_from_class(cls)
            candidates = {name for klass in cls.__mro__ for name in vars(klass)}
            asked = candidates | {"not_an_action", "", "send_message", "query", "update_item"}
            assert {name for name in asked if name in names} == listed[cls], cls
    finally:
        request_routing.uninstall()
    assert len(classes) > 8
    assert responses.method_names_from_class is method_names_from_class


def test_a_method_added_to_a_response_class_later_is_an_action(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.sqs.responses import SQSResponse  # noqa: PLC0415

    request_routing.install()
    try:
        assert "list_everything" not in responses.method_names_from_class(SQSResponse)
        monkeypatch.setattr(SQSResponse, "list_everything", lambda self: "", raising=False)
        assert "list_everything" in responses.method_names_from_class(SQSResponse)
        monkeypatch.undo()
        assert "list_everything" not in responses.method_names_from_class(SQSResponse)
    finally:
        request_routing.uninstall()


def test_calls_reach_their_actions(
    installed: Callable[..., None], aws: Callable[[str], Any]
) -> None:
    installed(request_routing)
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="routed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [message["Body"] for message in got] == ["one"]
