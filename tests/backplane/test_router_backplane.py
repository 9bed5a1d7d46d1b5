"""The router's side of several hubs, with no sockets: what it hands the backplane, and what it does with a
message another hub routed. The backplane here records what it is handed (the transport's queue, in memory)."""

from __future__ import annotations

from swergio_nb import Router
from swergio_nb.protocol.codec import decode, encode
from swergio_nb.protocol.router import Send

from ..protocol.test_router import deliveries, frame, join


class Recorder:
    """A :class:`~swergio_nb.protocol.router.Backplane` that keeps what it is handed, in order."""

    def __init__(self) -> None:
        self.published: list[tuple] = []
        self.released: list[str] = []

    def publish(self, frame, sender, room, to, mtype) -> None:
        self.published.append((frame, sender, room, to, mtype))

    def release(self, name: str) -> None:
        self.released.append(name)


def _router() -> tuple[Router, Recorder]:
    router, backplane = Router(), Recorder()
    router.backplane = backplane
    return router, backplane


def test_every_routed_message_is_published_stamped_even_with_nobody_here():
    router, backplane = _router()
    a = join(router, "a")
    assert router.receive(a, frame(ID="m1", TYPE="DATA/TEXT", TO_ROOM="elsewhere", DATA=1)) == []
    assert router.receive(a, frame(ID="m2", TYPE="DATA/TEXT", TO="far", SENT_BY="forged", DATA=2)) == []
    (f1, *meta1), (f2, *meta2) = backplane.published
    assert meta1 == ["a", "elsewhere", None, "DATA/TEXT"] and meta2 == ["a", None, "far", "DATA/TEXT"]
    assert decode(f1)["SENT_BY"] == "a" and decode(f2)["SENT_BY"] == "a"  # stamped here, the forgery overwritten
    assert router.stats.dropped == 2 and router.stats.routed == 0  # nobody on this hub received them


def test_a_message_from_another_hub_reaches_room_members_and_to_here_once_each_unchanged():
    router, backplane = _router()
    b, c = join(router, "b", "r"), join(router, "c", "r")
    log = join(router, "watch")
    router.receive(log, frame(ID="e", TYPE="COMMAND/ENABLELOGGING"))
    stamped = encode({"ID": "x", "TYPE": "DATA/TEXT", "TO_ROOM": "r", "TO": "c", "DATA": 3, "SENT_BY": "a"})
    events = router.deliver(stamped, "a", "r", "c", "DATA/TEXT")
    out = deliveries(events)
    assert sorted(out) == [b, c, log] and [len(v) for v in out.values()] == [1, 1, 1]
    assert all(e.frame is stamped for e in events if e.conn in (b, c))  # delivered as it came
    assert out[log][0]["TYPE"] == "LOG/MESSAGES" and out[log][0]["SENDER"] == "a" and out[log][0]["ROOM"] == "r"
    assert backplane.published == []  # never handed on again: no loop
    assert router.stats.relayed == 1 and router.stats.delivered == 2


def test_a_message_for_nobody_here_gives_no_event():
    router, _ = _router()
    join(router, "b", "r")
    stamped = encode({"ID": "y", "TYPE": "DATA/TEXT", "TO_ROOM": "other", "TO": "z", "SENT_BY": "a"})
    assert router.deliver(stamped, "a", "other", "z", "DATA/TEXT") == []


def test_a_name_refused_by_another_hub_is_undone_and_answered_as_a_local_duplicate():
    router, backplane = _router()
    conn = router.connect()
    router.receive(conn, frame(ID="reg", TYPE="COMMAND/REGISTER", NAME="n"))
    (error,) = router.refuse_name(conn, "reg")
    assert isinstance(error, Send) and error.conn == conn
    message = decode(error.frame)
    assert message["ERROR"] == "name-taken" and message["REPLY_TO"] == "reg" and "'n' is taken" in message["DETAIL"]
    assert router.name_of(conn) is None and router.conn_of("n") is None
    assert router.refuse_name(conn, "reg") == []
    router.disconnect(conn)
    assert backplane.released == []  # it never held the name


def test_a_name_given_up_is_released():
    router, backplane = _router()
    a = join(router, "a")
    router.disconnect(a)
    router.disconnect(a)
    assert backplane.released == ["a"]
