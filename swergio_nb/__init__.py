"""swergio_nb: independent ML components talking through rooms on a WebSocket hub, with a backward path.

Forward data (``DATA/FORWARD``) flows from component to component through rooms; gradients (``DATA/GRADIENT``),
rewards (``DATA/REWARD``) and labels flow back to the component that needs them. The public API:

* :class:`Hub` serves the rooms; :class:`Router` is its sans-I/O core.
* :class:`Client` is a component: handlers fired by a :class:`Trigger`, replies, ``await client.request(...)``.
* :func:`make_message`, :class:`MessageType`, :class:`ModelStatus` build envelopes in swergio's vocabulary.
* :mod:`swergio_nb.feedback` wraps torch modules and functions as forward/backward components (needs torch).
"""

from __future__ import annotations

from .client import SENDER, Client, Handler, Trigger
from .exceptions import HubError, InvalidMessage, NotConnected, SwergioError
from .hub import Hub
from .messages import (
    LOGGING_ROOM,
    MESSAGE_TYPE,
    MODEL_STATUS,
    MessageType,
    ModelStatus,
    make_message,
    new_id,
    validate,
)
from .router import Router

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Handler",
    "Hub",
    "HubError",
    "InvalidMessage",
    "LOGGING_ROOM",
    "MESSAGE_TYPE",
    "MODEL_STATUS",
    "MessageType",
    "ModelStatus",
    "NotConnected",
    "Router",
    "SENDER",
    "SwergioError",
    "Trigger",
    "make_message",
    "new_id",
    "validate",
    "__version__",
]
