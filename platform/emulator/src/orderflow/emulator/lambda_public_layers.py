"""The public Powertools for AWS Lambda (Python) layer, as AWS publishes it in every region.

AWS publishes the layer from account 017000801446 as ``AWSLambdaPowertoolsPythonV3-<python>-
<arch>`` and, per region, the public SSM parameter
``/aws/service/powertools/python/<arch>/<python>/<version>`` (and ``.../latest``) whose value is
that region's layer version ARN (Powertools for AWS Lambda (Python), "Lambda Layer",
https://docs.aws.amazon.com/powertools/python/latest/getting-started/lambda-layers/). A function
in any account may use it: its layer versions grant ``lambda:GetLayerVersion`` to everyone
(AWS Lambda Developer Guide, "Adding layers to functions",
https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html).

moto has neither: the SSM parameter is not found, and a function may only use layers of its own
account (``UnknownLayerVersionException``), so no template that takes the layer the documented
way deploys. This module publishes, on first use in a region, the layer holding the Powertools
this emulator runs with (the workspace's locked version; the local runtime runs functions with
the same installed package), and lets every account's functions use it. A template that pins
another Powertools version finds no parameter, as it would find none on AWS for a version that
does not exist: the local stage deploys only what the local runtime can run.
"""

from __future__ import annotations

import base64
import io
import threading
import zipfile
from importlib import metadata
from typing import Any

from orderflow.emulator.extension import Extension, Patch

PUBLISHER_ACCOUNT = "017000801446"
PARAMETER_PREFIX = "/aws/service/powertools/python/"
ARCHITECTURES = ("x86_64", "arm64")
PYTHONS = ("python3.10", "python3.11", "python3.12", "python3.13")

_LOCK = threading.Lock()
_LOADED = "_orderflow_powertools_loaded"


def powertools_version() -> str:
    """The Powertools version the layer holds: the one installed here."""
    return metadata.version("aws-lambda-powertools")


def layer_name(python: str, architecture: str) -> str:
    """``AWSLambdaPowertoolsPythonV3-python312-x86_64``, as Powertools names its layers."""
    return f"AWSLambdaPowertoolsPythonV3-{python.replace('.', '')}-{architecture}"


def parameter_name(python: str, architecture: str, version: str) -> str:
    return f"{PARAMETER_PREFIX}{architecture}/{python}/{version}"


def _layer_zip(version: str) -> bytes:
    """A layer zip naming what it stands for; the local runtime imports the installed package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            zipfile.ZipInfo(
                f"python/aws_lambda_powertools-{version}.dist-info/METADATA", (1980, 1, 1, 0, 0, 0)
            ),
            f"Metadata-Version: 2.1\nName: aws-lambda-powertools\nVersion: {version}\n",
        )
    return buffer.getvalue()


def publish_public_layers(region: str) -> dict[str, str]:
    """Publish the region's layer versions once; parameter name -> layer version ARN."""
    from moto.awslambda.models import lambda_backends  # noqa: PLC0415

    version = powertools_version()
    backend = lambda_backends[PUBLISHER_ACCOUNT][region]
    parameters = {}
    with _LOCK:
        for python in PYTHONS:
            for architecture in ARCHITECTURES:
                name = layer_name(python, architecture)
                existing = list(backend.list_layer_versions(name))
                if existing:
                    arn = existing[-1].arn
                else:
                    arn = backend.publish_layer_version(
                        {
                            "LayerName": name,
                            # base64, as the PublishLayerVersion API carries it
                            "Content": {"ZipFile": base64.b64encode(_layer_zip(version))},
                            "Description": f"Powertools for AWS Lambda (Python) V3 {version}",
                            "CompatibleRuntimes": [python],
                            "CompatibleArchitectures": [architecture],
                            "LicenseInfo": "MIT-0",
                        }
                    ).arn
                parameters[parameter_name(python, architecture, version)] = arn
                parameters[parameter_name(python, architecture, "latest")] = arn
    return parameters


def _with_public_parameters(check_loading_status: Any) -> Any:
    def check(self: Any, key: str) -> None:
        check_loading_status(self, key)
        if not str(key or "").startswith(PARAMETER_PREFIX) or getattr(self, _LOADED, False):
            return
        from moto.core.utils import utcnow  # noqa: PLC0415
        from moto.ssm.models import Parameter as MotoParameter  # noqa: PLC0415

        parameter: Any = MotoParameter  # moto builds it so too; mypy sees an abstract model

        setattr(self, _LOADED, True)
        for name, arn in publish_public_layers(self.region_name).items():
            # dict's own lookup: ParameterDict's would come back here
            dict.__getitem__(self, self.normalize_name(name)).append(
                parameter(
                    account_id=self.account_id,
                    name=name,
                    value=arn,
                    parameter_type="String",
                    description=None,
                    allowed_pattern=None,
                    keyid=None,
                    last_modified_date=utcnow(),
                    version=1,
                    data_type="text",
                )
            )

    return check


def _with_public_layers(layers_versions_by_arn: Any) -> Any:
    def find(self: Any, layer_version_arn: str) -> Any:
        found = layers_versions_by_arn(self, layer_version_arn)
        parts = layer_version_arn.split(":")
        if found is not None or len(parts) < 8 or parts[4] != PUBLISHER_ACCOUNT:
            return found
        from moto.awslambda.models import lambda_backends  # noqa: PLC0415

        publisher = lambda_backends[PUBLISHER_ACCOUNT][parts[3]]
        return layers_versions_by_arn(publisher, layer_version_arn)

    return find


def _patches() -> list[Patch]:
    from moto.awslambda.models import LambdaBackend  # noqa: PLC0415
    from moto.ssm.models import ParameterDict  # noqa: PLC0415

    return [
        Patch(
            ParameterDict,
            "_check_loading_status",
            _with_public_parameters(ParameterDict._check_loading_status),
        ),
        Patch(
            LambdaBackend,
            "layers_versions_by_arn",
            _with_public_layers(LambdaBackend.layers_versions_by_arn),
        ),
    ]


_EXTENSION = Extension("lambda-public-layers", _patches)


def install() -> None:
    """Serve the public Powertools layer and its SSM parameters in every region."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto: no public layers, no Powertools parameters."""
    _EXTENSION.uninstall()
