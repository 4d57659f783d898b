"""The names of a stage's deployed resources, spelled once.

Every orderflow resource of a stage is named ``orderflow-<stage>-<what>``; templates build the
same names from their ``Stage`` parameter, and the operator tools, the local runtime and the
tests read them from here.
"""

from __future__ import annotations

PROJECT = "orderflow"
DLQ_SUFFIX = "-dlq"


def prefix(stage: str) -> str:
    """Every orderflow resource name of ``stage`` starts with this."""
    return f"{PROJECT}-{stage}-"


def resource(stage: str, what: str) -> str:
    """``orderflow-<stage>-<what>``."""
    return f"{prefix(stage)}{what}"


def stack(stage: str, component: str) -> str:
    """The CloudFormation stack of a service or of the platform."""
    return resource(stage, component)


def queue(stage: str, service: str) -> str:
    """A consuming service's source queue."""
    return resource(stage, service)


def dlq(stage: str, service: str) -> str:
    """A consuming service's dead-letter queue."""
    return resource(stage, f"{service}{DLQ_SUFFIX}")


def topic(stage: str) -> str:
    """The order-events topic every service publishes to and subscribes from."""
    return resource(stage, "order-events")


def paging_topic(stage: str) -> str:
    """The topic alarms and the monitoring workflow page through."""
    return resource(stage, "paging")


def alarm(stage: str, service: str, kind: str) -> str:
    """A service's alarm: ``orderflow-<stage>-<service>-<kind>`` (``dlq-growth``, ...)."""
    return resource(stage, f"{service}-{kind}")


def dashboard(stage: str) -> str:
    """The stage's CloudWatch dashboard."""
    return f"{PROJECT}-{stage}"


def incident_workflow(stage: str) -> str:
    """The Step Functions state machine that runs a DLQ incident."""
    return resource(stage, "dlq-incident")


def failure_ledger(stage: str) -> str:
    """The table every consumer records failed records in (conventional name)."""
    return resource(stage, "failure-ledger")


def email_template(stage: str, template: str) -> str:
    """An SES email template of the notifications service."""
    return resource(stage, template)


__all__ = [
    "DLQ_SUFFIX",
    "PROJECT",
    "alarm",
    "dashboard",
    "dlq",
    "email_template",
    "failure_ledger",
    "incident_workflow",
    "paging_topic",
    "prefix",
    "queue",
    "resource",
    "stack",
    "topic",
]
