"""The one exception root of rota.

Every error rota raises on purpose derives from :class:`RotaError`, so callers can catch
one class. The API maps each branch to one HTTP status, so the tree doubles as the
error contract of the HTTP API::

    RotaError
    ├── ValidationError          bad input: a field, a size, a range      (422 / 400)
    │   ├── PayloadTooLarge      a payload or body over its documented limit (413)
    │   └── BadRequest           refused as 400 where a compatible API does so (400)
    ├── Forbidden                the caller's token does not reach that    (403)
    ├── NotFound                 no task / job with that id                (404)
    ├── Conflict                 the request contradicts the stored state  (409)
    │   ├── DuplicateTask        a client-supplied id that already exists
    │   ├── IllegalTransition    the state machine forbids the change
    │   └── StaleLease           the lease token is not the live one
    ├── IntakeBlocked            an operator blocked new work for now      (503)
    ├── QueueFull                the queue holds its max_size of tasks     (429)
    ├── StoreError               the store failed; nothing was changed     (503)
    │   └── SchemaMismatch       the store's schema is not the one this code needs
    └── ClientError              raised by the HTTP client
        └── ServerError          the server answered with an error status
"""

from __future__ import annotations


class RotaError(Exception):
    """Root of every error rota raises on purpose."""


class ValidationError(RotaError):
    """Input that can never succeed as sent; the message says what to fix."""


class PayloadTooLarge(ValidationError):
    """A payload, result or request body over its documented limit."""


class Forbidden(RotaError):
    """The caller is known but its role or tenant does not reach what it asked for."""


class BadRequest(ValidationError):
    """Bad input answered 400, where a foreign API that rota speaks answers so."""


class NotFound(RotaError):
    """No entity with that id."""


class Conflict(RotaError):
    """The request is well formed but contradicts the stored state."""


class DuplicateTask(Conflict):
    """A client-supplied task id that is already taken."""


class IllegalTransition(Conflict):
    """The task state machine does not allow this change from the current state."""


class StaleLease(Conflict):
    """A report carried a lease token that is not the task's live lease."""


class IntakeBlocked(RotaError):
    """An operator blocked submits (everywhere, to a queue or for a tenant); try later."""


class QueueFull(RotaError):
    """A submit would take a queue past its ``max_size``; try later."""


class StoreError(RotaError):
    """The backing store failed; the operation did not take effect."""


class SchemaMismatch(StoreError):
    """The store holds a schema version this code cannot use."""


class ClientError(RotaError):
    """An error seen by the HTTP client (transport or protocol)."""


class ServerError(ClientError):
    """The server answered with a non-success status."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
