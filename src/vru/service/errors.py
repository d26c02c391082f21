"""What the service raises: a face turns each into a message and an exit code."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the service's errors; ``exit_code`` is what the CLI exits with."""

    exit_code = 2


class Denied(ServiceError):
    """The policy said no (audited). ``reason`` says why in words a person understands."""

    exit_code = 3

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class SignInError(ServiceError):
    """No identity could be established: wrong password, locked, disabled, unknown."""

    exit_code = 3


class BadRequest(ServiceError):
    """The request itself cannot run as asked (bad dimension, month, file...)."""

    exit_code = 2


class AuditBroken(Denied):
    """The audit log cannot be extended (tampered, forged, key lost): nothing runs until it is
    investigated; `vru audit verify` still says where."""
