"""The sent-email ledger in DynamoDB: one item per email key, written only if absent, no TTL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderflow.idempotency import ApplyOutcome, ConditionalLedger, LedgerEntry
from orderflow.notifications.domain import Email

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY_ATTRIBUTE = "email_key"


class DynamoDBSentEmails:
    """``SentEmails`` over the service's sent-emails table (key ``email_key``).

    Items hold the email key, the template and SES's message id, never the recipient.
    """

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table_name = table_name
        self._client = client
        self._ledger = ConditionalLedger(client)

    def message_id_of(self, key: str) -> str | None:
        """SES's message id of the email sent under ``key`` (strongly consistent), or None."""
        item = self._client.get_item(
            TableName=self.table_name,
            Key={KEY_ATTRIBUTE: {"S": key}},
            ConsistentRead=True,
        ).get("Item")
        return item["message_id"]["S"] if item else None

    def record(self, email: Email, message_id: str) -> bool:
        """Write the email's entry unless present; True if this call wrote it."""
        entry = LedgerEntry(
            table=self.table_name,
            item={KEY_ATTRIBUTE: email.key, "template": email.template, "message_id": message_id},
            key_attribute=KEY_ATTRIBUTE,
        )
        return self._ledger.apply([entry], []) is ApplyOutcome.APPLIED
