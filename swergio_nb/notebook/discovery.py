"""How a kernel finds the swergio hub of the Jupyter server that started it, without a URL or token in the notebook.

Kernels are child processes of the Jupyter server and inherit its environment. The server extension
(:mod:`swergio_nb.notebook.server`) sets :data:`SERVER_ENV` in the server's environment to the path of the
server's runtime file (``jpserver-<pid>.json`` in ``jupyter --runtime-dir``: Jupyter writes it when the server
starts, readable by the user only, and deletes it when the server stops). That file holds what a client needs: the
server's URL (``url``, with its ``base_url``) and its ``token``, the same place ``jupyter server list`` reads them
from. So the credential never passes through the notebook, its outputs, or the kernel's command line.

Limits: a server that authenticates by password only (no token) or listens on a Unix socket gives kernels no way
in; :func:`server_hub` then raises :class:`~swergio_nb.exceptions.InvalidState` saying so.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from ..exceptions import InvalidState
from ..protocol.urls import split_token, with_token

__all__ = ["SERVER_ENV", "HUB_PATH", "API_PATH", "server_hub", "server_hub_status"]

#: Environment variable holding the path of the Jupyter server's runtime file (set by the server extension).
SERVER_ENV = "SWERGIO_JUPYTER_SERVER"
#: The hub's WebSocket, relative to the server's ``base_url``.
HUB_PATH = "swergio/ws"
#: The hub's JSON summary, relative to the server's ``base_url``.
API_PATH = "swergio/api/hub"


def _server_info() -> dict[str, Any] | None:
    """The runtime file :data:`SERVER_ENV` names, or None when the kernel was not started by such a server."""
    path = os.environ.get(SERVER_ENV)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            info = json.load(file)
    except (OSError, ValueError) as exc:
        raise InvalidState(f"the Jupyter server's runtime file {path} ({SERVER_ENV}) cannot be read: {exc}") from None
    if not isinstance(info, dict) or not isinstance(info.get("url"), str):
        raise InvalidState(f"the Jupyter server's runtime file {path} ({SERVER_ENV}) has no 'url'")
    return info


def server_hub() -> str | None:
    """The WebSocket URL of this kernel's Jupyter server's hub, with the server's token; None without one.

    Returns:
        ``ws://HOST:PORT{base_url}swergio/ws?token=...`` (``wss://`` for an HTTPS server), or None when this
        process was not started by a Jupyter server running the swergio extension.

    Raises:
        InvalidState: the server's runtime file cannot be read, or the server cannot be reached with a token
            (password-only login, a Unix socket).
    """
    info = _server_info()
    if info is None:
        return None
    parts = urlsplit(urljoin(info["url"], HUB_PATH))
    if parts.scheme not in ("http", "https"):
        raise InvalidState(f"the Jupyter server listens on {info['url']}: kernels reach its hub over TCP only")
    token = info.get("token")
    if not token:
        raise InvalidState("the Jupyter server has no token (password login only): kernels cannot join its hub")
    ws = urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc, parts.path, "", ""))
    return with_token(ws, token)


def server_hub_status(hub_url: str, timeout: float = 5.0) -> dict[str, Any]:
    """``GET swergio/api/hub`` of the server whose hub is ``hub_url`` (as :func:`server_hub` returned it).

    Args:
        hub_url: the hub's WebSocket URL with its token.
        timeout: seconds to wait for the answer.

    Returns:
        The server's JSON summary (see :meth:`~swergio_nb.transport.core.HubCore.summary`).

    Raises:
        OSError: the server cannot be reached or answers with an HTTP error (``urllib.error.HTTPError``).
    """
    base, token = split_token(hub_url)
    parts = urlsplit(base)
    scheme = "https" if parts.scheme == "wss" else "http"
    api = urlunsplit((scheme, parts.netloc, parts.path[: -len(HUB_PATH)] + API_PATH, "", ""))
    request = urllib.request.Request(api, headers={"Authorization": f"token {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)
