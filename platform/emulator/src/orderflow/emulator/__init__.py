"""orderflow's embedded AWS: moto with the AWS behaviours it lacks, as removable extensions.

This distribution (``orderflow-emulator``) depends on no orderflow package, so any package's
tests can use it. Each behaviour module builds one ``extension.Extension`` and offers
``install()`` / ``uninstall()``: a test installs what it needs into in-process moto and removes
it again, and ``server`` installs them all into the embedded AWS (moto in server mode, in its
own process). Each fills a gap in moto faithfully to the AWS documentation it cites, with
tests; nothing here fakes a result.

* ``clock``: AWS durations compressed by one factor, the same everywhere (SQS visibility
  timeouts and delays here);
* ``sqs_index``: SQS calls whose cost does not grow with the messages a queue holds;
* ``sqs_attributes``: RedrivePolicy and RedriveAllowPolicy validated (and returned) as SQS does;
* ``dynamodb_transactions``: TransactWriteItems atomic and isolated against concurrent
  requests, rolled back item by item;
* ``cfn_no_value``: list elements that resolve to ``AWS::NoValue`` removed, as CloudFormation
  removes them;
* ``cfn_resources``: CloudFormation types moto's stacks skip (SNS subscriptions and topic
  policies, SQS queue policies, CloudWatch alarms, SES templates and identities);
* ``cfn_parameter_constraints``: parameter values that break the template's constraints (or no
  value at all) refused by CreateStack, UpdateStack and CreateChangeSet, as CloudFormation
  refuses them;
* ``cfn_sam_deploy``: the ``AWS::Serverless-2016-10-31`` transform applied by CloudFormation,
  change sets executed completely and queues updated in place (what ``sam deploy`` needs);
* ``lambda_public_layers``: the public Powertools layer and its SSM parameters in every region;
* ``lambda_sqs_mappings``: SQS event source mappings recorded, left to a poller (the local
  runtime's) instead of moto's inline invocation;
* ``sqs_metrics`` and ``alarm_evaluation``: SQS metrics every minute, metric alarms evaluated
  with their actions and "CloudWatch Alarm State Change" events;
* ``sqs_move_tasks``: SQS message move tasks (DLQ redrive);
* ``eventbridge_targets`` and ``stepfunctions_execution``: rules that start state machines that
  really run, including those a stack deploys;
* ``sfn_callbacks``: SendTaskFailure's ``cause`` passed on to the waiting task;
* ``sesv2_templates``: the SES v2 email template API (CreateEmailTemplate, GetEmailTemplate)
  and templated sends, recorded;
* ``sns_tracing`` and ``xray_queries``: X-Ray trace headers carried from SNS to SQS, and trace
  summaries filtered on annotations.

Besides the extensions: ``xray_daemon`` is a local X-Ray daemon (segments over UDP uploaded with
PutTraceSegments), and ``conformance`` a pytest plugin that runs moto's own tests with every
extension installed.
"""
