"""X-Ray GetSamplingRules and GetSamplingTargets, which moto does not serve.

"Using sampling rules with the X-Ray API"
(https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sampling.html): a service gets every
sampling rule with GetSamplingRules and evaluates them in ascending order of priority; it reports
its decisions of the last interval (10 seconds) per rule with GetSamplingTargets, which answers,
per rule, the fixed rate and the reservoir quota X-Ray assigns that client, good for five minutes
(``ReservoirQuotaTTL``), and the ``Interval`` after which to report again. A rule's reservoir
"applies across all services cumulatively": here it is divided among the clients that reported
on the rule within the last interval, in the order of their ``ClientID``. A statistics document
for a rule that does not exist comes back in ``UnprocessedStatistics``.

Every account has the ``Default`` rule, which records the first request each second and five
percent of any additional requests ("Configure X-Ray tracing for Step Functions",
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html). Rules cannot be
created or changed here (CreateSamplingRule and UpdateSamplingRule are not emulated), so Default
is the only rule. Durations (the interval, the quota's five minutes) run on the emulator clock.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from orderflow.emulator.clock import current_clock
from orderflow.emulator.extension import Extension, Patch

DEFAULT_RULE_NAME = "Default"
DEFAULT_RESERVOIR = 1
"""The Default rule's reservoir: the first request each second."""
DEFAULT_FIXED_RATE = 0.05
"""The Default rule's fixed rate: five percent of the requests beyond the reservoir."""
DEFAULT_PRIORITY = 10000
REPORT_INTERVAL_SECONDS = 10
QUOTA_SECONDS = 300

_REPORTS: dict[tuple[str, str, str], dict[str, float]] = {}
"""(account, region, rule) -> ClientID -> when (monotonic) it last reported on the rule."""
_LOCK = threading.Lock()


def default_rule(account: str, region: str, partition: str = "aws") -> dict[str, Any]:
    """The account's Default sampling rule, as GetSamplingRules returns it."""
    return {
        "RuleName": DEFAULT_RULE_NAME,
        "RuleARN": f"arn:{partition}:xray:{region}:{account}:sampling-rule/{DEFAULT_RULE_NAME}",
        "ResourceARN": "*",
        "Priority": DEFAULT_PRIORITY,
        "FixedRate": DEFAULT_FIXED_RATE,
        "ReservoirSize": DEFAULT_RESERVOIR,
        "ServiceName": "*",
        "ServiceType": "*",
        "Host": "*",
        "HTTPMethod": "*",
        "URLPath": "*",
        "Version": 1,
        "Attributes": {},
    }


def _rules(account: str, region: str, partition: str) -> dict[str, dict[str, Any]]:
    rule = default_rule(account, region, partition)
    return {rule["RuleName"]: rule}


def _quota(key: tuple[str, str, str], client_id: str, reservoir: int) -> int:
    """The client's share of the rule's reservoir among the clients reporting on it now."""
    now = time.monotonic()
    window = current_clock().real(REPORT_INTERVAL_SECONDS)
    with _LOCK:
        reports = _REPORTS.setdefault(key, {})
        reports[client_id] = now
        for other, at in list(reports.items()):
            if now - at > window:
                del reports[other]
        clients = sorted(reports)
    share, extra = divmod(reservoir, len(clients))
    return share + (1 if clients.index(client_id) < extra else 0)


def _get_sampling_rules(self: Any) -> str:
    partition = str(getattr(self, "partition", "aws"))
    rules = _rules(str(self.current_account), str(self.region), partition)
    records = [
        {"SamplingRule": rule, "CreatedAt": 0.0, "ModifiedAt": 0.0} for rule in rules.values()
    ]
    return json.dumps({"SamplingRuleRecords": records})


def _sampling_targets(self: Any) -> str:
    account, region = str(self.current_account), str(self.region)
    rules = _rules(account, region, str(getattr(self, "partition", "aws")))
    targets, unprocessed = [], []
    expires = time.time() + current_clock().real(QUOTA_SECONDS)
    for document in self._get_param("SamplingStatisticsDocuments") or []:
        name = str(document.get("RuleName", ""))
        rule = rules.get(name)
        if rule is None:
            unprocessed.append(
                {"RuleName": name, "ErrorCode": "400", "Message": f"no sampling rule {name!r}"}
            )
            continue
        client_id = str(document.get("ClientID", ""))
        quota = _quota((account, region, name), client_id, rule["ReservoirSize"])
        targets.append(
            {
                "RuleName": name,
                "FixedRate": rule["FixedRate"],
                "ReservoirQuota": quota,
                "ReservoirQuotaTTL": expires,
                "Interval": REPORT_INTERVAL_SECONDS,
            }
        )
    return json.dumps(
        {
            "SamplingTargetDocuments": targets,
            "LastRuleModification": 0.0,
            "UnprocessedStatistics": unprocessed,
        }
    )


def _patches() -> list[Patch]:
    from moto.xray import urls  # noqa: PLC0415
    from moto.xray.responses import XRayResponse  # noqa: PLC0415

    return [
        Patch(urls.url_paths, "{0}/GetSamplingRules$", XRayResponse.dispatch),
        Patch(urls.url_paths, "{0}/SamplingTargets$", XRayResponse.dispatch),
        # moto names an X-Ray action by its path: /GetSamplingRules, /SamplingTargets.
        Patch(XRayResponse, "get_sampling_rules", _get_sampling_rules),
        Patch(XRayResponse, "sampling_targets", _sampling_targets),
    ]


def _clear_reports() -> None:
    with _LOCK:
        _REPORTS.clear()


_EXTENSION = Extension("xray-sampling", _patches)


def install() -> None:
    """Serve GetSamplingRules (the Default rule) and GetSamplingTargets."""
    if not _EXTENSION.installed:
        _clear_reports()
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's X-Ray (no sampling API)."""
    _EXTENSION.uninstall()
    _clear_reports()
