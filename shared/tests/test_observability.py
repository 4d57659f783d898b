from __future__ import annotations

import pytest

from orderflow.observability import build_logger, mask_emails


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("to jane.doe@example.com now", "to j***@e*** now"),
        ('{"email": "a+tag@sub.shop.co.uk"}', '{"email": "a***@s***"}'),
        ("no address here", "no address here"),
    ],
)
def test_mask_emails(text: str, masked: str) -> None:
    assert mask_emails(text) == masked


def test_every_field_of_a_log_line_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    logger = build_logger("notifications")

    logger.info("sending to bob@example.com", extra={"recipient": "bob@example.com"})

    line = capsys.readouterr().out
    assert "bob@example.com" not in line
    assert line.count("b***@e***") == 2
