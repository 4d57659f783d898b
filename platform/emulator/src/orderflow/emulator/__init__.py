"""Emulator extensions: what moto lacks and orderflow uses, filled in one separated place.

Each module here adds one AWS behaviour to moto (in-process or server mode) faithfully to the
AWS documentation, with tests; nothing here fakes a result. ``server`` installs them all into
the embedded AWS (moto in server mode) that the local runtime starts:

* ``cfn_resources``: CloudFormation types moto's stacks skip (SNS subscriptions and topic
  policies, SQS queue policies, CloudWatch alarms, SES templates and identities);
* ``cfn_sam_deploy``: the ``AWS::Serverless-2016-10-31`` transform applied by CloudFormation,
  change sets executed completely and queues updated in place (what ``sam deploy`` needs);
* ``cfn_no_value``: list elements that resolve to ``AWS::NoValue`` removed, as CloudFormation
  removes them;
* ``clock``: AWS durations compressed by one factor, the same everywhere;
* ``dynamodb_transactions``: TransactWriteItems atomic and isolated against concurrent
  requests, rolled back item by item;
* ``sqs_metrics`` and ``alarm_evaluation``: SQS metrics every minute, metric alarms evaluated
  with their actions and "CloudWatch Alarm State Change" events;
* ``eventbridge_targets`` and ``stepfunctions_execution``: rules that start state machines that
  really run, including those a stack deploys;
* ``sesv2_templates``: SES v2 templated sends, recorded;
* ``lambda_sqs_mappings``: SQS event source mappings left to the local runtime's pollers;
* ``sqs_move_tasks``, ``sfn_callbacks``, ``sns_tracing``, ``xray_queries``, ``xray_daemon``:
  DLQ redrive tasks, task failure causes and X-Ray tracing.
"""
