"""Load CloudFormation YAML and resolve the intrinsic functions our templates use in names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_SHORT_TAGS = (
    "Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
    "FindInMap", "ImportValue", "Base64", "Cidr", "GetAZs", "Condition",
)  # fmt: skip


class TemplateError(ValueError):
    """A template could not be read or holds something we cannot resolve here."""


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a CloudFormation YAML template, turning ``!Tag`` shorthands into ``Fn::`` maps."""
    import yaml  # noqa: PLC0415  (only tools and tests read templates)

    class Loader(yaml.SafeLoader):
        pass

    def construct(tag: str) -> Any:
        key = "Ref" if tag in {"Ref", "Condition"} else f"Fn::{tag}"

        def build(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
            value: Any
            if isinstance(node, yaml.ScalarNode):
                value = loader.construct_scalar(node)
                if tag == "GetAtt":
                    value = str(value).split(".", 1)
            elif isinstance(node, yaml.SequenceNode):
                value = loader.construct_sequence(node, deep=True)
            else:
                value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
            if tag == "Condition":
                return {"Condition": value}
            return {key: value}

        return build

    for tag in _SHORT_TAGS:
        Loader.add_constructor(f"!{tag}", construct(tag))
    try:
        document = yaml.load(Path(path).read_text(), Loader=Loader)  # noqa: S506  (SafeLoader subclass)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return document


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, Any]:
    """Logical id -> Properties of every resource of ``resource_type``."""
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == resource_type
    }


def resolve(value: Any, parameters: Mapping[str, str]) -> Any:
    """Resolve ``Ref`` to parameters and ``Fn::Sub`` over parameters, recursively."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            if argument not in parameters:
                raise TemplateError(f"cannot resolve Ref {argument!r} here")
            return parameters[argument]
        if key == "Fn::Sub":
            text, extra = (argument, {}) if isinstance(argument, str) else argument
            names = {**parameters, **{k: resolve(v, parameters) for k, v in extra.items()}}
            return re.sub(r"\$\{([^}!]+)\}", lambda m: _lookup(names, m.group(1)), text)
    if isinstance(value, dict):
        return {k: resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, parameters) for v in value]
    return value


def _lookup(names: Mapping[str, str], name: str) -> str:
    if name not in names:
        raise TemplateError(f"cannot resolve ${{{name}}} here")
    return str(names[name])


_TABLE_KEYS = (
    "TableName", "KeySchema", "AttributeDefinitions", "BillingMode",
    "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
)  # fmt: skip


def dynamodb_tables(path: str | Path, parameters: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Logical id -> CreateTable arguments for every AWS::DynamoDB::Table in a template."""
    template = load_template(path)
    tables = {}
    for logical_id, props in resources_of_type(template, "AWS::DynamoDB::Table").items():
        resolved = resolve({k: props[k] for k in _TABLE_KEYS if k in props}, parameters)
        resolved.setdefault("BillingMode", "PAY_PER_REQUEST")
        tables[logical_id] = resolved
    return tables
