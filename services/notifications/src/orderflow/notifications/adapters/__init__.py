"""Implementations of the notifications ports: SES v2, the DynamoDB sent-email ledger, Powertools
telemetry, and every port in memory (boto3 lives here and in bootstrap only)."""

from __future__ import annotations

from orderflow.notifications.adapters.dynamodb import DynamoDBSentEmails
from orderflow.notifications.adapters.ses import SesEmailSender, create_email_templates

__all__ = ["DynamoDBSentEmails", "SesEmailSender", "create_email_templates"]
