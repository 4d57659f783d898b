"""Each request reaches the same service as with moto's routing, without a scan per request."""

from __future__ import annotations

import pytest
from moto import backends
from moto.core.base_backend import BackendDict
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
