"""Exceptions raised by swergio_nb.

Every exception the library raises on purpose derives from :class:`SwergioError`, so ``except SwergioError``
catches them all::

    SwergioError
     ├── InvalidMessage         (ValueError)      an envelope or frame breaks the protocol (a peer's, or built locally)
     ├── Refused                                  a LOG/ERROR answered what this client sent
     │    ├── HubError                            ... from the hub (a malformed message, a taken name, a full room)
     │    └── PeerError                           ... from the component a request asked (it refused the request)
     ├── NotConnected           (ConnectionError) an operation needs a live connection to a hub and there is none
     ├── InvalidState           (RuntimeError)    an operation the current state does not allow: a second hub in a
     │                                            session, no hub, a widget attached twice, an endpoint out of order
     ├── IncompatibleWebsockets (ImportError)     the installed websockets lacks an internal a transport relies on
     ├── StateError             (ValueError)      weights or optimizer state that does not fit a component
     ├── SettingsError          (ValueError)      settings that cannot be applied (none were)
     ├── ComponentError                           a component declaration or its options are invalid
     ├── ComponentExited                          a component process exited while its swarm ran
     └── LauncherError                            a swarm spec is invalid, or a component process failed to start

In brackets: the second base, the built-in exception a caller would catch without knowing these classes (``except
RuntimeError`` goes on working where a ``RuntimeError`` was raised before). A class that belongs to one layer lives in
that layer's module (``IncompatibleWebsockets`` in ``transport._websockets``, ``StateError`` and ``SettingsError`` in
``feedback.commands``, ``ComponentError`` in ``swarm.component``, ``ComponentExited`` in ``swarm.launcher``,
``LauncherError`` in ``swarm.spec``); the rest live here, a leaf every layer may import.

Two rules say what is not a :class:`SwergioError`:

* **Bad arguments** raise Python's own ``ValueError`` / ``TypeError`` (``TrafficStats(window=0)``,
  ``Hub(traffic_interval=-1)``), and an unknown key of a mapping-like lookup ``KeyError`` (``MetricsWidget.data``,
  ``Router.receive`` of a connection id it never opened): the caller's bug at the call site, and Python's convention.
* **Remote misbehaviour** (a malformed frame arriving at the hub) never raises in the hub: the router answers the
  sender with a ``LOG/ERROR`` message carrying the :class:`InvalidMessage` text. Local misuse (building an invalid
  message and sending it) raises :class:`InvalidMessage` in the caller before anything leaves the process.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SwergioError", "InvalidMessage", "Refused", "HubError", "PeerError", "NotConnected", "InvalidState"]


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


class Refused(SwergioError):
    """A ``LOG/ERROR`` message answered a message this client sent (``REPLY_TO`` its ``ID``).

    Attributes:
        code: the error code (``ERROR`` field), e.g. ``"name-taken"``, ``"bad-weights"``.
        detail: the explanation (``DETAIL`` field).
        sender: who answered (``SENT_BY``, stamped by the hub: ``"_hub"`` for the hub itself).
        message: the whole error envelope as received.
    """

    def __init__(self, message: dict[str, Any]) -> None:
        self.code = str(message.get("ERROR", "error"))
        self.detail = str(message.get("DETAIL", ""))
        self.sender = str(message.get("SENT_BY", ""))
        self.message = message
        super().__init__(f"{self.code}: {self.detail}")


class HubError(Refused):
    """The hub answered a message from this client with ``LOG/ERROR`` (only the hub's own answers count: the client
    takes ``COMMAND/ACK`` and ``LOG/ERROR`` as the hub's only when ``SENT_BY`` is the hub's name)."""


class PeerError(Refused):
    """The component a :meth:`~swergio_nb.Client.request` asked answered it with ``LOG/ERROR`` (e.g. a model that
    refused weights that do not fit). ``sender`` names that component; when the request went ``TO`` a name, only
    that component's answer counts."""

    def __init__(self, message: dict[str, Any]) -> None:
        super().__init__(message)
        self.args = (f"{self.sender} refused: {self.code}: {self.detail}",)


class NotConnected(SwergioError, ConnectionError):
    """The client has no live connection to a hub (not connected yet, or closed)."""


class InvalidState(SwergioError, RuntimeError):
    """An operation the current state does not allow: the caller's misuse, never a peer's.

    E.g. starting a hub in a kernel session that already uses one, connecting a client when there is no hub, a
    second client of the same name, attaching a widget that is attached already. The message says what to do first.
    """
