"""Least privilege, shown by running: every statement of every role is needed, nothing denied.

The whole pipeline runs with each function under its own execution role, the incident workflow
under its state machine's role and the EventBridge rule's target under its role, while the
embedded AWS decides every request of those role sessions as IAM does ("Policy evaluation
logic", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
and records the statement that allowed each one. The run takes every path the system has on a
local stage: orders with cancellations, shipments and refunds, a consumer bug that parks orders
in a DLQ, the DLQ growth alarm paging and starting the incident workflow, the fix and the
redrive. Then no request was denied, and every Allow statement of every deployed role allowed
at least one request, except those listed below with the path that needs them. No two
statements of a role could allow the same request, so each request was allowed by one
statement alone: without any one statement, a request of this run would be denied and the run
would fail (the equivalent of dropping each statement in turn, in one run).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from orderflow.contracts import SERVICES, OrderCreated
from orderflow.local.faults import ConsumerBug, FaultPlan
from orderflow.local.iam_coverage import (
    allowing_statements,
    deployed_statements,
    overlapping,
    unexercised,
    unused_actions,
)
from orderflow.local.localstripe import on_stripe
from orderflow.platform.monitoring import IncidentDesk

from .conftest import LocalRun, mismatches, traffic, wait_for

pytestmark = pytest.mark.e2e

IAM_MODE = "enforce"
"""The embedded AWS denies what a role does not allow, as AWS does (the run must still pass)."""
MAX_RECEIVE_COUNT = 5
"""Receives before the unlucky order parks: the least every service template allows
(``MaxReceiveCount``'s ``MinValue``, which CloudFormation enforces)."""
INCIDENT_GUARD_SECONDS = 240.0
"""A guard on everything after an order parks: its DLQ alarm, the page, each incident opening."""

NEEDED_ELSEWHERE: dict[str, str] = {}
"""Statements this run cannot show allowing a request (label -> why, and which path needs it).

Not deployed on this run, so not listed: payment's ``stripe-api-key`` policy (Gateway=stripe
only; ``test_the_stripe_key_statement_is_needed_on_stripe`` runs that path).
"""


_NO_LAMBDA_USE = (
    "neither Lambda's SQS poller, which needs sqs:ReceiveMessage, sqs:DeleteMessage and "
    "sqs:GetQueueAttributes (https://docs.aws.amazon.com/lambda/latest/dg/"
    "services-sqs-configure.html#events-sqs-permissions), nor the service's code calls it: "
    "a candidate to drop from the template"
)
_POWERTOOLS_IDEMPOTENCY = (
    "Powertools' idempotency utility needs GetItem, PutItem, UpdateItem and DeleteItem on its "
    "table (https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/"
    "#iam-permissions); this run's records never read back or deleted an idempotency record"
)
ACTIONS_NOT_SEEN: dict[tuple[str, str], str] = {
    ("payment/FunctionRole/payment#2 (PollOwnQueue)", "sqs:ChangeMessageVisibility"): (
        _NO_LAMBDA_USE
    ),
    ("inventory/InventoryFunctionRole/inventory#2 (ConsumeQueue)", "sqs:ChangeMessageVisibility"): (
        _NO_LAMBDA_USE
    ),
    ("analytics/FunctionRole/analytics#2 (PollOwnQueue)", "sqs:ChangeMessageVisibility"): (
        _NO_LAMBDA_USE
    ),
    ("inventory/InventoryFunctionRole/inventory#3 (StockLedger)", "dynamodb:GetItem"): (
        "the stock ledger reads with BatchGetItem and Query on this run; GetItem is not called"
    ),
    ("payment/FunctionRole/payment#6 (RememberChargesAndRefunds)", "dynamodb:GetItem"): (
        _POWERTOOLS_IDEMPOTENCY
    ),
    ("payment/FunctionRole/payment#6 (RememberChargesAndRefunds)", "dynamodb:DeleteItem"): (
        _POWERTOOLS_IDEMPOTENCY
    ),
    ("notifications/FunctionRole/notifications#3 (OwnIdempotencyTable)", "dynamodb:GetItem"): (
        _POWERTOOLS_IDEMPOTENCY
    ),
    ("notifications/FunctionRole/notifications#3 (OwnIdempotencyTable)", "dynamodb:DeleteItem"): (
        _POWERTOOLS_IDEMPOTENCY
    ),
}
"""Actions of exercised statements no request of this run needed ((label, action) -> why)."""


def _parking_seconds(run: LocalRun) -> float:
    """Real seconds the slowest queue holds a message that fails every receive before it parks:
    one visibility timeout after each receive but the last, on the run's clock."""
    sqs = run.client("sqs")
    longest = 0
    for service in run.resources.services.values():
        attributes = sqs.get_queue_attributes(
            QueueUrl=service.queue_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
        )["Attributes"]
        receives = int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])
        longest = max(longest, int(attributes["VisibilityTimeout"]) * (receives - 1))
    return longest / float(run.resources.clock_factor)


def _waiting(desk: IncidentDesk) -> dict[str, Any] | None:
    """The incident of every service, once each waits for the on-call's decision."""
    found = {i.service: i for i in desk.incidents() if i.waiting_for_decision}
    return found if set(found) == set(SERVICES) else None


def test_every_statement_of_every_role_is_needed_and_nothing_is_denied(
    local_run: Callable[..., LocalRun],
) -> None:
    # GIVEN the pipeline with IAM enforced and every decision recorded; every consumer failing
    # one order until its fix is deployed (the failure ledger, the DLQ and its alarm, the
    # incident workflow), and one sku whose first reservation crosses its low-stock threshold
    events = traffic(10, seed=3)  # creations, shipments, a cancellation and a refund
    unlucky = tuple(e.order_id for e in events if isinstance(e, OrderCreated))[:1]
    run = local_run(
        FaultPlan(consumer_bugs=tuple(ConsumerBug(s, unlucky) for s in SERVICES)),
        clock_factor=12.0,
        iam=IAM_MODE,
        stack_overrides={s: {"MaxReceiveCount": str(MAX_RECEIVE_COUNT)} for s in SERVICES},
    )
    run.seed_for(events)
    low = sorted(run.stock)[-1]
    available, _ = run.stock[low]
    run.stock[low] = (available, available - 1)
    run.runtime.seed_stock(run.stock, seed_id="low-stock")

    # WHEN the orders go through, the unlucky one parks in every DLQ, each DLQ's alarm opens an
    # incident, and the on-call deploys each fix and approves the workflow's redrive
    run.publish(events)
    desk = IncidentDesk(run.client("stepfunctions"), run.resources.stage)
    # A guard, not a measure: it waits on the incidents, however long parking takes here.
    guard = _parking_seconds(run) + INCIDENT_GUARD_SECONDS
    incidents = wait_for(lambda: _waiting(desk), guard, "an incident per service")
    for service, incident in sorted(incidents.items()):
        run.runtime.fixes.deploy(service)
        desk.approve(incident.id, rate=10, by="least-privilege test")
    wait_for(
        lambda: all(desk.show(i.id)[0].status != "RUNNING" for i in incidents.values()),
        240,
        "every incident resolved",
    )
    statuses = {s: desk.show(i.id)[0].status for s, i in incidents.items()}
    run.settle()
    result = run.reconciliation()
    decisions = run.runtime.aws.inspect("iam-decisions")
    statements = deployed_statements(run.client("iam"), run.runtime.stacks)
    used = allowing_statements(decisions)

    # THEN the run went as planned ...
    assert statuses == dict.fromkeys(SERVICES, "SUCCEEDED")
    assert result.ok, mismatches(result)
    assert {s.stack for s in statements} == {"platform", *SERVICES}
    # ... nothing was denied ...
    denied = [d for d in decisions if not d["allowed"]]
    assert denied == [], denied[:5]
    # ... no two statements of a role could allow one request, so each statement allowed its
    # requests alone and removing it would deny them ...
    assert [(a.label, b.label) for a, b in overlapping(statements)] == []
    # ... and every statement allowed something, or is needed on a path named here
    missing = {s.label: s.actions for s in unexercised(statements, decisions)}
    exercised = {s.label: used[s.key] for s in statements if s.key in used}
    assert set(missing) == set(NEEDED_ELSEWHERE), (missing, exercised)
    # ... and each action of an exercised statement allowed something, or is named here
    idle = {
        (label, a)
        for label, actions in unused_actions(statements, decisions).items()
        for a in actions
    }
    assert idle <= set(ACTIONS_NOT_SEEN), sorted(idle - set(ACTIONS_NOT_SEEN))


def test_the_stripe_key_statement_is_needed_on_stripe(local_run: Callable[..., LocalRun]) -> None:
    # GIVEN payment on Stripe (localstripe), its key in Secrets Manager, IAM decided
    run = local_run(gateway="stripe", iam=IAM_MODE)
    # WHEN a few orders are charged (their tokens as Stripe's test payment methods)
    events = [on_stripe(e) for e in traffic(3, seed=7)]
    run.seed_for(events)
    run.publish(events)
    run.settle()
    # THEN they reconcile, nothing was denied, and reading the key needed the Stripe statement
    result = run.reconciliation()
    assert result.ok, mismatches(result)
    decisions = run.runtime.aws.inspect("iam-decisions")
    assert [d for d in decisions if not d["allowed"]] == []
    statements = deployed_statements(run.client("iam"), run.runtime.stacks)
    stripe = [s for s in statements if s.policy_name == "stripe-api-key"]
    assert [s.label for s in stripe] == ["payment/FunctionRole/stripe-api-key#0 (ReadStripeApiKey)"]
    assert allowing_statements(decisions).get(stripe[0].key)
