"""CloudFormation resource types moto's CloudFormation skips, created for real in its backends.

moto's stack creation logs "No Moto CloudFormation support" and silently leaves these out, which
would deploy a topic with no subscriptions and queues with no policy. Each type here creates
the real resource in the moto backend from the template's properties, as CloudFormation does
(AWS::SNS::Subscription with the template's FilterPolicy and FilterPolicyScope, so the template's
filter is what filters), answers ``Ref``/``Fn::GetAtt`` as the CloudFormation reference for that
type documents, and removes the resource when the stack is deleted.

It also resolves an ``AWS::SSM::Parameter::Value`` parameter's Default only when the stack
passes no value for it, as CloudFormation does, and keeps the AWS::Lambda::Function properties
moto's CloudFormation drops that the runtime reads back (TracingConfig, Architectures, Layers).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from orderflow.emulator.extension import Extension, Patch


class UnsupportedPropertyError(ValueError):
    """A template sets a property this emulation does not implement (never silently dropped)."""


def _json_text(value: Any) -> str:
    """A JSON property as text. A YAML template's unquoted ``Version: 2012-10-17`` loads as a
    date; CloudFormation keeps it as the string the template wrote."""
    return value if isinstance(value, str) else json.dumps(value, default=_iso_date)


def _iso_date(value: Any) -> str:
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class EmulatedResource:
    """What moto's CloudFormation needs from a resource it created."""

    TYPE: ClassVar[str]
    ATTRIBUTES: ClassVar[frozenset[str]] = frozenset()

    cf_resource_type: str
    logical_resource_id: str

    def __init__(self, physical_resource_id: str, attributes: Mapping[str, str]) -> None:
        self.physical_resource_id = physical_resource_id
        self._attributes = dict(attributes)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name not in self._attributes:
            from moto.cloudformation.exceptions import (  # noqa: PLC0415
                UnformattedGetAttTemplateException,
            )

            raise UnformattedGetAttTemplateException
        return self._attributes[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> EmulatedResource:
        return cls.create(resource_name, cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def create(
        cls, generated_name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> EmulatedResource:
        raise NotImplementedError

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls.remove(
            resource_name, cloudformation_json.get("Properties", {}), account_id, region_name
        )

    @classmethod
    def remove(
        cls, physical_id: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        raise NotImplementedError

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: EmulatedResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> EmulatedResource:
        # Replacement semantics: remove what the old properties made, create from the new ones.
        cls.remove(original_resource.physical_resource_id, {}, account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )


class SnsSubscription(EmulatedResource):
    """AWS::SNS::Subscription. Ref and GetAtt Arn: the subscription ARN."""

    TYPE = "AWS::SNS::Subscription"
    ATTRIBUTES = frozenset({"Arn"})
    _SETTABLE = ("RawMessageDelivery", "DeliveryPolicy", "RedrivePolicy", "SubscriptionRoleArn")

    @classmethod
    def create(
        cls, generated_name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> EmulatedResource:
        from moto.sns.models import sns_backends  # noqa: PLC0415

        topic_arn = properties["TopicArn"]
        backend = sns_backends[account_id][properties.get("Region", topic_arn.split(":")[3])]
        subscription = backend.subscribe(topic_arn, properties["Endpoint"], properties["Protocol"])
        # The scope first: the filter policy is validated against it (as the API does).
        if "FilterPolicyScope" in properties:
            backend.set_subscription_attributes(
                subscription.arn, "FilterPolicyScope", properties["FilterPolicyScope"]
            )
        if "FilterPolicy" in properties:
            backend.set_subscription_attributes(
                subscription.arn, "FilterPolicy", _json_text(properties["FilterPolicy"])
            )
        for name in cls._SETTABLE:
            if name not in properties:
                continue
            value = properties[name]
            if name == "RawMessageDelivery":
                # moto delivers raw on any truthy value, and the string "false" is truthy.
                value = _flag(value)
            elif isinstance(value, dict):
                value = json.dumps(value)
            backend.set_subscription_attributes(subscription.arn, name, value)
        return cls(subscription.arn, {"Arn": subscription.arn})

    @classmethod
    def remove(
        cls, physical_id: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.sns.models import sns_backends  # noqa: PLC0415

        sns_backends[account_id][physical_id.split(":")[3]].unsubscribe(physical_id)


class SqsQueuePolicy(EmulatedResource):
    """AWS::SQS::QueuePolicy: sets the Policy attribute of each queue. Ref: a policy id."""

    TYPE = "AWS::SQS::QueuePolicy"
    ATTRIBUTES = frozenset({"Id"})

    @classmethod
    def create(
        cls, generated_name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> EmulatedResource:
        from moto.sqs.models import sqs_backends  # noqa: PLC0415

        backend = sqs_backends[account_id][region_name]
        document = _json_text(properties["PolicyDocument"])
        queues = [str(url).rstrip("/").split("/")[-1] for url in properties["Queues"]]
        for name in queues:
            backend.set_queue_attributes(name, {"Policy": document})
        physical_id = f"{generated_name}|{','.join(queues)}"
        return cls(physical_id, {"Id": physical_id})

    @classmethod
    def remove(
        cls, physical_id: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.sqs.models import sqs_backends  # noqa: PLC0415

        backend = sqs_backends[account_id][region_name]
        for name in physical_id.split("|", 1)[1].split(","):
            if name in backend.queues:
                backend.set_queue_attributes(name, {"Policy": ""})


class SnsTopicPolicy(EmulatedResource):
    """AWS::SNS::TopicPolicy: sets the Policy attribute of each topic. Ref: a policy id."""

    TYPE = "AWS::SNS::TopicPolicy"
    ATTRIBUTES = frozenset({"Id"})

    @classmethod
    def create(
        cls, generated_name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> EmulatedResource:
        from moto.sns.models import sns_backends  # noqa: PLC0415

        document = _json_text(properties["PolicyDocument"])
        topics = [str(arn) for arn in properties["Topics"]]
        for arn in topics:
            sns_backends[account_id][arn.split(":")[3]].set_topic_attribute(arn, "policy", document)
        physical_id = f"{generated_name}|{','.join(topics)}"
        return cls(physical_id, {"Id": physical_id})

    @classmethod
    def remove(
        cls, physical_id: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        # CloudFormation restores the default policy on delete; moto builds it the same way.
        from moto.sns.models import sns_backends  # noqa: PLC0415

        for arn in physical_id.split("|", 1)[1].split(","):
            backend = sns_backends[account_id][arn.split(":")[3]]
            if arn in backend.topics:
                topic = backend.topics[arn]
                topic._policy_json = topic._create_default_topic_policy(
                    region_name, account_id, topic.name
                )


class SnsTopicInlinePolicy(EmulatedResource):
    """AWS::SNS::TopicInlinePolicy: the one policy of one topic. Ref: the topic ARN."""

    TYPE = "AWS::SNS::TopicInlinePolicy"

    @classmethod
    def create(
        cls, generated_name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> EmulatedResource:
        created = SnsTopicPolicy.create(
            generated_name,
            {"PolicyDocument": properties["PolicyDocument"], "Topics": [properties["TopicArn"]]},
            account_id,
            region_name,
        )
        return cls(created.physical_resource_id, {})

    @classmethod
    def remove(
        cls, physical_id: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        SnsTopicPolicy.remove(physical_id, properties, account_id, region_name)


def metric_data_queries(metrics: list[dict[str, Any]]) -> list[Any]:
    """moto's MetricDataQuery objects from the API/template shape of an alarm's ``Metrics``."""
    from moto.cloudwatch.models import (  # noqa: PLC0415
        Dimension,
        Metric,
        MetricDataQuery,
        MetricStat,
    )

    queries = []
    for metric in metrics:
        stat = None
        if "MetricStat" in metric:
            spec = metric["MetricStat"]
            stat = MetricStat(
                metric=Metric(
                    metric_name=spec["Metric"]["MetricName"],
                    namespace=spec["Metric"]["Namespace"],
                    dimensions=[
                        Dimension(d["Name"], d["Value"])
                        for d in spec["Metric"].get("Dimensions", [])
                    ],
                ),
                period=spec["Period"],
                stat=spec["Stat"],
                unit=spec.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=metric["Id"],
                label=metric.get("Label", ""),
                period=metric.get("Period", ""),
                return_data=metric.get("ReturnData", True),
                expression=metric.get("Expression"),
                metric_stat=stat,
            )
        )
    return queries


class CloudWatchAlarm(EmulatedResource):
    """AWS::CloudWatch::Alarm (metric or metric-math). Ref: the alarm name; GetAtt Arn."""

    TYPE = "AWS::CloudWatch::Alarm"
    ATTRIBUTES = frozenset({"Arn"})

    @classmethod
    def create(
        cls, generated_name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> EmulatedResource:
        from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

        name = properties.get("AlarmName", generated_name)
        metrics = properties.get("Metrics")
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=properties.get("Namespace", ""),
            metric_name=properties.get("MetricName", ""),
            metric_data_queries=metric_data_queries(metrics) if metrics else None,
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            datapoints_to_alarm=(
                int(properties["DatapointsToAlarm"]) if "DatapointsToAlarm" in properties else None
            ),
            period=int(properties.get("Period", 0)),
            threshold=float(properties.get("Threshold", 0)),
            statistic=properties.get("Statistic", ""),
            extended_statistic=properties.get("ExtendedStatistic"),
            description=properties.get("AlarmDescription", ""),
            dimensions=list(properties.get("Dimensions", [])),
            alarm_actions=list(properties.get("AlarmActions", [])),
            ok_actions=list(properties.get("OKActions", [])),
            insufficient_data_actions=list(properties.get("InsufficientDataActions", [])),
            unit=properties.get("Unit"),
            actions_enabled=_flag(properties.get("ActionsEnabled", True)),
            treat_missing_data=properties.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=properties.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=properties.get("ThresholdMetricId"),
        )
        return cls(name, {"Arn": alarm.alarm_arn})

    @classmethod
    def remove(
        cls, physical_id: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

        cloudwatch_backends[account_id][region_name].delete_alarms([physical_id])


class SesTemplate(EmulatedResource):
    """AWS::SES::Template: an email template SES v1 and v2 sends read. Ref: the template name."""

    TYPE = "AWS::SES::Template"

    @classmethod
    def create(
        cls, generated_name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> EmulatedResource:
        from moto.core.utils import utcnow  # noqa: PLC0415
        from moto.ses.models import ses_backends  # noqa: PLC0415

        template = properties.get("Template", {})
        name = template.get("TemplateName", generated_name)
        # moto's own CreateTemplate stores the creation time next to the parts.
        info: dict[str, Any] = {
            "template_name": name,
            "subject_part": template.get("SubjectPart", ""),
            "html_part": template.get("HtmlPart", ""),
            "text_part": template.get("TextPart", ""),
            "Timestamp": utcnow(),
        }
        ses_backends[account_id][region_name].add_template(info)
        return cls(name, {})

    @classmethod
    def remove(
        cls, physical_id: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.ses.models import ses_backends  # noqa: PLC0415

        ses_backends[account_id][region_name].templates.pop(physical_id, None)


class SesEmailIdentity(EmulatedResource):
    """AWS::SES::EmailIdentity: a verified sender (address or domain). Ref: the identity."""

    TYPE = "AWS::SES::EmailIdentity"

    @classmethod
    def create(
        cls, generated_name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> EmulatedResource:
        from moto.ses.models import ses_backends  # noqa: PLC0415

        identity = properties["EmailIdentity"]
        backend = ses_backends[account_id][region_name]
        if "@" in identity:
            backend.verify_email_identity(identity)
        else:
            backend.verify_domain(identity)
        return cls(identity, {})

    @classmethod
    def remove(
        cls, physical_id: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.ses.models import ses_backends  # noqa: PLC0415

        ses_backends[account_id][region_name].delete_identity(physical_id)


RESOURCE_TYPES: dict[str, type[EmulatedResource]] = {
    model.TYPE: model
    for model in (
        SnsSubscription,
        SqsQueuePolicy,
        SnsTopicPolicy,
        SnsTopicInlinePolicy,
        CloudWatchAlarm,
        SesTemplate,
        SesEmailIdentity,
    )
}
"""The resource types this module adds to moto's CloudFormation."""


def _patches() -> list[Patch]:
    from moto.cloudformation import parsing  # noqa: PLC0415

    moto_resource_class: Callable[[str], Any] = parsing.resource_class_from_type
    moto_load_parameters: Callable[[Any], None] = parsing.ResourceMap.load_parameters
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415

    moto_create_function = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_function(
        cls: type[LambdaFunction],
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        function = moto_create_function(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        properties = cloudformation_json["Properties"]
        if "TracingConfig" in properties:
            function.tracing_config = dict(properties["TracingConfig"])
        if "Architectures" in properties:
            function.architectures = list(properties["Architectures"])
        if properties.get("Layers"):
            function.layers = function._get_layers_data(list(properties["Layers"]))
        return function

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type in RESOURCE_TYPES:
            return RESOURCE_TYPES[resource_type]
        return moto_resource_class(resource_type)

    def load_parameters(self: Any) -> None:
        # CloudFormation resolves an SSM-typed parameter's Default only when the stack passes
        # no value; moto resolves every Default first and fails on a path that does not exist
        # (a service template's dev default when deploying another stage).
        slots = self._template.get("Parameters", {})
        hidden = {
            name: slots[name].pop("Default")
            for name in self.input_parameters
            if name in slots
            and str(slots[name].get("Type", "")).startswith("AWS::SSM::Parameter::")
            and "Default" in slots[name]
        }
        try:
            moto_load_parameters(self)
        finally:
            for name, default in hidden.items():
                slots[name]["Default"] = default

    return [
        Patch(parsing, "resource_class_from_type", resource_class_from_type),
        Patch(parsing.ResourceMap, "load_parameters", load_parameters),
        Patch(LambdaFunction, "create_from_cloudformation_json", classmethod(create_function)),
    ]


_EXTENSION = Extension("cfn-resources", _patches)


def install() -> None:
    """Teach moto's CloudFormation the resource types in RESOURCE_TYPES."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's CloudFormation as shipped."""
    _EXTENSION.uninstall()
