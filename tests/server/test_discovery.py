"""How a kernel finds its Jupyter server's hub (notebook/discovery.py), from runtime files written as Jupyter writes
them; the end-to-end check (kernels of a real server) is in test_server_hub.py."""

from __future__ import annotations

import json

import pytest

from swergio_nb.exceptions import InvalidState
from swergio_nb.notebook.discovery import SERVER_ENV, server_hub


def _info(tmp_path, monkeypatch, **fields) -> None:
    path = tmp_path / "jpserver-1234.json"
    path.write_text(json.dumps({"base_url": "/", "token": "t0k", **fields}))
    monkeypatch.setenv(SERVER_ENV, str(path))


def test_without_the_variable_there_is_no_server_hub(monkeypatch):
    monkeypatch.delenv(SERVER_ENV, raising=False)
    assert server_hub() is None


def test_the_url_follows_the_servers_base_url_and_scheme(tmp_path, monkeypatch):
    _info(tmp_path, monkeypatch, url="http://127.0.0.1:8888/user/someone/")
    assert server_hub() == "ws://127.0.0.1:8888/user/someone/swergio/ws?token=t0k"
    _info(tmp_path, monkeypatch, url="https://hub.example:443/")
    assert server_hub() == "wss://hub.example:443/swergio/ws?token=t0k"


def test_servers_kernels_cannot_join_are_named(tmp_path, monkeypatch):
    _info(tmp_path, monkeypatch, url="http://127.0.0.1:8888/", token="")
    with pytest.raises(InvalidState, match="no token"):
        server_hub()
    _info(tmp_path, monkeypatch, url="http+unix://%2Ftmp%2Fjp.sock/")
    with pytest.raises(InvalidState, match="over TCP only"):
        server_hub()
    monkeypatch.setenv(SERVER_ENV, str(tmp_path / "gone.json"))
    with pytest.raises(InvalidState, match="gone.json"):
        server_hub()
