"""swergio_nb: independent ML components talking through rooms on a WebSocket hub, with a backward path.

Forward data (``DATA/FORWARD``) flows from component to component through rooms; gradients (``DATA/GRADIENT``),
rewards (``DATA/REWARD``) and labels flow back to the component that needs them. The public API:

* :class:`Hub` serves the rooms; :class:`Router` is its sans-I/O core.
* :class:`Client` is a component: handlers fired by a :class:`Trigger`, replies, ``await client.request(...)``.
* :func:`make_message`, :class:`MessageType`, :class:`ModelStatus` build envelopes in swergio's vocabulary.
* :class:`Swarm` starts declared components in this process or as OS processes and stops them in order.
* :mod:`swergio_nb.feedback` wraps torch modules and functions as forward/backward components (needs torch).
* ``%load_ext swergio_nb`` turns a notebook kernel into a control room (:mod:`swergio_nb.notebook.magics`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exceptions import HubError, InvalidMessage, InvalidState, NotConnected, PeerError, Refused, SwergioError
from .protocol.messages import (
    LOGGING_ROOM,
    MESSAGE_TYPE,
    MODEL_STATUS,
    Envelope,
    MessageType,
    ModelStatus,
    make_message,
    new_id,
    validate,
)
from .protocol.router import Router
from .swarm.swarm import Swarm
from .transport.client import SENDER, Client, Handler, Trigger
from .transport.hub import Hub

if TYPE_CHECKING:
    from .notebook.kernel import KernelSession

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Envelope",
    "Handler",
    "Hub",
    "HubError",
    "PeerError",
    "Refused",
    "InvalidMessage",
    "InvalidState",
    "LOGGING_ROOM",
    "MESSAGE_TYPE",
    "MODEL_STATUS",
    "MessageType",
    "ModelStatus",
    "NotConnected",
    "Router",
    "SENDER",
    "Swarm",
    "SwergioError",
    "Trigger",
    "make_message",
    "new_id",
    "validate",
    "__version__",
    "load_ipython_extension",
    "unload_ipython_extension",
    "current_session",
]

_SESSION_ATTR = "_swergio_session"


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext swergio_nb``: register ``%swergio`` and a :class:`~.notebook.kernel.KernelSession` on the shell.

    Loading twice is harmless (the second load does nothing).
    """
    if getattr(ipython, _SESSION_ATTR, None) is not None:
        return
    from .notebook.kernel import KernelSession
    from .notebook.magics import SwergioMagics

    session = KernelSession()
    setattr(ipython, _SESSION_ATTR, session)
    ipython.register_magics(SwergioMagics(ipython, session))


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext swergio_nb``: stop component processes, clients, hub and tasks; unregister ``%swergio``."""
    session = ipython.__dict__.pop(_SESSION_ATTR, None)
    if session is not None:
        session.close()
    manager = ipython.magics_manager
    manager.magics["line"].pop("swergio", None)
    manager.registry.pop("SwergioMagics", None)


def current_session() -> KernelSession:
    """The :class:`~swergio_nb.notebook.kernel.KernelSession` of the running IPython shell.

    Raises:
        InvalidState: not in IPython, or the extension is not loaded (``%load_ext swergio_nb``); a
            :class:`RuntimeError` too.
    """
    from IPython import get_ipython

    session = getattr(get_ipython(), _SESSION_ATTR, None)
    if session is None:
        raise InvalidState("swergio_nb is not loaded in this shell: %load_ext swergio_nb")
    return session


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Jupyter Server's entry point: the hub inside the server (:mod:`swergio_nb.notebook.server`)."""
    from .notebook.server import SwergioHub

    return [{"module": "swergio_nb.notebook.server", "app": SwergioHub}]
