"""Errors raised by governance: each message says what went wrong and what to do next."""

from __future__ import annotations


class GovernanceError(Exception):
    """Base class of every governance error."""


class SettingsError(GovernanceError):
    """Settings are missing or insecure for the mode vru runs in."""


class IdentityError(GovernanceError):
    """A user cannot be created, found or changed as asked."""


class AuthenticationError(GovernanceError):
    """A name and password do not match an enabled user."""


class LoginThrottled(AuthenticationError):  # noqa: N818 - reads as a sentence at the raise site
    """Too many consecutive failed sign-ins for a name: try again after ``retry_after`` seconds.

    Raised the same way whether or not the name is a user, so it reveals nothing about which
    accounts exist.
    """

    def __init__(self, retry_after: int, message: str) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class AreaError(GovernanceError):
    """A task-force area definition is invalid."""


class AgreementError(GovernanceError):
    """A data sharing agreement is invalid (names the file and field where it can)."""


class NoActiveAgreement(GovernanceError):  # noqa: N818 - reads as a sentence at the raise site
    """A dataset has no data sharing agreement in force on the date asked."""

    def __init__(self, dataset: str, message: str) -> None:
        self.dataset = dataset
        super().__init__(message)


class AuditError(GovernanceError):
    """The audit log cannot be written."""


class DisclosureError(GovernanceError):
    """A table cannot be put through disclosure control as asked."""
