"""Turn SQS record bodies into contracts.

A body is either an SNS notification (raw message delivery off, the default) whose ``Message``
holds the event, or the event itself (raw delivery on). Anything else is rejected with a typed
error, never coerced.

A document's ``event_type`` picks its contract, as the tag of a discriminated union would, but
only the contract picked is validated: its validator is built on the first document of that
type, so a function builds the contracts it receives and no others (at import, none).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from orderflow.contracts.errors import (
    ContractError,
    ContractViolationError,
    MalformedMessageError,
    UnknownEventTypeError,
)
from orderflow.contracts.events import EVENT_MODELS, EventEnvelope, OrderEvent, OrderId

_CONTRACTS: Mapping[str, type[EventEnvelope]] = {m.TYPE: m for m in EVENT_MODELS}
_ORDER_ID: TypeAdapter[str] = TypeAdapter(OrderId, config=ConfigDict(defer_build=True))


class _Tagged(BaseModel):
    """Only a document's ``event_type``: which contract validates the rest."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    event_type: object = None


def event_json(body: str) -> str:
    """The event document inside an SQS body, unwrapping an SNS notification if there is one."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, TypeError) as exc:
        raise MalformedMessageError(f"body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedMessageError(f"body is JSON {type(document).__name__}, not an object")
    if document.get("Type") == "Notification":
        message = document.get("Message")
        if not isinstance(message, str):
            raise MalformedMessageError("SNS notification has no string Message")
        return message
    if "event_type" in document:
        return body
    raise MalformedMessageError("body is neither an SNS notification nor an orderflow event")


def parse_event(event_document: str) -> OrderEvent:
    """Validate one event document (JSON text) against the contract its ``event_type`` names."""
    try:
        event_type = _Tagged.model_validate_json(event_document).event_type
        if not (isinstance(event_type, str) and event_type in _CONTRACTS):
            raise UnknownEventTypeError(event_type)
        return cast("OrderEvent", _CONTRACTS[event_type].model_validate_json(event_document))
    except ValidationError as exc:
        raise _classify(exc, event_document) from exc


def parse_body(body: str) -> OrderEvent:
    """Parse an SQS message body (SNS-wrapped or raw) into its contract.

    A ``ContractError`` carries the order id the body names (``claimed_order_id``), if any.
    """
    try:
        return parse_event(event_json(body))
    except ContractError as exc:
        exc.claimed_order_id = claimed_order_id(body)
        raise


def claimed_order_id(body: str) -> str:
    """The ``order_id`` a body names (SNS-wrapped or raw), or "" when it names no valid one.

    Best effort for a message that broke its contract, so an operator can tell which order it
    was; the rest of the message is not trusted, and neither is this beyond showing it.
    """
    try:
        document = json.loads(body)
        if isinstance(document, dict) and document.get("Type") == "Notification":
            document = json.loads(str(document.get("Message")))
    except json.JSONDecodeError:
        return ""
    if not isinstance(document, dict):
        return ""
    try:
        return _ORDER_ID.validate_python(document.get("order_id"), strict=True)
    except ValidationError:
        return ""


def parse_sqs_record(record: Mapping[str, Any]) -> OrderEvent:
    """Parse one record of a Lambda SQS event into its contract."""
    body = record.get("body")
    if not isinstance(body, str):
        raise MalformedMessageError("SQS record has no string body")
    return parse_body(body)


def _classify(exc: ValidationError, document: str) -> Exception:
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return MalformedMessageError(f"event is not JSON: {first['msg']}")
    if first["type"] == "model_attributes_type":
        return MalformedMessageError("event is not a JSON object")
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<event>'}: {e['msg']}"
        for e in exc.errors()
        if not _echoes_an_item_error(e)
    )
    return ContractViolationError(f"{_event_type_of(document)}: {problems}")


def _echoes_an_item_error(error: ErrorDetails) -> bool:
    """A list's "too short" that only repeats that one of its items is invalid.

    pydantic checks a tuple's ``min_length`` on the items that validated, so one bad item of a
    one-item list also reports "should have at least 1 item" though the list given has one.
    """
    given, minimum = error.get("input"), error.get("ctx", {}).get("min_length")
    return (
        error["type"] == "too_short"
        and isinstance(given, list | tuple)
        and isinstance(minimum, int)
        and len(given) >= minimum
    )


def _event_type_of(document: str) -> object:
    try:
        parsed = json.loads(document)
    except json.JSONDecodeError:
        return None
    return parsed.get("event_type") if isinstance(parsed, dict) else None
