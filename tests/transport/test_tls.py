"""TLS: a hub serving wss:// with a certificate from a throwaway CA (trustme); clients verify it."""

from __future__ import annotations

import ssl

import pytest
import trustme

from swergio_nb import Client, Hub, Trigger

from ..helpers import hub_process, until


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_a_tls_hub_serves_wss_and_clients_that_trust_its_ca_exchange_messages(server_context, client_context):
    async with Hub(port=0, ssl=server_context) as hub:
        assert hub.url.startswith(f"wss://127.0.0.1:{hub.port}/?token=")
        got = []
        listener = Client("listener", hub.url, ssl=client_context)
        listener.add_handler(got.append, Trigger("DATA/TEXT", "r"))
        async with listener, Client("speaker", hub.url, ssl=client_context) as speaker:
            await speaker.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "over TLS"})
            await until(lambda: got)
        assert got[0]["DATA"] == "over TLS" and got[0]["SENT_BY"] == "speaker"


async def test_a_client_refuses_a_hub_whose_certificate_it_cannot_verify(server_context):
    async with Hub(port=0, ssl=server_context) as hub:
        with pytest.raises(ssl.SSLCertVerificationError):
            await Client("c", hub.url, reconnect=False).connect()  # the system's CAs do not know this one


def test_a_hub_beyond_loopback_needs_tls_or_says_it_is_insecure(server_context):
    with pytest.raises(ValueError, match="without TLS"):
        Hub("0.0.0.0", 0)
    assert Hub("0.0.0.0", 0, ssl=server_context).url.startswith("wss://0.0.0.0:0/")
    assert Hub("0.0.0.0", 0, insecure=True).url.startswith("ws://0.0.0.0:0/")


async def test_the_hub_command_serves_wss_from_a_pem_file_and_a_client_verifies_it(ca, tmp_path, monkeypatch):
    pem = tmp_path / "hub.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with hub_process("--certfile", str(pem)) as (url, proc):
        assert url.startswith("wss://127.0.0.1:")
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # how a component process is told to trust the CA
        async with Client("c", url) as client:
            assert client.connected
    assert proc.returncode == 0
