"""X-Ray GetTraceSummaries with annotation filter expressions, which moto rejects.

The X-Ray API reference for GetTraceSummaries
(https://docs.aws.amazon.com/xray/latest/api/API_GetTraceSummaries.html) takes a
``FilterExpression`` to return only the traces that match it, and each TraceSummary carries
its ``Annotations``: for every key, the values found, each as a ValueWithServiceIds whose
``AnnotationValue`` is a NumberValue, BooleanValue or StringValue. The filter expression
language (https://docs.aws.amazon.com/xray/latest/devguide/xray-console-filters.html) compares
an annotation with the keyword form ``annotation.key``. moto answers any FilterExpression with
"Not implemented yet" and leaves summaries without annotations. ``orderflow trace`` needs
``annotation.order_id = "ord-1"``; this extension implements annotation comparisons (string,
number, boolean; ``=`` and ``!=``) joined by ``AND``, over annotations of segments and their
subsegments, and fills each summary's ``Annotations``. Any other expression is rejected with
InvalidRequestException naming what is supported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from orderflow.emulator.extension import Extension, Patch

_CLAUSE = re.compile(
    r"^\s*annotation\.(?P<key>[A-Za-z0-9_]+)\s*(?P<op>!?=)\s*"
    r'(?P<value>"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false)\s*$'
)


class FilterExpressionError(ValueError):
    """A filter expression outside the supported subset."""


def parse_filter(expression: str) -> list[tuple[str, str, Any]]:
    """``annotation.k = "v" AND annotation.n != 3`` -> [(k, "=", "v"), (n, "!=", 3)]."""
    clauses = []
    for part in re.split(r"\s+AND\s+", expression.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if not match:
            raise FilterExpressionError(
                f"unsupported filter {part.strip()!r}: the emulator supports "
                'annotation.KEY = "value" / != value, joined by AND'
            )
        clauses.append((match["key"], match["op"], json.loads(match["value"])))
    return clauses


def annotations_of(segments: list[Any]) -> dict[str, list[Any]]:
    """Every annotation value in a trace's segments and subsegments, by key."""
    found: dict[str, list[Any]] = {}
    for segment in segments:
        for document in _documents(json.loads(segment.raw) if isinstance(segment.raw, str) else {}):
            for key, value in (document.get("annotations") or {}).items():
                if value not in found.setdefault(key, []):
                    found[key].append(value)
    return found


def _documents(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield document
    for sub in document.get("subsegments") or []:
        yield from _documents(sub)


def matches(annotations: dict[str, list[Any]], clauses: list[tuple[str, str, Any]]) -> bool:
    """True when every clause holds for some value of its annotation."""
    for key, op, value in clauses:
        values = annotations.get(key, [])
        if op == "=" and value not in values:
            return False
        if op == "!=" and (not values or all(v == value for v in values)):
            return False
    return True


def _summary_annotations(annotations: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    def typed(value: Any) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"BooleanValue": value}
        if isinstance(value, int | float):
            return {"NumberValue": value}
        return {"StringValue": str(value)}

    return {
        key: [{"AnnotationValue": typed(v), "ServiceIds": []} for v in values]
        for key, values in annotations.items()
    }


def _patches() -> list[Patch]:
    from moto.core.exceptions import AWSError  # noqa: PLC0415
    from moto.xray.models import SegmentCollection  # noqa: PLC0415

    moto_summary: Callable[..., dict[str, Any]] = SegmentCollection.summary

    def summary(
        self: Any, start_time: Any, end_time: Any, filter_expression: Any = None
    ) -> dict[str, Any]:
        try:
            clauses = parse_filter(filter_expression) if filter_expression else []
        except FilterExpressionError as exc:
            raise AWSError(str(exc), exception_type="InvalidRequestException", status=400) from exc
        result = moto_summary(self, start_time, end_time, None)
        kept = []
        for item in result["TraceSummaries"]:
            annotations = annotations_of(self._traces[item["Id"]]["segments"])
            if matches(annotations, clauses):
                item["Annotations"] = _summary_annotations(annotations)
                kept.append(item)
        result["TraceSummaries"] = kept
        result["TracesProcessedCount"] = len(kept)
        return result

    return [Patch(SegmentCollection, "summary", summary)]


_EXTENSION = Extension("xray-queries", _patches)


def install() -> None:
    """Replace moto's trace summary with one that filters on annotations."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's trace summary (no filter expressions, no annotations)."""
    _EXTENSION.uninstall()
