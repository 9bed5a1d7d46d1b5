"""%swergio through a real IPython InteractiveShell, running cells on the test's event loop like a kernel does."""

from __future__ import annotations

import asyncio
import socket

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import swergio_nb
from swergio_nb import Client, Trigger
from swergio_nb.exceptions import InvalidState
from swergio_nb.notebook.kernel import KernelSession

from ..helpers import until


@pytest.fixture
async def shell():
    ip = InteractiveShell.instance()
    ip.user_ns.pop("_swergio_session", None)
    yield ip
    if getattr(ip, "_swergio_session", None) is not None:
        ip.run_line_magic("unload_ext", "swergio_nb")
    await asyncio.sleep(0.05)  # let the background shutdown finish


async def run(ip: InteractiveShell, code: str):
    """Run one cell (top-level await allowed); re-raise what it raised."""
    result = await ip.run_cell_async(code, store_history=False, transformed_cell=ip.transform_cell(code))
    result.raise_error()
    return result.result


async def test_hub_clients_and_a_reply_through_magics(shell, capsys):
    await run(shell, "%load_ext swergio_nb\nhub = %swergio hub start --port 0")
    await run(shell, "%swergio connect alice\n%swergio connect bob")
    assert isinstance(shell.user_ns["alice"], Client)
    reply = await run(
        shell,
        "from swergio_nb import Trigger\n"
        "bob.add_handler(lambda m: {'DATA': 'hi ' + m['SENT_BY']}, Trigger('DATA/TEXT', 'chat'),"
        " reply_type='DATA/TEXT', reply_rooms='chat')\n"
        "reply = await alice.request({'TYPE': 'DATA/TEXT', 'TO_ROOM': 'chat', 'DATA': 'hello'},"
        " reply_room='chat', timeout=5)\n"
        "reply['DATA']",
    )
    assert reply == "hi alice"
    await run(shell, "%swergio rooms")
    assert "chat  alice, bob" in capsys.readouterr().out
    status = await run(shell, "%swergio hub status")
    assert status["in_kernel"] and status["connections"] == 2 and status["rooms"] == {"chat": ["alice", "bob"]}


async def test_send_magic_reaches_a_room(shell):
    await run(shell, "%load_ext swergio_nb\n%swergio hub start --port 0")
    url = swergio_nb.current_session().hub_url
    got = []
    listener = Client("listener", url)
    listener.add_handler(got.append, Trigger("DATA/TEXT", "chat"))
    async with listener:
        pending = await run(shell, '%swergio send chat DATA/TEXT {"words": ["hello", "room"]}')
        await pending
        for _ in range(300):
            if got:
                break
            await asyncio.sleep(0.01)
    assert got[0]["DATA"] == {"words": ["hello", "room"]} and got[0]["SENT_BY"] == "notebook"


async def test_handler_errors_show_in_the_notebook(shell):
    await run(shell, "%load_ext swergio_nb\n%swergio hub start --port 0")
    await run(shell, "%swergio connect fragile\n%swergio connect src")
    await run(
        shell,
        "def explode(msg):\n    raise ValueError('bad input ' + msg['DATA'])\n"
        "fragile.add_handler(explode, Trigger('DATA/TEXT', 'r'))\n"
        "await src.send({'TYPE': 'DATA/TEXT', 'TO_ROOM': 'r', 'DATA': 'x1'})",
    )
    session = swergio_nb.current_session()
    for _ in range(300):
        if session.errors:
            break
        await asyncio.sleep(0.01)
    (error,) = session.errors
    assert error.client == "fragile" and isinstance(error.exception, ValueError)
    text = "".join(o.get("text", "") for o in session.error_log().outputs)
    assert "ValueError: bad input x1" in text and "fragile.explode" in text


async def test_help_usage_errors_and_loading_twice(shell, capsys):
    await run(shell, "%load_ext swergio_nb")
    await run(shell, "%load_ext swergio_nb")  # harmless
    await run(shell, "%swergio --help")
    assert "connect" in capsys.readouterr().out
    with pytest.raises(Exception, match="invalid choice"):
        await run(shell, "%swergio fly")
    with pytest.raises(Exception, match="no hub"):
        await run(shell, "%swergio connect nobody")


async def test_what_the_session_refuses_is_a_usage_error_without_the_token(shell):
    await run(shell, "%load_ext swergio_nb")
    for line, words in [
        ("%swergio up swarm.yaml", "no hub in this session"),
        ("%swergio connect 1bad", "not a valid variable name"),
        ("%swergio logs nobody", "no component named 'nobody'"),
    ]:
        with pytest.raises(UsageError, match=words):
            await run(shell, line)
    session = swergio_nb.current_session()
    assert session.clients == {}  # a refused name connects nothing
    await run(shell, "%swergio hub start --port 0")
    token = session.hub.token
    with pytest.raises(UsageError, match="already in use") as info:
        await run(shell, "%swergio hub attach ws://127.0.0.1:1")
    assert token not in str(info.value)


async def test_session_misuse_raises_invalid_state_which_is_a_runtime_error():
    session = KernelSession()
    with pytest.raises(InvalidState, match="no hub"):
        session.connect("alice")
    with pytest.raises(InvalidState, match="no hub"):
        session.require_hub()
    session.attach_hub("ws://127.0.0.1:1/?token=secret")
    assert session.require_hub() == "ws://127.0.0.1:1/?token=secret"
    with pytest.raises(RuntimeError, match=r"already in use at ws://127\.0\.0\.1:1/\?token=\.\.\.;"):
        session.start_hub(port=0)
    assert session.hub is None
    await session.close()


async def test_unload_stops_everything_and_unregisters(shell):
    await run(shell, "%load_ext swergio_nb\n%swergio hub start --port 0\n%swergio connect c1")
    session = swergio_nb.current_session()
    await run(shell, "await c1.join_room('x')")
    port = session.hub.port
    client = shell.user_ns["c1"]
    await run(shell, "%unload_ext swergio_nb")
    for _ in range(300):
        if not client.connected:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert not client.connected and session.hub is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert "swergio" not in shell.magics_manager.magics["line"]


async def test_a_component_process_that_dies_is_reported_in_the_notebook(shell, tmp_path):
    """kill -9 of a component started by %swergio up: the session says which one, how and which rooms went quiet,
    in the notebook's error log; one stopped by %swergio down is not reported."""
    import os
    import signal

    from ..helpers import until

    spec = tmp_path / "swarm.yaml"
    spec.write_text(
        "components:\n"
        "  - name: trebuchet\n"
        "    module: swergio_nb.examples.trebuchet.simulator\n"
        "  - name: control\n"
        "    module: swergio_nb.examples.trebuchet.control\n"
    )
    await run(shell, f"%load_ext swergio_nb\n%swergio hub start --port 0\nup = %swergio up {spec}\nawait up")
    session = swergio_nb.current_session()
    os.kill(session.launcher["trebuchet"].pid, signal.SIGKILL)
    await until(lambda: session.exits, timeout=10)
    (exited,) = session.exits
    assert exited.name == "trebuchet" and exited.returncode == -signal.SIGKILL and "output" in exited.rooms
    shown = "".join(output["text"] for output in session.error_log().outputs)
    assert "component 'trebuchet' was killed by SIGKILL" in shown and "its rooms went quiet" in shown
    control = session.launcher["control"].pid
    up_again = await run(shell, f"up = %swergio up {spec}\nawait up")  # the cell again: control is reused
    assert [proc.name for proc in up_again] == ["trebuchet"] and session.launcher["control"].pid == control
    await run(shell, "down = %swergio down\nawait down")
    await asyncio.sleep(1.0)  # two looks: control, stopped on purpose, is not reported
    assert len(session.exits) == 1
    log_dir = session.launcher.log_dir
    assert log_dir.name.startswith("swergio-launcher-") and (log_dir / "control.log").exists()
    await run(shell, "%unload_ext swergio_nb")
    await until(lambda: not log_dir.exists(), timeout=10)  # no folder left in the temporary directory


async def test_cells_run_twice_reuse_the_hub_and_clients_and_replace_handlers(shell, capsys):
    start = "%load_ext swergio_nb\n%swergio hub start --port 0"
    await run(shell, start)
    session = swergio_nb.current_session()
    hub, token = session.hub, session.hub.token
    capsys.readouterr()
    await run(shell, start)  # the same cell again
    out = capsys.readouterr().out
    assert session.hub is hub and "reusing the swergio hub" in out and token not in out
    with pytest.raises(UsageError, match="already in use") as info:  # another address is another hub: refused
        await run(shell, "%swergio hub start --host 127.0.0.2 --port 0")
    assert token not in str(info.value)

    connect = "%swergio connect world\n%swergio connect universe"
    await run(shell, connect)
    world = shell.user_ns["world"]
    await world.ready()
    await run(shell, connect)
    assert shell.user_ns["world"] is world and "reused with its handlers" in capsys.readouterr().out

    handlers = """
heard = []
def on_text(msg):
    heard.append(msg["DATA"])
world.add_handler(on_text, Trigger("DATA/TEXT", "chat"))
"""
    shell.user_ns["Trigger"] = Trigger
    await run(shell, handlers)
    assert "replaced" not in capsys.readouterr().out
    await run(shell, handlers)  # the handler cell again: one handler, not two
    assert "world: replaced the handler on_text" in capsys.readouterr().out
    assert [h.fn.__name__ for h in world.handlers] == ["on_text"]
    await run(shell, "world.add_handler(on_text, Trigger('DATA/TEXT', 'other'))")  # another trigger: kept apart
    assert len(world.handlers) == 2
    universe = shell.user_ns["universe"]
    await world.ready()
    await universe.send({"TYPE": "DATA/TEXT", "TO_ROOM": "chat", "DATA": "hello"})
    await until(lambda: shell.user_ns["heard"])
    await asyncio.sleep(0.1)
    assert shell.user_ns["heard"] == ["hello"]  # once
