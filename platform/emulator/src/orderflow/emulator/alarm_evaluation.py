"""CloudWatch metric alarm evaluation, which moto stores but never runs.

Follows the CloudWatch user guide ("Evaluating an alarm", "Configuring how CloudWatch alarms
treat missing data", "Alarm events and EventBridge", PutMetricAlarm):

* A new alarm starts in INSUFFICIENT_DATA; updating an alarm keeps its state.
* Each evaluation looks at the alarm's evaluation range (EvaluationPeriods plus two earlier
  periods, as the user guide's examples do), one datapoint per period from the alarm's statistic
  (or its metric-math expression). The most recent EvaluationPeriods real datapoints are used.
  When fewer exist, the missing ones are filled per TreatMissingData: ``breaching``,
  ``notBreaching``; ``ignore`` keeps the state unless the real datapoints decide it; ``missing``
  (the default) evaluates the real datapoints alone and goes to INSUFFICIENT_DATA when there are
  none. The alarm is in ALARM when DatapointsToAlarm (default EvaluationPeriods) breach.
* Metric math follows the user guide ("Using metric math"): arithmetic between two series
  treats a value missing from one as 0; DIFF and RATE take each value against the preceding
  value of the series (the nearest earlier datapoint, however many periods back); FILL fills
  every missing period of the range the alarm queries, with a number, REPEAT (the most recent
  real value before the gap) or LINEAR (between the values either side of the gap). An
  expression may use another expression's id.
* On a state change: moto's alarm state and history are updated; the alarm's actions for the new
  state (AlarmActions, OKActions, InsufficientDataActions) that are SNS topics receive the
  CloudWatch notification JSON when ActionsEnabled; and a "CloudWatch Alarm State Change" event
  (source aws.cloudwatch) is put on the account's default event bus.

Periods run on the emulator clock (see ``clock``).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orderflow.emulator.clock import EmulatorClock, current_clock
from orderflow.emulator.extension import Extension, Patch

LOGGER = logging.getLogger(__name__)

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
EXTRA_RANGE_PERIODS = 2
_COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
_REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-central-1": "EU (Frankfurt)",
}


class AlarmEvaluationError(ValueError):
    """An alarm uses something this evaluation does not implement (named in the message)."""


Series = dict[int, float]
"""Period index (0 = the most recent period) -> value; a missing index is missing data."""


@dataclass(frozen=True)
class Datapoint:
    timestamp: datetime
    value: float


@dataclass(frozen=True)
class Verdict:
    """The outcome of one evaluation: the state and why."""

    state: str
    reason: str
    reason_data: dict[str, Any]


# --- statistics -----------------------------------------------------------------------------


def statistic(name: str, values: Sequence[float]) -> float:
    """One CloudWatch statistic over the raw values of a period."""
    if name == "SampleCount":
        return float(len(values))
    if name == "Sum":
        return float(sum(values))
    if name == "Average":
        return float(sum(values) / len(values))
    if name == "Minimum":
        return float(min(values))
    if name == "Maximum":
        return float(max(values))
    match = re.fullmatch(r"p(\d+(?:\.\d+)?)", name)
    if match:
        ordered = sorted(values)
        rank = max(1, math.ceil(float(match.group(1)) / 100 * len(ordered)))
        return float(ordered[rank - 1])
    raise AlarmEvaluationError(f"statistic {name!r} is not supported")


def bucket_series(
    datapoints: Sequence[Datapoint], stat: str, now: datetime, period_real: float, periods: int
) -> Series:
    """Aggregate raw datapoints into ``periods`` periods ending at ``now`` (index 0 = latest)."""
    grouped: dict[int, list[float]] = {}
    for point in datapoints:
        age = (now - point.timestamp).total_seconds()
        if age < 0:
            continue
        index = int(age // period_real)
        if index < periods:
            grouped.setdefault(index, []).append(point.value)
    return {index: statistic(stat, values) for index, values in grouped.items()}


# --- metric math ------------------------------------------------------------------------------


_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(.))")


class _Parser:
    """Recursive descent over the metric-math subset alarms here use.

    Supported: numbers, query ids, + - * / and parentheses, DIFF, RATE, ABS, FILL(s, number,
    REPEAT or LINEAR), and SUM/MAX/MIN/AVG over ``[a, b, ...]``. ``span`` is how many periods
    the queried range has (index 0 .. span-1): what FILL fills.
    """

    def __init__(
        self, text: str, series: Mapping[str, Series], period_emulated: float, span: int
    ) -> None:
        self._tokens = [m.group(0).strip() for m in _TOKEN.finditer(text) if m.group(0).strip()]
        self._at = 0
        self._series = series
        self._period = period_emulated
        self._span = span
        self._text = text

    def parse(self) -> Series | float:
        value = self._sum()
        if self._at != len(self._tokens):
            raise AlarmEvaluationError(f"cannot parse {self._text!r} at {self._peek()!r}")
        return value

    def _peek(self) -> str:
        return self._tokens[self._at] if self._at < len(self._tokens) else ""

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if expected is not None and token != expected:
            raise AlarmEvaluationError(f"expected {expected!r} in {self._text!r}, got {token!r}")
        self._at += 1
        return token

    def _sum(self) -> Series | float:
        value = self._product()
        while self._peek() in {"+", "-"}:
            op = self._take()
            right = self._product()
            value = _combine(
                value, right, (lambda a, b: a + b) if op == "+" else (lambda a, b: a - b)
            )
        return value

    def _product(self) -> Series | float:
        value = self._unary()
        while self._peek() in {"*", "/"}:
            op = self._take()
            right = self._unary()
            value = _combine(value, right, _multiply if op == "*" else _divide)
        return value

    def _unary(self) -> Series | float:
        if self._peek() == "-":
            self._take()
            return _combine(0.0, self._unary(), lambda a, b: a - b)
        return self._atom()

    def _atom(self) -> Series | float:
        token = self._take()
        if token == "(":  # noqa: S105  (a parenthesis, not a password)
            value = self._sum()
            self._take(")")
            return value
        if re.fullmatch(r"\d+(?:\.\d+)?", token):
            return float(token)
        if self._peek() == "(":
            return self._function(token.upper())
        if token in self._series:
            return dict(self._series[token])
        raise AlarmEvaluationError(f"unknown metric id {token!r} in {self._text!r}")

    def _function(self, name: str) -> Series | float:
        self._take("(")
        if name in {"SUM", "MAX", "MIN", "AVG"} and self._peek() == "[":
            self._take("[")
            items = [self._sum()]
            while self._peek() == ",":
                self._take()
                items.append(self._sum())
            self._take("]")
            self._take(")")
            return _across(name, items)
        argument = self._sum()
        if name == "FILL":
            self._take(",")
            if self._peek().upper() in {"REPEAT", "LINEAR"}:
                filler: str | Series | float = self._take().upper()
            else:
                filler = self._sum()
            self._take(")")
            return _fill(argument, filler, self._span)
        self._take(")")
        if name == "ABS":
            return _combine(argument, 0.0, lambda a, _: abs(a))
        if name in {"DIFF", "RATE"}:
            if not isinstance(argument, dict):
                raise AlarmEvaluationError(f"{name} needs a time series")
            return _diff(argument, self._period if name == "RATE" else None)
        raise AlarmEvaluationError(f"metric math function {name} is not supported")


def _diff(series: Series, period: float | None) -> Series:
    """Each value minus the preceding value of the series (per second of the gap for RATE)."""
    result: Series = {}
    older = sorted(series, reverse=True)  # oldest first
    for before, index in itertools.pairwise(older):
        change = series[index] - series[before]
        # Index ``before`` is ``before - index`` periods earlier than ``index``.
        result[index] = change if period is None else change / ((before - index) * period)
    return result


def _multiply(a: float, b: float) -> float:
    return a * b


def _divide(a: float, b: float) -> float:
    return a / b if b else math.nan


def _combine(
    left: Series | float, right: Series | float, op: Callable[[float, float], float]
) -> Series | float:
    if isinstance(left, dict) and isinstance(right, dict):
        # "Missing values in a time series are treated as 0."
        return {i: op(left.get(i, 0.0), right.get(i, 0.0)) for i in left.keys() | right.keys()}
    if isinstance(left, dict):
        return {i: op(v, float(right)) for i, v in left.items()}  # type: ignore[arg-type]
    if isinstance(right, dict):
        return {i: op(float(left), v) for i, v in right.items()}
    return op(float(left), float(right))


def _fill(series: Series | float, filler: str | Series | float, span: int) -> Series:
    """Every period of the range, missing ones filled; REPEAT/LINEAR leave gaps with no value
    on the side they need (before the first datapoint; after the last, for LINEAR)."""
    if not isinstance(series, dict):
        raise AlarmEvaluationError("FILL needs a time series")
    if isinstance(filler, dict):
        raise AlarmEvaluationError("FILL fills with a number, REPEAT or LINEAR")
    if not isinstance(filler, str):
        return {i: series.get(i, float(filler)) for i in range(span)}
    filled: Series = dict(series)
    known = sorted(series, reverse=True)  # oldest first
    for before, after in itertools.pairwise(known):
        for i in range(after + 1, before):  # the gap between two real values
            if filler == "REPEAT":
                filled[i] = series[before]
            else:
                share = (before - i) / (before - after)
                filled[i] = series[before] + (series[after] - series[before]) * share
    if filler == "REPEAT" and known:
        for i in range(known[-1]):  # after the most recent real value
            filled[i] = series[known[-1]]
    return filled


def _across(name: str, items: Sequence[Series | float]) -> Series:
    indexes: set[int] = set()
    for item in items:
        if isinstance(item, dict):
            indexes |= item.keys()
    result: Series = {}
    for i in indexes:
        values = [
            item[i] if isinstance(item, dict) else item
            for item in items
            if not isinstance(item, dict) or i in item
        ]
        if name == "SUM":
            result[i] = float(sum(values))
        elif name == "MAX":
            result[i] = float(max(values))
        elif name == "MIN":
            result[i] = float(min(values))
        else:
            result[i] = float(sum(values) / len(values))
    return result


def evaluate_expression(
    text: str, series: Mapping[str, Series], period_emulated: float, span: int | None = None
) -> Series:
    """A metric-math expression over query series (see ``_Parser`` for the supported subset).

    ``span``: the periods of the queried range (default: up to the oldest datapoint given).
    """
    if span is None:
        span = 1 + max((max(s) for s in series.values() if s), default=0)
    value = _Parser(text, series, period_emulated, span).parse()
    if not isinstance(value, dict):
        raise AlarmEvaluationError(f"expression {text!r} is not a time series")
    return {i: v for i, v in value.items() if not math.isnan(v)}


# --- deciding the state -----------------------------------------------------------------------


def decide_state(  # noqa: PLR0911  (one return per documented case)
    series: Series,
    *,
    evaluation_periods: int,
    datapoints_to_alarm: int | None,
    breaches: Callable[[float], bool],
    treat_missing_data: str | None,
    current_state: str,
) -> tuple[str, list[float]]:
    """The new state from a series over the evaluation range, and the datapoints used."""
    needed = evaluation_periods
    to_alarm = datapoints_to_alarm or evaluation_periods
    real = [series[i] for i in sorted(series)][:needed]  # most recent first
    treatment = treat_missing_data or "missing"
    breaching = sum(1 for v in real if breaches(v))
    if len(real) >= needed:
        return (ALARM if breaching >= to_alarm else OK), real
    missing = needed - len(real)
    if treatment == "breaching":
        return (ALARM if breaching + missing >= to_alarm else OK), real
    if treatment == "notBreaching":
        return (ALARM if breaching >= to_alarm else OK), real
    if not real:
        return (INSUFFICIENT_DATA if treatment == "missing" else current_state), real
    if treatment == "ignore":
        if breaching >= to_alarm:
            return ALARM, real
        if len(real) - breaching > needed - to_alarm:
            return OK, real
        return current_state, real
    # "missing": the real datapoints alone decide.
    return (ALARM if breaching >= min(to_alarm, len(real)) else OK), real


# --- reading moto's alarms and metrics --------------------------------------------------------


def _dimensions(items: Sequence[Any]) -> dict[str, str]:
    return {str(d.name): str(d.value) for d in items}


def _raw_datapoints(
    backend: Any, namespace: str, name: str, dimensions: Mapping[str, str]
) -> list[Datapoint]:
    points = []
    for datum in list(backend.metric_data):
        if datum.namespace != namespace or datum.name != name:
            continue
        if _dimensions(datum.dimensions) != dict(dimensions):
            continue
        if not hasattr(datum, "value"):
            continue
        stamp = datum.timestamp
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
        points.append(Datapoint(stamp, float(datum.value)))
    return points


def alarm_series(alarm: Any, backend: Any, now: datetime, clock: EmulatorClock) -> Series:
    """The alarm's datapoints per period over its evaluation range (index 0 = latest)."""
    periods = int(alarm.evaluation_periods) + EXTRA_RANGE_PERIODS
    if not alarm.metric_data_queries:
        period = int(alarm.period)
        stat = alarm.statistic or alarm.extended_statistic
        if not stat:
            raise AlarmEvaluationError(f"alarm {alarm.name} has no statistic")
        points = _raw_datapoints(
            backend, alarm.namespace, alarm.metric_name, _dimensions(alarm.dimensions)
        )
        return bucket_series(points, stat, now, clock.real(period), periods)
    series: dict[str, Series] = {}
    period = 0
    # One more period than the range, so DIFF/RATE have a predecessor for the oldest.
    span = periods + 1
    for query in alarm.metric_data_queries:
        if query.metric_stat is None:
            continue
        period = int(query.metric_stat.period)
        metric = query.metric_stat.metric
        points = _raw_datapoints(
            backend, metric.namespace, metric.metric_name, _dimensions(metric.dimensions)
        )
        series[query.id] = bucket_series(
            points, query.metric_stat.stat, now, clock.real(period), span
        )
    returned = [q for q in alarm.metric_data_queries if _returns_data(q.return_data)]
    if len(returned) != 1:
        raise AlarmEvaluationError(f"alarm {alarm.name} must return exactly one query")
    expressions = {str(q.id): str(q.expression) for q in alarm.metric_data_queries if q.expression}
    result = _query_series(
        str(returned[0].id), series, expressions, period=float(period), span=span
    )
    return {i: v for i, v in result.items() if i < periods}


def _query_series(
    query_id: str,
    series: dict[str, Series],
    expressions: Mapping[str, str],
    *,
    period: float,
    span: int,
    using: frozenset[str] = frozenset(),
) -> Series:
    """One query's series; an expression first resolves the expressions it uses (into
    ``series``)."""
    if query_id in series:
        return series[query_id]
    if query_id in using:
        raise AlarmEvaluationError(f"expression {query_id!r} uses itself")
    text = expressions[query_id]
    for match in _TOKEN.finditer(text):
        name = match.group(2)
        if name in expressions and name not in series:
            _query_series(
                name, series, expressions, period=period, span=span, using=using | {query_id}
            )
    series[query_id] = evaluate_expression(text, series, period, span)
    return series[query_id]


def _returns_data(value: Any) -> bool:
    return value is None or value is True or str(value).lower() == "true"


def evaluate_alarm(alarm: Any, backend: Any, now: datetime, clock: EmulatorClock) -> Verdict:
    """Evaluate one moto alarm at ``now`` (no side effects)."""
    compare = _COMPARISONS.get(alarm.comparison_operator)
    if compare is None:
        raise AlarmEvaluationError(f"comparison {alarm.comparison_operator!r} is not supported")
    threshold = float(alarm.threshold)
    series = alarm_series(alarm, backend, now, clock)
    state, used = decide_state(
        series,
        evaluation_periods=int(alarm.evaluation_periods),
        datapoints_to_alarm=int(alarm.datapoints_to_alarm) if alarm.datapoints_to_alarm else None,
        breaches=lambda value: compare(value, threshold),
        treat_missing_data=alarm.treat_missing_data,
        current_state=alarm.state_value,
    )
    to_alarm = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    shown = ", ".join(f"{v:g}" for v in used)
    periods = int(alarm.evaluation_periods)
    if state == INSUFFICIENT_DATA:
        reason = "Insufficient Data: no datapoints were received in the evaluation range."
    elif not used:
        treated = "Breaching" if state == ALARM else "NonBreaching"
        reason = (
            f"Threshold Crossed: no datapoints were received for {periods} periods and "
            f"{periods} missing datapoints were treated as [{treated}]."
        )
    else:
        reason = (
            f"Threshold Crossed: {to_alarm} out of the last {alarm.evaluation_periods} datapoints "
            f"[{shown}] {'were' if state == ALARM else 'were not'} "
            f"{alarm.comparison_operator} the threshold ({threshold:g})."
        )
    reason_data = {
        "version": "1.0",
        "queryDate": now.isoformat(timespec="milliseconds"),
        "statistic": alarm.statistic,
        "period": int(alarm.period or 0),
        "recentDatapoints": used,
        "threshold": threshold,
        "evaluatedDatapoints": len(used),
    }
    return Verdict(state, reason, reason_data)


# --- state changes and their effects ----------------------------------------------------------


def _notification(
    alarm: Any, old_state: str, account_id: str, region: str, at: datetime
) -> dict[str, Any]:
    trigger: dict[str, Any] = {
        "Period": int(alarm.period or 0),
        "EvaluationPeriods": int(alarm.evaluation_periods),
        "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
        "ComparisonOperator": alarm.comparison_operator,
        "Threshold": float(alarm.threshold),
        "TreatMissingData": alarm.treat_missing_data or "missing",
        "EvaluateLowSampleCountPercentile": "",
    }
    if alarm.metric_data_queries:
        trigger["Metrics"] = [_query_json(q) for q in alarm.metric_data_queries]
    else:
        trigger.update(
            {
                "MetricName": alarm.metric_name,
                "Namespace": alarm.namespace,
                "StatisticType": "Statistic",
                "Statistic": str(alarm.statistic or "").upper(),
                "Unit": alarm.unit,
                "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
            }
        )
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": _stamp(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _stamp(at),
        "Region": _REGION_NAMES.get(region, region),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": trigger,
    }


def _query_json(query: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"Id": query.id, "ReturnData": _returns_data(query.return_data)}
    if query.expression:
        item["Expression"] = query.expression
    if query.metric_stat is not None:
        metric = query.metric_stat.metric
        item["MetricStat"] = {
            "Metric": {
                "Namespace": metric.namespace,
                "MetricName": metric.metric_name,
                "Dimensions": [{"value": d.value, "name": d.name} for d in metric.dimensions],
            },
            "Period": int(query.metric_stat.period),
            "Stat": query.metric_stat.stat,
        }
    return item


def _stamp(value: datetime) -> str:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _state_change_event(alarm: Any, previous: dict[str, Any], at: datetime) -> dict[str, Any]:
    metrics: list[dict[str, Any]] = []
    if alarm.metric_data_queries:
        for query in alarm.metric_data_queries:
            entry: dict[str, Any] = {"id": query.id, "returnData": _returns_data(query.return_data)}
            if query.expression:
                entry["expression"] = query.expression
            if query.metric_stat is not None:
                metric = query.metric_stat.metric
                entry["metricStat"] = {
                    "metric": {
                        "namespace": metric.namespace,
                        "name": metric.metric_name,
                        "dimensions": _dimensions(metric.dimensions),
                    },
                    "period": int(query.metric_stat.period),
                    "stat": query.metric_stat.stat,
                }
            metrics.append(entry)
    else:
        metrics.append(
            {
                "id": "m1",
                "metricStat": {
                    "metric": {
                        "namespace": alarm.namespace,
                        "name": alarm.metric_name,
                        "dimensions": _dimensions(alarm.dimensions),
                    },
                    "period": int(alarm.period),
                    "stat": alarm.statistic,
                },
                "returnData": True,
            }
        )
    return {
        "Source": "aws.cloudwatch",
        "DetailType": "CloudWatch Alarm State Change",
        "Resources": [alarm.alarm_arn],
        "Detail": json.dumps(
            {
                "alarmName": alarm.name,
                "state": {
                    "value": alarm.state_value,
                    "reason": alarm.state_reason,
                    "reasonData": alarm.state_reason_data,
                    "timestamp": _stamp(at),
                },
                "previousState": previous,
                "configuration": {"description": alarm.description, "metrics": metrics},
            }
        ),
    }


@dataclass(frozen=True)
class StateChange:
    """A transition an evaluation made, for callers that want to show it."""

    alarm_name: str
    old_state: str
    new_state: str
    reason: str
    at: datetime


def publish_alarm_action(alarm: Any, topic_arn: str, message: str, subject: str) -> None:
    """Publish an alarm's notification to the SNS topic of one of its actions (CloudWatch does,
    as ``cloudwatch.amazonaws.com``)."""
    from moto.sns.models import sns_backends  # noqa: PLC0415

    parts = topic_arn.split(":")
    sns_backends[parts[4]][parts[3]].publish(message, arn=topic_arn, subject=subject)


def apply_verdict(
    alarm: Any, verdict: Verdict, account_id: str, region: str, at: datetime
) -> StateChange | None:
    """Change the alarm's state if the verdict differs; publish its actions and event."""
    if verdict.state == alarm.state_value:
        return None
    from moto.events.models import events_backends  # noqa: PLC0415

    old_state = alarm.state_value
    previous = {
        "value": old_state,
        "reason": alarm.state_reason,
        "reasonData": alarm.state_reason_data,
        "timestamp": _stamp(alarm.state_updated_timestamp),
    }
    alarm.update_state(verdict.reason, json.dumps(verdict.reason_data), verdict.state)
    actions = {
        ALARM: alarm.alarm_actions,
        OK: alarm.ok_actions,
        INSUFFICIENT_DATA: alarm.insufficient_data_actions,
    }[verdict.state]
    if alarm.actions_enabled:
        message = json.dumps(_notification(alarm, old_state, account_id, region, at))
        subject = f'{verdict.state}: "{alarm.name}" in {_REGION_NAMES.get(region, region)}'[:100]
        for action in actions:
            parts = str(action).split(":")
            if len(parts) >= 6 and parts[2] == "sns":
                try:
                    publish_alarm_action(alarm, str(action), message, subject)
                except Exception:
                    # An action that cannot be delivered must not stop the other alarms.
                    LOGGER.exception("alarm %s: action %s failed", alarm.name, action)
    events_backends[account_id][region].put_events([_state_change_event(alarm, previous, at)])
    return StateChange(alarm.name, old_state, verdict.state, verdict.reason, at)


def evaluate_alarms(now: datetime | None = None) -> list[StateChange]:
    """Evaluate every metric alarm of every account and region once; return the changes."""
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    at = (now or datetime.now(UTC)).astimezone(UTC)
    clock = current_clock()
    changes = []
    for account_id, regions in list(cloudwatch_backends.items()):
        for region, backend in list(regions.items()):
            for alarm in list(backend.alarms.values()):
                if getattr(alarm, "rule", None):
                    continue  # composite alarms are not evaluated here
                try:
                    verdict = evaluate_alarm(alarm, backend, at, clock)
                except AlarmEvaluationError as exc:
                    LOGGER.warning("alarm %s not evaluated: %s", alarm.name, exc)
                    continue
                change = apply_verdict(alarm, verdict, account_id, region, at)
                if change is not None:
                    changes.append(change)
    return changes


def _patches() -> list[Patch]:
    from moto.cloudwatch.models import CloudWatchBackend  # noqa: PLC0415
    from moto.core.utils import utcnow  # noqa: PLC0415

    moto_put: Callable[..., Any] = CloudWatchBackend.put_metric_alarm

    def put_metric_alarm(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        existing = self.alarms.get(name)
        alarm = moto_put(self, name, *args, **kwargs)
        if existing is not None:
            # "When you update an existing alarm, its state is left unchanged."
            alarm.state_value = existing.state_value
            alarm.state_reason = existing.state_reason
            alarm.state_reason_data = existing.state_reason_data
            alarm.state_updated_timestamp = existing.state_updated_timestamp
            alarm.history = existing.history
        else:
            # "When this operation creates an alarm, the alarm state is immediately set to
            # INSUFFICIENT_DATA."
            alarm.state_value = INSUFFICIENT_DATA
            alarm.state_reason = "Unchecked: Initial alarm creation"
            alarm.state_updated_timestamp = utcnow()
        return alarm

    return [Patch(CloudWatchBackend, "put_metric_alarm", put_metric_alarm)]


_EXTENSION = Extension("alarm-evaluation", _patches)


def install() -> None:
    """Alarms start in INSUFFICIENT_DATA and keep their state on update (evaluation is separate)."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's alarm creation."""
    _EXTENSION.uninstall()
