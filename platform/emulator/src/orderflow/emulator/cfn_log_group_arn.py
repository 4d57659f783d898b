"""``Fn::GetAtt <LogGroup>.Arn`` as CloudFormation returns it: the log group ARN ending in ``:*``.

The AWS::Logs::LogGroup reference (Return values, ``Arn``) gives the form
``arn:aws:logs:us-west-1:123456789012:log-group:/mystack-testgroup-12ABC1AB12A1:*``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-logs-loggroup.html).
moto returns the ARN without the ``:*``, so a role statement on ``!GetAtt LogGroup.Arn`` would
not cover the group's log streams (``log-group:<name>:log-stream:<stream>``, the resource
CreateLogStream and PutLogEvents are authorized on), as it does on AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderflow.emulator.extension import Extension, Patch


def _with_wildcard(get_cfn_attribute: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def log_group_attribute(log_group: Any, attribute_name: str) -> Any:
        value = get_cfn_attribute(log_group, attribute_name)
        if attribute_name == "Arn" and isinstance(value, str) and not value.endswith(":*"):
            return f"{value}:*"
        return value

    return log_group_attribute


def _patches() -> list[Patch]:
    from moto.logs.models import LogGroup  # noqa: PLC0415

    return [Patch(LogGroup, "get_cfn_attribute", _with_wildcard(LogGroup.get_cfn_attribute))]


_EXTENSION = Extension("cfn-log-group-arn", _patches)


def install() -> None:
    """Return a log group's ``Arn`` attribute with CloudFormation's trailing ``:*``."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's log group ARN attribute (no ``:*``)."""
    _EXTENSION.uninstall()
