"""SQS's JSON queue attributes validated as SQS validates them; moto accepts or drops them.

``RedrivePolicy`` and ``RedriveAllowPolicy`` are JSON objects carried as strings (as objects in
a CloudFormation template). moto checks only that a RedrivePolicy names its two keys, and keeps
a RedriveAllowPolicy without looking at it or ever returning it, so a misspelt key deploys on
the emulator and fails on AWS. The SQS API reference for CreateQueue and SetQueueAttributes
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html)
defines them:

- ``RedrivePolicy``: ``deadLetterTargetArn`` (the DLQ's ARN) and ``maxReceiveCount``; SQS
  answers a policy without either with ``InvalidParameterValue``, "Value ... for parameter
  RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: ...",
  ``maxReceiveCount`` first (as SQS reports ``{}``). The count is an integer from 1 to 1,000
  (the Developer Guide's dead-letter queue settings).
- ``RedriveAllowPolicy``: ``redrivePermission`` is ``allowAll``, ``denyAll`` or ``byQueue``;
  ``sourceQueueArns`` (at most 10 ARNs) is required with ``byQueue`` and allowed only with it.

Either policy with a key SQS does not define is refused too. A refused attribute is the same
``InvalidParameterValue`` error, "Value <json> for parameter <name> is invalid. Reason: ...",
and nothing of the request is applied. The checks run inside moto's SQS backend, so a queue a
CloudFormation stack creates is checked like one an SDK creates, and a bad template fails to
deploy. An empty string removes either policy, as on SQS. GetQueueAttributes returns the
RedriveAllowPolicy a queue has (for ``All`` or by name), as SQS does.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from orderflow.emulator.extension import Extension, Patch

REDRIVE_POLICY = "RedrivePolicy"
REDRIVE_ALLOW_POLICY = "RedriveAllowPolicy"
MAX_RECEIVE_COUNT_RANGE = range(1, 1001)
MAX_SOURCE_QUEUE_ARNS = 10
REDRIVE_PERMISSIONS = ("allowAll", "denyAll", "byQueue")
_REDRIVE_POLICY_KEYS = ("maxReceiveCount", "deadLetterTargetArn")
_REDRIVE_ALLOW_POLICY_KEYS = ("redrivePermission", "sourceQueueArns")
_STORED = "redrive_allow_policy"
"""The attribute moto's Queue keeps a RedriveAllowPolicy in (it sets every attribute it gets)."""


class InvalidQueueAttributeError(ValueError):
    """One JSON queue attribute SQS would refuse; ``str()`` is SQS's message for it."""

    def __init__(self, name: str, value: Any, reason: str) -> None:
        shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        super().__init__(f"Value {shown} for parameter {name} is invalid. Reason: {reason}")


def _as_object(name: str, value: Any) -> dict[str, Any]:
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
    if not isinstance(parsed, Mapping):
        raise InvalidQueueAttributeError(name, value, f"{name} must be a JSON object.")
    return dict(parsed)


def _unknown_keys(name: str, value: Any, policy: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(policy) - set(known))
    if unknown:
        raise InvalidQueueAttributeError(
            name, value, f"Unknown attribute {unknown[0]}; valid keys are {', '.join(known)}."
        )


def check_redrive_policy(value: Any) -> None:
    """Raise ``InvalidQueueAttributeError`` unless ``value`` is a RedrivePolicy SQS accepts."""
    policy = _as_object(REDRIVE_POLICY, value)
    for key in _REDRIVE_POLICY_KEYS:
        if key not in policy:
            raise InvalidQueueAttributeError(
                REDRIVE_POLICY,
                value,
                f"Redrive policy does not contain mandatory attribute: {key}.",
            )
    _unknown_keys(REDRIVE_POLICY, value, policy, _REDRIVE_POLICY_KEYS)
    count = policy["maxReceiveCount"]
    try:
        number = int(str(count))
    except ValueError:
        number = 0
    if isinstance(count, bool) or number not in MAX_RECEIVE_COUNT_RANGE:
        raise InvalidQueueAttributeError(
            REDRIVE_POLICY,
            value,
            f"Invalid value for maxReceiveCount: {count}, valid values are from "
            f"{MAX_RECEIVE_COUNT_RANGE.start} to {MAX_RECEIVE_COUNT_RANGE.stop - 1}.",
        )
    target = policy["deadLetterTargetArn"]
    if not isinstance(target, str) or not target.startswith("arn:"):
        raise InvalidQueueAttributeError(
            REDRIVE_POLICY, value, "deadLetterTargetArn must be the ARN of a queue."
        )


def check_redrive_allow_policy(value: Any) -> None:
    """Raise ``InvalidQueueAttributeError`` unless ``value`` is a RedriveAllowPolicy SQS accepts."""
    policy = _as_object(REDRIVE_ALLOW_POLICY, value)
    _unknown_keys(REDRIVE_ALLOW_POLICY, value, policy, _REDRIVE_ALLOW_POLICY_KEYS)
    if "redrivePermission" not in policy:
        raise InvalidQueueAttributeError(
            REDRIVE_ALLOW_POLICY,
            value,
            "Redrive allow policy does not contain mandatory attribute: redrivePermission.",
        )
    permission = policy["redrivePermission"]
    if permission not in REDRIVE_PERMISSIONS:
        raise InvalidQueueAttributeError(
            REDRIVE_ALLOW_POLICY,
            value,
            f"Invalid value for redrivePermission: {permission}, valid values are "
            f"{', '.join(REDRIVE_PERMISSIONS)}.",
        )
    arns = policy.get("sourceQueueArns")
    if permission != "byQueue":
        if arns is not None:
            raise InvalidQueueAttributeError(
                REDRIVE_ALLOW_POLICY,
                value,
                f"sourceQueueArns can be specified only when redrivePermission is byQueue, "
                f"not {permission}.",
            )
        return
    if arns is None:
        raise InvalidQueueAttributeError(
            REDRIVE_ALLOW_POLICY,
            value,
            "Redrive allow policy with redrivePermission byQueue does not contain mandatory "
            "attribute: sourceQueueArns.",
        )
    if not isinstance(arns, list) or not arns or not all(isinstance(a, str) for a in arns):
        raise InvalidQueueAttributeError(
            REDRIVE_ALLOW_POLICY, value, "sourceQueueArns must be a list of queue ARNs."
        )
    if len(arns) > MAX_SOURCE_QUEUE_ARNS:
        raise InvalidQueueAttributeError(
            REDRIVE_ALLOW_POLICY,
            value,
            f"sourceQueueArns lists {len(arns)} queues; at most {MAX_SOURCE_QUEUE_ARNS} are "
            "allowed (use allowAll for more).",
        )


def checked_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """``attributes`` with both JSON policies validated; a RedriveAllowPolicy as SQS's string.

    An empty string (which removes a policy) passes; anything SQS refuses raises
    ``InvalidQueueAttributeError``.
    """
    checked = dict(attributes)
    if checked.get(REDRIVE_POLICY) not in (None, ""):
        check_redrive_policy(checked[REDRIVE_POLICY])
    allow = checked.get(REDRIVE_ALLOW_POLICY)
    if allow not in (None, ""):
        check_redrive_allow_policy(allow)
        if not isinstance(allow, str):
            checked[REDRIVE_ALLOW_POLICY] = json.dumps(allow, separators=(",", ":"))
    return checked


def _refused(error: InvalidQueueAttributeError) -> Exception:
    from moto.sqs.exceptions import SQSException  # noqa: PLC0415

    return SQSException("InvalidParameterValue", str(error))


def _validating_create(create: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(create)
    def create_queue(
        backend: Any, name: str, tags: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        try:
            kwargs = checked_attributes(kwargs)
        except InvalidQueueAttributeError as error:
            raise _refused(error) from error
        return create(backend, name, tags, **kwargs)

    return create_queue


def _validating_set(set_attributes: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(set_attributes)
    def set_queue_attributes(backend: Any, queue_name: str, attributes: dict[str, Any]) -> Any:
        try:
            attributes = checked_attributes(attributes)
        except InvalidQueueAttributeError as error:
            raise _refused(error) from error
        return set_attributes(backend, queue_name, attributes)

    return set_queue_attributes


def _with_redrive_allow_policy(get_attributes: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(get_attributes)
    def get_queue_attributes(
        backend: Any, queue_name: str, attribute_names: list[str]
    ) -> dict[str, Any]:
        names = list(attribute_names or [])
        others = [n for n in names if n != REDRIVE_ALLOW_POLICY]
        attributes: dict[str, Any] = get_attributes(backend, queue_name, others)
        if "All" in names or REDRIVE_ALLOW_POLICY in names:
            policy = getattr(backend.get_queue(queue_name), _STORED, None)
            if policy:
                attributes[REDRIVE_ALLOW_POLICY] = policy
        return attributes

    return get_queue_attributes


def _patches() -> list[Patch]:
    from moto.sqs.models import SQSBackend  # noqa: PLC0415

    return [
        Patch(SQSBackend, "create_queue", _validating_create(SQSBackend.create_queue)),
        Patch(
            SQSBackend,
            "set_queue_attributes",
            _validating_set(SQSBackend.set_queue_attributes),
        ),
        Patch(
            SQSBackend,
            "get_queue_attributes",
            _with_redrive_allow_policy(SQSBackend.get_queue_attributes),
        ),
    ]


_EXTENSION = Extension("sqs-attributes", _patches)


def install() -> None:
    """Validate RedrivePolicy and RedriveAllowPolicy as SQS does."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's lenient queue attributes."""
    _EXTENSION.uninstall()
