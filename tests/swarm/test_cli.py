from __future__ import annotations

import subprocess
import sys

import pytest

from swergio_nb import Client, HubError, Trigger

from ..helpers import hub_process, until


async def test_hub_command_serves_clients_and_stops_on_sigterm():
    with hub_process() as (url, proc):
        assert url.startswith("ws://127.0.0.1:")
        got = []
        listener = Client("listener", url)
        listener.add_handler(got.append, Trigger("DATA/TEXT", "r"))
        async with listener, Client("speaker", url) as speaker:
            assert await speaker.room_table() == {"r": ["listener"]}
            await speaker.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "over the CLI hub"})
            await until(lambda: got)
            assert got[0]["DATA"] == "over the CLI hub" and got[0]["SENT_BY"] == "speaker"
    assert proc.returncode == 0


async def test_hub_command_takes_roles_from_a_credentials_file(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text('{"observer": "obs3rver", "names": {"control": "c0ntrol"}}')
    with hub_process("--credentials", str(path)) as (url, proc):
        base = url.split("?token=")[0] + "?token="
        async with Client("component", url) as component, Client("observer", base + "obs3rver") as observer:
            await observer.join_room("_logging")
            with pytest.raises(HubError, match="forbidden-room"):
                await component.join_room("_logging")
        async with Client("control", base + "c0ntrol") as control:
            assert control.connected
    assert proc.returncode == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"observers": "x"}')
    done = subprocess.run(
        [sys.executable, "-m", "swergio_nb.swarm.cli", "hub", "--port", "0", "--credentials", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and "must hold" in done.stderr


def _parsers(parser):
    """``parser`` and every subcommand's parser below it."""
    import argparse

    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_version_and_every_default_said_in_help():
    import argparse

    from swergio_nb import __version__
    from swergio_nb.swarm.cli import build_parser

    version = subprocess.run(
        [sys.executable, "-m", "swergio_nb.swarm.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.strip() == f"swergio-nb {__version__}", version
    unsaid = []
    parsers = list(_parsers(build_parser()))
    assert {p.prog for p in parsers} >= {"swergio-nb hub", "swergio-nb demo cartpole", "swergio-nb demo melody"}
    for parser in parsers:
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.default in (None, False, argparse.SUPPRESS):
                continue
            if "default" not in formatter._expand_help(action):
                unsaid.append(f"{parser.prog} {action.option_strings[0]}")
    assert not unsaid, unsaid
    hub_help = build_parser()._subparsers._group_actions[0].choices["hub"].format_help()
    assert "SWERGIO_TOKEN" in hub_help and "token" in hub_help


@pytest.mark.timeout(180)
def test_melody_demo_without_a_progress_bar(tmp_path):
    argv = [sys.executable, "-m", "swergio_nb.swarm.cli", "demo", "melody", "--rounds", "1", "--out", str(tmp_path)]
    done = subprocess.run([*argv, "--no-progress"], capture_output=True, text=True, timeout=170, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 trainings in" in done.stdout and (tmp_path / "melody_best.wav").exists()
    assert "melody:" not in done.stderr and "batch/s" not in done.stderr and "s/batch" not in done.stderr
