"""Typed errors for messages that cannot become a contract. Each says what was wrong."""

from __future__ import annotations


class ContractError(Exception):
    """Base: a message could not be turned into an orderflow event."""

    claimed_order_id: str = ""
    """The order id the message names, if a valid one: for the operator (failure ledger, DLQ
    tools) only, never trusted for anything else, since the message broke its contract."""


class MalformedMessageError(ContractError):
    """The body is not JSON, not an object, or neither an SNS notification nor a raw event."""


class UnknownEventTypeError(ContractError):
    """The message names an ``event_type`` that no contract defines."""

    def __init__(self, event_type: object) -> None:
        super().__init__(f"unknown event_type {event_type!r}")
        self.event_type = event_type


class ContractViolationError(ContractError):
    """The event_type is known but the fields break its contract."""


class UnexpectedEventError(Exception):
    """An event reached a service that does not handle its type (routing sent it wrongly)."""
