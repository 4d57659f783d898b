"""JSON Schemas of the contracts, exported into the repository and checked for breaking changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orderflow.contracts.events import EVENT_MODELS, SCHEMA_VERSION

SCHEMA_DIR = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema draft pydantic writes, named in each file so validators pick it."""


def current_schemas() -> dict[str, dict[str, Any]]:
    """event_type -> JSON Schema (validation mode) of its contract.

    Each says exactly what consumers accept (tests check this with a JSON Schema validator),
    except the cross-field rules JSON Schema cannot state, which its description gives.
    """
    return {
        m.TYPE: {"$schema": DIALECT, **m.model_json_schema(mode="validation")} for m in EVENT_MODELS
    }


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write one ``<event_type>.v<major>.json`` per contract; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, schema in sorted(current_schemas().items()):
        path = directory / f"{event_type}.v{SCHEMA_VERSION}.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def breaking_changes(old: dict[str, Any], new: dict[str, Any], where: str = "") -> list[str]:
    """What in ``new`` breaks a consumer or producer written against ``old``.

    Breaking: a removed or retyped property, a newly required property, a removed definition.
    Adding an optional property is not breaking.
    """
    problems: list[str] = []
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    for name, spec in old_props.items():
        if name not in new_props:
            problems.append(f"{where}{name}: removed")
        elif _type_of(spec) != _type_of(new_props[name]):
            problems.append(f"{where}{name}: type {_type_of(spec)} -> {_type_of(new_props[name])}")
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"{where}{name}: newly required")
    old_defs: dict[str, Any] = old.get("$defs", {})
    new_defs: dict[str, Any] = new.get("$defs", {})
    for name, spec in old_defs.items():
        if name not in new_defs:
            problems.append(f"{where}$defs.{name}: removed")
        else:
            problems.extend(breaking_changes(spec, new_defs[name], f"{where}{name}."))
    return problems


def _type_of(spec: dict[str, Any]) -> str:
    keys = ("type", "$ref", "const", "anyOf", "items", "format", "prefixItems")
    return json.dumps({k: spec[k] for k in keys if k in spec}, sort_keys=True)


if __name__ == "__main__":
    for written_path in write_schemas():
        print(written_path.name)
