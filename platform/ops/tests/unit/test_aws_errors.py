"""Failures reaching AWS become one typed, one-line error each."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from orderflow.platform.aws import (
    AwsRequestError,
    CredentialsError,
    EndpointUnreachableError,
    RegionMissingError,
    translate,
    translated_errors,
)


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "ListQueues")


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (NoCredentialsError(), CredentialsError, "no AWS credentials found"),
        (NoRegionError(), RegionMissingError, "pass --region"),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
            EndpointUnreachableError,
            "cannot reach the endpoint http://127.0.0.1:5000: nothing answered",
        ),
        (
            ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
            EndpointUnreachableError,
            "the connection dropped",
        ),
        (
            client_error("ExpiredToken", "The security token\nhas expired"),
            CredentialsError,
            "AWS rejected the credentials (ExpiredToken): The security token has expired",
        ),
        (
            client_error("AccessDenied", "not allowed"),
            AwsRequestError,
            "ListQueues failed: AccessDenied: not allowed",
        ),
    ],
)
def test_each_failure_has_its_typed_one_line_error(
    error: Exception, kind: type[Exception], text: str
) -> None:
    typed = translate(error, "http://127.0.0.1:5000")
    assert isinstance(typed, kind)
    assert text in str(typed)
    assert "\n" not in str(typed)


def test_anything_else_is_left_alone() -> None:
    assert translate(ValueError("a bug")) is None
    with pytest.raises(ValueError, match="a bug"), translated_errors():
        raise ValueError("a bug")


def test_the_block_reraises_typed() -> None:
    with pytest.raises(CredentialsError), translated_errors():
        raise NoCredentialsError
