"""The hub inside Jupyter Server shares its rooms too (``c.SwergioHub.backplane``): a client on a Jupyter server's
hub and one on a ``swergio-nb hub --backplane`` process on the same Redis reach each other, names unique across
both."""

from __future__ import annotations

import pytest

from swergio_nb import Client, Trigger
from swergio_nb.exceptions import HubError

from ..helpers import until

pytest.importorskip("jupyterlab")

from tests.browser.lab import start_lab  # noqa: E402 - after the skip: it needs JupyterLab
from tests.server.conftest import hub_url  # noqa: E402


async def test_jupyter_server_hub_and_standalone_hub_share_rooms_and_names(hubs, redis_url, tmp_path):
    (standalone,) = hubs(1)
    with start_lab(tmp_path, [], args=[f"--SwergioHub.backplane={redis_url}"], log_name="jupyter-backplane.log") as lab:
        got: list[dict] = []
        near = Client("near", hub_url(lab))
        far = Client("far", standalone)
        far.add_handler(got.append, Trigger("DATA/TEXT", "both-hubs"))
        await near.connect()
        await far.connect()
        try:
            await near.send({"TYPE": "DATA/TEXT", "TO_ROOM": "both-hubs", "DATA": "from jupyter"})
            await until(lambda: got, timeout=20)
            with pytest.raises(HubError, match="name-taken"):
                await Client("far", hub_url(lab), reconnect=False).connect()
        finally:
            await near.close()
            await far.close()
    assert [(m["DATA"], m["SENT_BY"]) for m in got] == [("from jupyter", "near")]
