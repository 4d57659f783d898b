"""What ``sam deploy`` needs from CloudFormation: the SAM transform, change sets, updates.

CloudFormation applies the ``AWS::Serverless-2016-10-31`` transform itself, as AWS does.

A template that declares the transform is expanded (aws-sam-translator, managed policy ARNs
from its bundled list, so no AWS call) when CloudFormation receives it: CreateStack,
UpdateStack and CreateChangeSet. The stack keeps the processed template, which GetTemplate
returns by default; ``TemplateStage=Original`` returns what was submitted. A template the
transform rejects fails the call with the transform's reasons, as AWS reports them.

``sam deploy`` goes through change sets, and moto's ExecuteChangeSet leaves the stack half
updated; this module completes it as the CloudFormation API reference describes the result:
the stack's outputs, description and parameters are those of the executed change set, and an
update sets the stack's LastUpdatedTime (UpdateStack too). ``UsePreviousValue`` of an
SSM-typed parameter reuses the parameter's name, not its resolved value. A change set lists as
``Modify`` the resources that reference a parameter whose value changed, and an AWS::SQS::Queue
whose properties changed is updated in place (every property but QueueName and FifoQueue
updates with no interruption), keeping its messages. A ``TemplateURL`` on the embedded AWS's
own endpoint is read path-style (``http://host:port/bucket/key[?versionId=v]``), which is how
``sam deploy`` addresses the template it uploads when the endpoint is not an AWS domain.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from orderflow.emulator.extension import Extension, Patch

TRANSFORM = "AWS::Serverless-2016-10-31"
_SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::"
ORIGINAL_STAGE = "Original"
PROCESSED_STAGE = "Processed"


class SamTransformError(ValueError):
    """The SAM transform rejected a template; the message lists its reasons."""


def declares_serverless_transform(template: Mapping[str, Any]) -> bool:
    """True when the template's Transform section (a name or a list) names the SAM transform."""
    declared = template.get("Transform")
    names = declared if isinstance(declared, list) else [declared]
    return TRANSFORM in names


def sam_to_cloudformation(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    region: str = "us-east-1",
    account_id: str | None = None,
) -> dict[str, Any]:
    """Plain CloudFormation from a SAM template (a template without the transform unchanged)."""
    if not declares_serverless_transform(template):
        return dict(template)
    import boto3  # noqa: PLC0415
    from samtranslator.internal.managed_policies import (  # noqa: PLC0415
        get_bundled_managed_policy_map,
    )
    from samtranslator.model.exceptions import InvalidDocumentException  # noqa: PLC0415
    from samtranslator.parser.parser import Parser  # noqa: PLC0415
    from samtranslator.translator.translator import Translator  # noqa: PLC0415
    from samtranslator.utils.py27hash_fix import (  # noqa: PLC0415
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    # The translator's own usage metrics warn about themselves when it is used as a library.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    document = json.loads(json.dumps(template))  # the translator edits its input
    values: dict[str, Any] = dict(parameters)
    if account_id:
        values.setdefault("AWS::AccountId", account_id)
    to_py27_compatible_template(document, values)
    # The region comes from a session of our own, and managed policy ARNs from the
    # translator's bundled list: transforming calls no AWS API.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        result = translator.translate(
            document,
            parameter_values=values,
            get_managed_policy_map=lambda: dict(get_bundled_managed_policy_map("aws") or {}),
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes)
        raise SamTransformError(causes) from exc
    transformed: dict[str, Any] = undo_mark_unicode_str_in_template(result)
    return transformed


def _processed(
    template: str | None, parameters: Mapping[str, Any], region: str, account_id: str
) -> str | None:
    """The template text CloudFormation works from: transformed when it declares SAM."""
    if not template:
        return template
    from moto.cloudformation.exceptions import ValidationError  # noqa: PLC0415
    from moto.cloudformation.models import Stack  # noqa: PLC0415

    document = Stack.parse_template(template)
    if not isinstance(document, Mapping) or not declares_serverless_transform(document):
        return template
    values = {k: str(v) for k, v in parameters.items() if v is not None}
    try:
        return json.dumps(sam_to_cloudformation(document, values, region, account_id))
    except SamTransformError as exc:
        # CloudFormation's wording for a template its SAM transform rejects.
        raise ValidationError(
            message=f"Transform {TRANSFORM} failed with: Invalid Serverless Application "
            f"Specification document. {exc}"
        ) from exc


def _path_style_object(template_url: str) -> tuple[str, str, str | None] | None:
    """(bucket, key, version) of a path-style URL on a non-AWS host; None for AWS URLs."""
    from urllib.parse import parse_qs, urlparse  # noqa: PLC0415

    url = urlparse(template_url)
    if url.hostname is None or url.hostname.endswith(".amazonaws.com"):
        return None
    bucket, _, key = url.path.lstrip("/").partition("/")
    version = parse_qs(url.query).get("versionId", [None])[0]
    return bucket, key, version


def _complete(stack: Any, change_set: Any) -> None:
    """What an executed change set leaves on its stack: outputs, description, parameters."""
    stack.template_dict = stack.parse_template(stack.template)
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()
    stack.parameters = dict(change_set.parameters or {})
    original = getattr(change_set, "original_template", None)
    if original is not None:
        stack.original_template = original


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)
"""AWS::SQS::Queue properties that are queue attributes updated with no interruption."""


def _queue_attributes(properties: Mapping[str, Any]) -> dict[str, str]:
    """SetQueueAttributes values for a queue's template properties (JSON for the policies)."""
    attributes = {}
    for name in _QUEUE_ATTRIBUTES:
        if name in properties:
            value = properties[name]
            if isinstance(value, Mapping):
                attributes[name] = json.dumps(value)
            elif isinstance(value, bool):
                attributes[name] = str(value).lower()
            else:
                attributes[name] = str(value)
    return attributes


def _transform_patches() -> list[Patch]:
    """CreateStack, UpdateStack and CreateChangeSet expand SAM; GetTemplate has both stages."""
    from moto.cloudformation.models import CloudFormationBackend  # noqa: PLC0415
    from moto.cloudformation.responses import CloudFormationResponse  # noqa: PLC0415
    from moto.core.responses import ActionResult  # noqa: PLC0415

    moto_create_stack: Callable[..., Any] = CloudFormationBackend.create_stack
    moto_update_stack: Callable[..., Any] = CloudFormationBackend.update_stack
    moto_create_change_set: Callable[..., Any] = CloudFormationBackend.create_change_set
    moto_get_template: Callable[..., ActionResult] = CloudFormationResponse.get_template

    # moto's responses call these backend methods with keyword arguments only.
    def create_stack(self: CloudFormationBackend, **kw: Any) -> Any:
        submitted = kw["template"]
        kw["template"] = _processed(submitted, kw["parameters"], self.region_name, self.account_id)
        stack = moto_create_stack(self, **kw)
        stack.original_template = submitted
        return stack

    def update_stack(self: CloudFormationBackend, **kw: Any) -> Any:
        submitted = kw["template"]
        stack = self.get_stack(kw["name"])
        values = self._resolve_update_parameters(instance=stack, incoming_params=kw["parameters"])
        kw["template"] = _processed(submitted, values, self.region_name, self.account_id)
        stack = moto_update_stack(self, **kw)
        stack.original_template = submitted
        return stack

    def create_change_set(self: CloudFormationBackend, **kw: Any) -> tuple[str, str]:
        submitted = kw["template"]
        kw["template"] = _processed(submitted, kw["parameters"], self.region_name, self.account_id)
        change_set_id, stack_id = moto_create_change_set(self, **kw)
        change_set: Any = self.change_sets[change_set_id]
        change_set.original_template = submitted
        return change_set_id, stack_id

    def get_template(self: CloudFormationResponse) -> ActionResult:
        # GetTemplate returns the processed template unless asked for the Original stage.
        if self._get_param("TemplateStage") != ORIGINAL_STAGE or self._get_param("ChangeSetName"):
            return moto_get_template(self)
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        body = getattr(stack, "original_template", None) or stack.template
        return ActionResult(
            {"TemplateBody": body, "StagesAvailable": [ORIGINAL_STAGE, PROCESSED_STAGE]}
        )

    return [
        Patch(CloudFormationResponse, "_get_stack_from_s3_url", _template_from_url_patch()),
        Patch(CloudFormationBackend, "create_stack", create_stack),
        Patch(CloudFormationBackend, "update_stack", update_stack),
        Patch(CloudFormationBackend, "create_change_set", create_change_set),
        Patch(CloudFormationResponse, "get_template", get_template),
    ]


def _template_from_url_patch() -> Callable[..., str]:
    from moto.cloudformation.exceptions import ValidationError  # noqa: PLC0415
    from moto.cloudformation.responses import CloudFormationResponse  # noqa: PLC0415
    from moto.s3.models import s3_backends  # noqa: PLC0415

    moto_template_from_url: Callable[..., str] = CloudFormationResponse._get_stack_from_s3_url

    def template_from_url(self: CloudFormationResponse, template_url: str) -> str:
        location = _path_style_object(template_url)
        if location is None:
            return str(moto_template_from_url(self, template_url))
        bucket, key, version = location
        backend = s3_backends[self.current_account][self.partition]
        found = backend.get_object(bucket, key, version_id=version)
        if found is None:
            raise ValidationError(message=f"TemplateURL must reference a valid S3 object: {key}")
        return str(found.value.decode("utf-8"))

    return template_from_url


def _change_set_patches() -> list[Patch]:
    """ExecuteChangeSet completes its stack; change sets list parameter-driven changes."""
    from moto.cloudformation.models import (  # noqa: PLC0415
        Change,
        ChangeSet,
        CloudFormationBackend,
        Stack,
    )
    from moto.core.utils import utcnow  # noqa: PLC0415

    moto_execute_change_set: Callable[..., Any] = CloudFormationBackend.execute_change_set
    moto_stack_update: Callable[..., Any] = Stack.update

    def execute_change_set(
        self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
    ) -> None:
        change_set = self.describe_change_set(change_set_name)
        moto_execute_change_set(self, change_set_name, stack_name)
        if change_set is None:
            return
        stack: Any = self.stacks[change_set.stack_id]
        _complete(stack, change_set)
        if change_set.change_set_type == "UPDATE":
            stack.last_updated_time = utcnow()

    def previous_values(self: Any) -> dict[str, Any]:
        # UsePreviousValue takes the value the stack was given: for an SSM-typed parameter that
        # is the parameter's name (its resolved value is only the ResolvedValue).
        values = dict(self.resource_map.resolved_parameters)
        slots = (self.template_dict or {}).get("Parameters") or {}
        for name, slot in slots.items():
            if name in values and str(slot.get("Type", "")).startswith(_SSM_PARAMETER_TYPE):
                values[name] = self.parameters.get(name, slot.get("Default"))
        return values

    def stack_update(self: Any, *args: Any, **kwargs: Any) -> None:
        moto_stack_update(self, *args, **kwargs)
        self.last_updated_time = utcnow()

    def change_set_diff(self: ChangeSet) -> list[Any]:
        # A resource whose definition is unchanged but references a changed parameter is
        # modified too (moto lists only resources whose template text changed).
        resource_map = self.stack.resource_map
        by_action = resource_map.build_resource_diff(self.template_dict, self.parameters)
        resources = self.template_dict.get("Resources", {})
        changes = []
        for action, names in by_action.items():
            for name in dict.fromkeys(names):
                if action == "Remove":
                    kind = resource_map._resource_json_map[name]["Type"]
                else:
                    kind = resources[name]["Type"]
                changes.append(Change(action=action, logical_resource_id=name, resource_type=kind))
        return changes

    return [
        Patch(CloudFormationBackend, "execute_change_set", execute_change_set),
        Patch(Stack, "update", stack_update),
        Patch(Stack, "stack_parameters", property(previous_values)),
        Patch(ChangeSet, "diff", change_set_diff),
    ]


def _queue_update_patch() -> Patch:
    """AWS::SQS::Queue property changes update the queue in place, messages kept."""
    from moto.sqs.models import Queue, sqs_backends  # noqa: PLC0415

    moto_queue_update = Queue.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def queue_update(cls: type[Queue], /, **kw: Any) -> Any:
        queue = moto_queue_update(cls, **kw)
        properties = kw["cloudformation_json"].get("Properties", {})
        backend = sqs_backends[kw["account_id"]][kw["region_name"]]
        attributes = _queue_attributes(properties)
        if attributes:
            backend.set_queue_attributes(queue.name, attributes)
        tags = properties.get("Tags")
        if isinstance(tags, list) and tags:
            backend.tag_queue(queue.name, {str(t["Key"]): str(t["Value"]) for t in tags})
        return queue

    return Patch(Queue, "update_from_cloudformation_json", classmethod(queue_update))


def _patches() -> list[Patch]:
    return [*_transform_patches(), *_change_set_patches(), _queue_update_patch()]


_EXTENSION = Extension("cfn-sam-deploy", _patches)


def install() -> None:
    """CloudFormation expands SAM templates and completes executed change sets."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's CloudFormation as shipped."""
    _EXTENSION.uninstall()
