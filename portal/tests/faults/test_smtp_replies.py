"""Which SMTP replies are worth another try (fast; the real-server tests are in
test_worker_faults.py). Before the fault tests, a 4xx to RCPT TO (greylisting) was recorded as
a permanent failure, a 4xx to MAIL FROM was not handled at all, and a 554 after DATA was
retried for hours."""

import smtplib

import pytest

from feedback.tasks import PERMANENT_FAILURE, REFUSED, permanent_smtp_failure


@pytest.mark.parametrize("error, reason", [
    (smtplib.SMTPRecipientsRefused({"a@x.test": (550, b"5.1.1 No such user")}),
     PERMANENT_FAILURE),
    (smtplib.SMTPRecipientsRefused({"a@x.test": (451, b"4.7.1 Greylisted")}), ""),
    (smtplib.SMTPRecipientsRefused({"a@x.test": (452, b"4.2.2 Mailbox full")}), ""),
    (smtplib.SMTPSenderRefused(451, b"4.3.2 Busy", "from@x.test"), ""),
    (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "from@x.test"), REFUSED),
    (smtplib.SMTPDataError(451, b"4.3.0 Try later"), ""),
    (smtplib.SMTPDataError(554, b"5.7.1 Rejected"), REFUSED),
    (smtplib.SMTPConnectError(421, b"4.3.2 Too busy"), ""),
    (smtplib.SMTPServerDisconnected("gone"), ""),
    (ConnectionRefusedError(111, "refused"), ""),
])
def test_only_a_5xx_is_permanent(error, reason):
    assert permanent_smtp_failure(error) == reason
