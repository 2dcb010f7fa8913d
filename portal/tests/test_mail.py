"""The one rule for SMTP failures: 4xx and dropped connections are retried, 5xx are final."""

import smtplib

import pytest

from portal.mail import SMTP_ERRORS, is_permanent


@pytest.mark.parametrize(
    "error, permanent",
    [
        (smtplib.SMTPRecipientsRefused({"a@x.test": (550, b"no such user")}), True),
        (smtplib.SMTPRecipientsRefused({"a@x.test": (451, b"greylisted")}), False),
        (smtplib.SMTPRecipientsRefused({"a@x.test": (550, b"no"), "b@x.test": (452, b"full")}), False),
        (smtplib.SMTPSenderRefused(553, b"sender rejected", "rapport@x.test"), True),
        (smtplib.SMTPSenderRefused(451, b"try later", "rapport@x.test"), False),
        (smtplib.SMTPDataError(554, b"message refused"), True),
        (smtplib.SMTPDataError(452, b"out of space"), False),
        (smtplib.SMTPServerDisconnected("gone"), False),
        (ConnectionRefusedError(), False),
        (TimeoutError(), False),
    ],
)
def test_which_smtp_failures_are_final(error, permanent):
    assert isinstance(error, SMTP_ERRORS)
    assert is_permanent(error) is permanent
