"""SNS signs every notification with one signing certificate per region, as AWS does.

On AWS every message SNS delivers in JSON form (a notification to an SQS queue without raw
delivery, to an HTTP/HTTPS endpoint) carries a ``Signature`` of its fields and the
``SigningCertURL`` of the certificate whose key made it. The certificate is the region's: the
SNS Developer Guide's examples of a subscription confirmation, a notification and an
unsubscribe confirmation all name the same
``https://sns.us-west-2.amazonaws.com/SimpleNotificationService-<id>.pem``
(https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html,
.../http-subscription-confirmation-json.html, .../http-unsubscribe-confirmation-json.html), and a
subscriber verifies a message by fetching that certificate and checking the signature with its
public key ("Verifying the signatures of Amazon SNS messages",
https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html).

moto (``Subscription.get_post_data``) generates an RSA key per subscription and, for every single
delivery, builds and signs a new X.509 certificate under a new name, keeping every one of them in
memory for the life of the process: the largest single cost of an SNS fan-out to SQS, and memory
that grows with every message delivered. Here each region has one key and one certificate, made
on first use and kept for the process; each message still gets its own RSA signature with that
key (SHA256withRSA, ``SignatureVersion`` 2, over the same fields as moto signs), and the
certificate is served at its ``SigningCertURL`` as moto serves its own. The ``UnsubscribeURL``
names the subscription and its region, as in the Guide's example (moto's names us-east-1 and a
fixed subscription id). Everything else about the message is moto's.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from orderflow.emulator.extension import Extension, Patch

SIGNATURE_VERSION = "2"
CERTIFICATE_DAYS = 365


@dataclass(frozen=True)
class SigningCertificate:
    """One region's signing key, its certificate (PEM) and the name it is served under."""

    region: str
    key: Any
    pem: bytes
    name: str

    @property
    def url(self) -> str:
        return f"https://sns.{self.region}.amazonaws.com/{self.name}"

    def sign(self, text: str) -> str:
        """Base64 SHA256withRSA signature of ``text`` (UTF-8)."""
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import padding  # noqa: PLC0415

        signature = self.key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")


_CERTIFICATES: dict[str, SigningCertificate] = {}
_LOCK = threading.Lock()


def _new_certificate(region: str) -> SigningCertificate:
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415
    from moto.core.utils import utcnow  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # The subject and issuer moto gives its certificates.
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Amazon"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Amazon RSA 2048 M01"),
        ]
    )
    now = utcnow()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=CERTIFICATE_DAYS))
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    name = f"SimpleNotificationService-{hashlib.sha256(pem).hexdigest()[:32]}.pem"
    return SigningCertificate(region, key, pem, name)


def signing_certificate(region: str) -> SigningCertificate:
    """The region's signing certificate, made on first use and kept for the process."""
    certificate = _CERTIFICATES.get(region)
    if certificate is None:
        with _LOCK:
            certificate = _CERTIFICATES.get(region)
            if certificate is None:
                certificate = _new_certificate(region)
                _CERTIFICATES[region] = certificate
    return certificate


def _served(certificate: SigningCertificate) -> None:
    """Make moto serve the certificate at its URL (again after a reset of its backends)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
    from moto.sns.models import sns_backends  # noqa: PLC0415

    # moto serves a PEM from the default account's backend of the URL's region (the fetch is
    # unsigned, so it cannot know the account).
    served: dict[str, bytes] = sns_backends[DEFAULT_ACCOUNT_ID][
        certificate.region
    ]._message_public_keys
    if served.get(certificate.name) is not certificate.pem:
        served[certificate.name] = certificate.pem


def string_to_sign(message: str, message_id: str, timestamp: str, topic_arn: str) -> str:
    """The fields a notification's signature covers, as moto signs them."""
    return (
        f"Message\n{message}\nMessageId\n{message_id}\nTimestamp\n{timestamp}\n"
        f"TopicArn\n{topic_arn}\nType\nNotification\n"
    )


def _patches() -> list[Patch]:
    from moto.sns import models as sns_models  # noqa: PLC0415
    from moto.sns.models import Subscription  # noqa: PLC0415

    def get_post_data(
        subscription: Subscription,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        topic = subscription.topic
        certificate = signing_certificate(topic.sns_backend.region_name)
        _served(certificate)
        # Looked up in moto's module on each call, so a clock that replaces it is honoured.
        timestamp = sns_models.iso_8601_datetime_with_milliseconds()  # type: ignore[attr-defined]
        post_data: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": topic.arn,
            "Message": message,
            "Timestamp": timestamp,
            "SignatureVersion": SIGNATURE_VERSION,
            "Signature": certificate.sign(
                string_to_sign(message, message_id, timestamp, topic.arn)
            ),
            "SigningCertURL": certificate.url,
            "UnsubscribeURL": f"https://sns.{certificate.region}.amazonaws.com/"
            f"?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
        }
        if subject:
            post_data["Subject"] = subject
        if message_attributes:
            post_data["MessageAttributes"] = message_attributes
        return post_data

    def private_key(subscription: Subscription) -> Any:
        return signing_certificate(subscription.topic.sns_backend.region_name).key

    replacements: dict[str, Callable[..., Any]] = {
        "get_post_data": get_post_data,
        "private_key": private_key,
    }
    return [Patch(Subscription, name, value) for name, value in replacements.items()]


_EXTENSION = Extension("sns-signing", _patches)


def install() -> None:
    """Sign every SNS notification with its region's one certificate."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's certificate per delivery (certificates already served stay served)."""
    _EXTENSION.uninstall()
