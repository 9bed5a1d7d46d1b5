"""The label store component: its answers on their own, and as a process of its own on a real hub."""

from __future__ import annotations

import numpy as np
import pytest

from swergio_nb import Client, PeerError
from swergio_nb.examples.melody.labelling import LabelStore
from swergio_nb.examples.melody.music import MusicSettings
from swergio_nb.examples.melody.store import STORE_NAME, StoreOptions, answer, build
from swergio_nb.transport.hub import Hub

GENOME = np.random.default_rng(3).integers(0, 2, 128, dtype=np.uint8)


def _ask(store: LabelStore, **fields):
    return answer({"ID": "m1", **fields}, store, StoreOptions(), MusicSettings())


def test_render_rate_undo_and_refusals(tmp_path):
    with LabelStore(tmp_path / "labels.db") as store:
        media = _ask(store, OP="render", GENOME=GENOME)
        assert media["WAV"][:4] == b"RIFF" and media["ROLL"][:8] == b"\x89PNG\r\n\x1a\n"
        row = _ask(store, OP="rate", GENOME=GENOME, RATING=4)["ROW"]
        assert [(r.rating, r.source, r.genome) for r in store.rows()] == [(4, "person", tuple(int(b) for b in GENOME))]
        assert _ask(store, OP="rate", GENOME=list(GENOME), RATING=1, SOURCE="page")["ROW"] == row + 1
        assert _ask(store, OP="undo", ROW=row) == {"ROW": row, "DELETED": True}
        assert _ask(store, OP="undo", ROW=row) == {"ROW": row, "DELETED": False}
        for fields, code, words in [
            ({"OP": "rate", "GENOME": GENOME, "RATING": 6}, "not-saved", "0..5"),
            ({"OP": "rate", "GENOME": GENOME[:5], "RATING": 2}, "not-saved", "rate:"),
            ({"OP": "rate", "RATING": 2}, "not-saved", "GENOME"),
            ({"OP": "undo", "ROW": "1"}, "not-saved", "row id"),
            ({"OP": "forget"}, "unknown-op", "'forget'"),
        ]:
            error = _ask(store, **fields)
            assert error["TYPE"] == "LOG/ERROR" and error["ERROR"] == code and error["REPLY_TO"] == "m1", error
            assert words in error["DETAIL"], error
        assert [r.rating for r in store.rows()] == [1]  # nothing refused was stored


@pytest.mark.timeout(60)
async def test_store_component_answers_a_rating_once_it_is_committed(tmp_path):
    async with Hub(port=0) as hub:
        async with build(hub.url, options=StoreOptions(store=tmp_path / "labels.db")), Client("page", hub.url) as page:
            ask = {"TYPE": "DATA/CUSTOM", "TO": STORE_NAME}
            sent = page.endpoint.complete({**ask, "OP": "rate", "GENOME": GENOME, "RATING": 5})
            reply = await page.request(sent, timeout=10)
            assert reply["SENT_BY"] == STORE_NAME and reply["ROOT_ID"] == sent["ID"]
            with LabelStore(tmp_path / "labels.db") as reader:  # committed before the answer left
                assert [r.id for r in reader.rows()] == [reply["ROW"]]
            with pytest.raises(PeerError, match="not-saved"):
                await page.request({**ask, "OP": "rate", "GENOME": GENOME, "RATING": -1}, timeout=10)


def test_hub_labelling_widget_hands_the_page_its_hub_and_component_names():
    from swergio_nb.examples.melody.widget import HubLabellingWidget, browser_hub_url
    from swergio_nb.notebook.widgets import STATIC

    assert browser_hub_url("ws://127.0.0.1:8888/user/me/swergio/ws?token=t") == "/user/me/swergio/ws"  # login
    assert browser_hub_url("ws://127.0.0.1:8765/?token=t") == "ws://127.0.0.1:8765/?token=t"  # another hub
    widget = HubLabellingWidget("/swergio/ws", name="ada", undo_window=0.5)
    assert widget.hub["url"] == "/swergio/ws" and widget.hub["name"] == "ada" and widget.hub["store"] == STORE_NAME
    assert widget.hub["undoWindow"] == 0.5 and widget._esm == (STATIC / "labelling.js").read_text()
    widget.close()
    with pytest.raises(ValueError, match="undo_window"):
        HubLabellingWidget("/swergio/ws", undo_window=-1)
