"""``AWS::NoValue`` removes a list element in CloudFormation; moto keeps it as ``None``.

CloudFormation (Pseudo parameters reference, AWS::NoValue,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html):
"Removes the corresponding resource property when specified as a return value in the ``Fn::If``
intrinsic function", which is how a template lists an optional element, e.g. an IAM role's
inline policy that only one stage has (``Policies: [!If [Cond, {...}, !Ref AWS::NoValue]]``).
moto resolves the element to ``None`` and leaves it in the list, and its IAM role then fails
(``'NoneType' object is not subscriptable``): the stack cannot be created. This module drops the
elements that resolve to ``AWS::NoValue`` from lists, as CloudFormation does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderflow.emulator.extension import Extension, Patch


def _without_no_value(clean_json: Callable[..., Any]) -> Callable[..., Any]:
    def resolve(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, list):
            resolved = [(v, clean_json(v, resources_map)) for v in resource_json]
            return [value for raw, value in resolved if not (value is None and raw is not None)]
        return clean_json(resource_json, resources_map)

    return resolve


def _patches() -> list[Patch]:
    from moto.cloudformation import parsing  # noqa: PLC0415

    # moto's clean_json recurses through the module's global name, so nested lists are covered.
    return [Patch(parsing, "clean_json", _without_no_value(parsing.clean_json))]


_EXTENSION = Extension("cfn-no-value", _patches)


def install() -> None:
    """Drop list elements that resolve to AWS::NoValue."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's lists (NoValue elements kept as None)."""
    _EXTENSION.uninstall()
