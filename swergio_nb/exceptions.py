"""Exceptions raised by swergio_nb.

Every exception derives from :class:`SwergioError`, so ``except SwergioError`` catches them all::

    SwergioError
     ├── InvalidMessage      an envelope or frame breaks the protocol (from a peer, or built locally)
     ├── HubError            the hub refused something this client sent (it answered with LOG/ERROR)
     └── NotConnected        a client operation needs a live connection and there is none

Remote misbehaviour (a malformed frame arriving at the hub) never raises in the hub: the router answers the
sender with a ``LOG/ERROR`` message carrying the :class:`InvalidMessage` text. Local misuse (building an invalid
message and sending it) raises :class:`InvalidMessage` in the caller before anything leaves the process.
"""

from __future__ import annotations

__all__ = ["SwergioError", "InvalidMessage", "HubError", "NotConnected"]


class SwergioError(Exception):
    """Root of every exception raised by swergio_nb."""


class InvalidMessage(SwergioError, ValueError):
    """An envelope or a frame breaks the protocol.

    Attributes:
        code: a short machine-readable reason, e.g. ``"bad-json"``, ``"unknown-type"``, ``"no-address"``.
    """

    def __init__(self, detail: str, code: str = "invalid-message") -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class HubError(SwergioError):
    """The hub answered a message from this client with ``LOG/ERROR``.

    Attributes:
        code: the hub's error code (``ERROR`` field), e.g. ``"name-taken"``.
        detail: the hub's explanation (``DETAIL`` field).
        message: the whole error envelope as received.
    """

    def __init__(self, message: dict) -> None:
        self.code = str(message.get("ERROR", "error"))
        self.detail = str(message.get("DETAIL", ""))
        self.message = message
        super().__init__(f"{self.code}: {self.detail}")


class NotConnected(SwergioError, ConnectionError):
    """The client has no live connection to a hub (not connected yet, or closed)."""
