"""Implementations of the notifications ports (boto3 lives here and in bootstrap only)."""

from __future__ import annotations

from orderflow.notifications.adapters.dynamodb import DynamoDBSentEmails
from orderflow.notifications.adapters.ses import (
    SesEmailSender,
    create_email_templates,
    ses_template_name,
)

__all__ = ["DynamoDBSentEmails", "SesEmailSender", "create_email_templates", "ses_template_name"]
