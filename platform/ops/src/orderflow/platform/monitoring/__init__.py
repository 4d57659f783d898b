"""The DLQ incident workflow (Step Functions) and the incident desk that drives it."""

from __future__ import annotations

from orderflow.platform.monitoring.definition import (
    DEFAULT_SETTINGS,
    DefinitionError,
    load,
    render,
    validate,
)
from orderflow.platform.monitoring.incidents import Incident, IncidentDesk, IncidentError

__all__ = [
    "DEFAULT_SETTINGS",
    "DefinitionError",
    "Incident",
    "IncidentDesk",
    "IncidentError",
    "load",
    "render",
    "validate",
]
