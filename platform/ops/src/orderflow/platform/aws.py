"""The one place the platform tools build AWS clients and turn AWS failures into typed errors.

Every command talks either to AWS (default credential chain, ``--region``) or to an emulator
(``--endpoint-url``, or the ``AWS_ENDPOINT_URL`` botocore reads itself). Failures that are about
reaching AWS at all (no credentials, no region, nothing listening at the endpoint) become one
typed error with a one-line message the CLI prints as is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from orderflow.platform.errors import PlatformError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient
    from mypy_boto3_xray import XRayClient

_REJECTED_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
    }
)


class AwsAccessError(PlatformError):
    """AWS (or the emulator) could not be used at all, or refused a request."""


class CredentialsError(AwsAccessError):
    """No usable AWS credentials: none found, or AWS rejected them."""


class RegionMissingError(AwsAccessError):
    """No region configured and none given."""


class EndpointUnreachableError(AwsAccessError):
    """Nothing answered at the AWS or emulator endpoint."""


class AwsRequestError(AwsAccessError):
    """AWS answered a request with an error."""


class AwsClients:
    """Builds (once each) the boto3 clients the platform tools use, for one endpoint and region."""

    def __init__(
        self, endpoint_url: str | None = None, region: str | None = None, session: Any = None
    ) -> None:
        self.endpoint_url = endpoint_url or None
        self.region = region or None
        self._session = session
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3  # noqa: PLC0415  (deferred: `orderflow --help` needs no boto3)
            from botocore.config import Config  # noqa: PLC0415

            session = self._session or boto3.session.Session()
            # Standard retries; AWS_MAX_ATTEMPTS still applies, so tests and scripts can fail fast.
            config = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=30)
            with translated_errors(self.endpoint_url):
                self._clients[service] = session.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    config=config,
                )
        return self._clients[service]

    def sqs(self) -> SQSClient:
        """The SQS client."""
        return cast("SQSClient", self._client("sqs"))

    def sns(self) -> SNSClient:
        """The SNS client."""
        return cast("SNSClient", self._client("sns"))

    def cloudwatch(self) -> CloudWatchClient:
        """The CloudWatch client."""
        return cast("CloudWatchClient", self._client("cloudwatch"))

    def ssm(self) -> SSMClient:
        """The SSM client."""
        return cast("SSMClient", self._client("ssm"))

    def sts(self) -> STSClient:
        """The STS client."""
        return cast("STSClient", self._client("sts"))

    def dynamodb(self) -> DynamoDBClient:
        """The DynamoDB client."""
        return cast("DynamoDBClient", self._client("dynamodb"))

    def stepfunctions(self) -> SFNClient:
        """The Step Functions client."""
        return cast("SFNClient", self._client("stepfunctions"))

    def xray(self) -> XRayClient:
        """The X-Ray client."""
        return cast("XRayClient", self._client("xray"))

    def region_name(self) -> str:
        """The region the clients talk to."""
        return str(self.sqs().meta.region_name)

    def caller_account(self) -> str:
        """The account of the current credentials (STS GetCallerIdentity); proves they work."""
        with translated_errors(self.endpoint_url):
            return self.sts().get_caller_identity()["Account"]


def translate(error: BaseException, endpoint_url: str | None = None) -> AwsAccessError | None:
    """The typed error for a botocore failure, or None if ``error`` is not one."""
    from botocore import exceptions as bc  # noqa: PLC0415

    if isinstance(error, bc.ClientError):
        return _client_error(error)
    where = f"the endpoint {endpoint_url}" if endpoint_url else "AWS"
    known: list[tuple[tuple[type[Exception], ...], AwsAccessError]] = [
        (
            (bc.NoCredentialsError, bc.PartialCredentialsError),
            CredentialsError(
                "no AWS credentials found: configure a profile or set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY"
            ),
        ),
        (
            (bc.CredentialRetrievalError, bc.TokenRetrievalError),
            CredentialsError(f"AWS credentials could not be loaded: {_one_line(error)}"),
        ),
        ((bc.NoRegionError,), RegionMissingError("no AWS region: pass --region or set AWS_REGION")),
        (
            (bc.EndpointConnectionError, bc.ConnectTimeoutError),
            EndpointUnreachableError(f"cannot reach {where}: nothing answered"),
        ),
        (
            (bc.ConnectionClosedError, bc.ReadTimeoutError),
            EndpointUnreachableError(f"cannot reach {where}: the connection dropped"),
        ),
        ((bc.BotoCoreError,), AwsAccessError(_one_line(error))),
    ]
    return next((typed for kinds, typed in known if isinstance(error, kinds)), None)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _client_error(error: Any) -> AwsAccessError:
    info = error.response.get("Error", {})
    code = str(info.get("Code", "Unknown"))
    message = " ".join(str(info.get("Message", "")).split())
    if code in _REJECTED_CREDENTIALS:
        return CredentialsError(f"AWS rejected the credentials ({code}): {message}")
    operation = getattr(error, "operation_name", "request")
    return AwsRequestError(f"{operation} failed: {code}: {message}")


@contextlib.contextmanager
def translated_errors(endpoint_url: str | None = None) -> Iterator[None]:
    """Re-raise botocore failures inside the block as typed :class:`AwsAccessError`."""
    try:
        yield
    except Exception as error:
        typed = translate(error, endpoint_url)
        if typed is None:
            raise
        raise typed from error
