"""Which SMTP failures are worth trying again: the one rule every e-mail task follows.

RFC 5321 (4.2.1): a 4xx reply is temporary at every stage (greylisting, a full mailbox, a busy
server), a 5xx reply is permanent. A dropped or refused connection is temporary too.
"""

import smtplib

TRANSIENT_SMTP_ERRORS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    ConnectionError,
    TimeoutError,
)
# Everything a send can raise about the mail server: classify with is_permanent().
SMTP_ERRORS = (smtplib.SMTPException, *TRANSIENT_SMTP_ERRORS)


def is_permanent(error: Exception) -> bool:
    """A 5xx reply: to every recipient, to MAIL FROM, or to the message itself."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(error, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return error.smtp_code >= 500
    return False
