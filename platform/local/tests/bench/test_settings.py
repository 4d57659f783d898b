"""Function settings come from the template, parameters at their defaults."""

from __future__ import annotations

import pytest

from orderflow.bench.settings import function_settings
from orderflow.bench.stats import BenchError

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  BatchSize:
    Type: Number
    Default: 7
Resources:
  Function:
    Type: AWS::Serverless::Function
    Properties:
      Handler: orderflow.payment.handler.handler
      MemorySize: 512
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: !Ref BatchSize
            MaximumBatchingWindowInSeconds: 2
"""


def write(tmp_path, text):
    path = tmp_path / "services" / "payment" / "template.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text)


def test_settings_resolve_parameters_and_fill_in_sams_defaults(tmp_path):
    write(tmp_path, TEMPLATE)

    settings = function_settings(tmp_path, "payment")

    assert settings.handler_module == "orderflow.payment.handler"
    assert settings.batch_size == 7
    assert settings.batching_window_seconds == 2
    assert settings.memory_mb == 512
    assert settings.timeout_seconds == 3  # SAM's default
    assert settings.architecture == "x86_64"


def test_a_function_without_an_sqs_event_is_named(tmp_path):
    write(tmp_path, TEMPLATE.replace("Type: SQS", "Type: Schedule"))
    with pytest.raises(BenchError, match="no SQS event"):
        function_settings(tmp_path, "payment")
