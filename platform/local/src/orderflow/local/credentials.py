"""Each function runs with temporary credentials of its own execution role, as on Lambda.

Lambda assumes a function's execution role (the function's ``Role``) and hands the execution
environment the session's credentials as ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
``AWS_SESSION_TOKEN`` ("Defined runtime environment variables",
https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime;
"Defining Lambda function permissions with an execution role",
https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html). The event source
mapping polls and deletes with the same role ("Lambda uses the execution role to read from the
queue": https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-permissions).

Here the function's worker plays the Lambda service: with the administrator's (test)
credentials it calls STS ``AssumeRole`` on the embedded AWS for the role's ARN, with the
function's name as the session name (so the caller is
``arn:aws:sts::<account>:assumed-role/<role>/<function>``), and renews the session before it
expires. AssumeRole's default and the default ``MaxSessionDuration`` of a role is one hour
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

SESSION_SECONDS = 3600
"""AssumeRole's default DurationSeconds, and a role's default MaxSessionDuration."""
RENEW_BEFORE_SECONDS = 900.0
"""A session is renewed once it has less than this left (real seconds): botocore's own
advisory refresh margin for refreshable credentials, so both renew at the same moment."""


@dataclass(frozen=True)
class RoleCredentials:
    """One STS session of a role: its keys and when they expire (epoch seconds)."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float
    assumed_role_arn: str = ""

    def env(self) -> dict[str, str]:
        """The three variables Lambda sets from the session."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def seconds_left(self, now: float | None = None) -> float:
        return self.expiration - (time.time() if now is None else now)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RoleCredentials:
        return cls(**raw)


def assume_role(
    sts: Any, role_arn: str, session_name: str, duration_seconds: int = SESSION_SECONDS
) -> RoleCredentials:
    """A fresh session of ``role_arn`` (STS AssumeRole with ``sts``, an administrator's client)."""
    response = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName=session_name[:64],
        DurationSeconds=duration_seconds,
    )
    issued = response["Credentials"]
    return RoleCredentials(
        access_key_id=issued["AccessKeyId"],
        secret_access_key=issued["SecretAccessKey"],
        session_token=issued["SessionToken"],
        expiration=issued["Expiration"].timestamp(),
        assumed_role_arn=str(response.get("AssumedRoleUser", {}).get("Arn", "")),
    )


class RoleSession:
    """The current session of one function's role, renewed before it expires (thread-safe)."""

    def __init__(
        self,
        sts: Any,
        role_arn: str,
        session_name: str,
        *,
        duration_seconds: int = SESSION_SECONDS,
        renew_before_seconds: float = RENEW_BEFORE_SECONDS,
    ) -> None:
        self.role_arn = role_arn
        self.session_name = session_name
        self._sts = sts
        self._duration = duration_seconds
        self._renew_before = renew_before_seconds
        self._lock = threading.Lock()
        self._current: RoleCredentials | None = None

    def current(self, *, valid_for: float = 0.0) -> RoleCredentials:
        """Credentials valid for at least the renewal margin plus ``valid_for`` seconds."""
        with self._lock:
            current = self._current
            if current is None or current.seconds_left() < self._renew_before + valid_for:
                current = self._current = assume_role(
                    self._sts, self.role_arn, self.session_name, self._duration
                )
            return current

    def botocore_credentials(self) -> Any:
        """Refreshable credentials for a boto3 client of the worker (the mapping's poller)."""
        from botocore.credentials import RefreshableCredentials  # noqa: PLC0415

        def refresh() -> dict[str, str]:
            fresh = self.current()
            return {
                "access_key": fresh.access_key_id,
                "secret_key": fresh.secret_access_key,
                "token": fresh.session_token,
                "expiry_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(fresh.expiration)),
            }

        return RefreshableCredentials.create_from_metadata(
            metadata=refresh(), refresh_using=refresh, method="sts-assume-role"
        )

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client that signs with this role's session, renewed as it nears expiry."""
        import boto3  # noqa: PLC0415
        import botocore.session  # noqa: PLC0415

        core: Any = botocore.session.get_session()
        # botocore's way to give a session refreshable credentials (what its assume-role
        # provider does): set them on the session before any client is made.
        core._credentials = self.botocore_credentials()
        session: Any = boto3.session.Session(botocore_session=core)
        return session.client(service, **kwargs)
