"""A component declared once: the command line, the process argv and the YAML entry derived from the declaration."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swergio_nb import Client, SwergioError, Trigger
from swergio_nb.examples.trebuchet import control, simulator, trainer
from swergio_nb.examples.trebuchet.options import ControlOptions
from swergio_nb.swarm.component import (
    Component,
    ComponentError,
    add_option_arguments,
    component,
    from_arguments,
    option,
    option_values,
    resolve,
)
from swergio_nb.swarm.swarm import Swarm
from swergio_nb.swarm.swarmfile import load_spec

CHOICES = ("least_confidence", "entropy")


@dataclass(frozen=True)
class EchoOptions:
    """Every kind of option a declaration can hold."""

    anneal_steps: int | None = option(None, "steps to anneal over")
    lr: float = option(1e-2, "learning rate")
    prefix: str = option("echo", "prefix of the answer")
    strategy: str = option("least_confidence", "a choice", choices=CHOICES)
    store: Path | None = option(None, "a file")
    loud: bool = option(False, "shout")
    quiet: bool = option(True, "whisper")
    wait: float = option(60.0, "reward wait time", unit="s")


@component("echo", EchoOptions, "Answers DATA/TEXT in room 'in' to room 'out'.")
def echo(url: str, *, name: str, seed: int, options: EchoOptions, suffix: str = "") -> Client:
    client = Client(name, url)

    def answer(msg: dict) -> dict:
        text = f"{options.prefix}:{msg['DATA']}{suffix}"
        return {"DATA": text.upper() if options.loud else text, "SEED": seed}

    client.add_handler(answer, Trigger("DATA/TEXT", "in"), reply_type="DATA/TEXT", reply_rooms="out")
    return client


def test_the_parser_has_the_common_flags_and_one_flag_per_option():
    parser = echo.parser()
    args = parser.parse_args(
        ["--hub", "ws://h", "--seed", "3", "--anneal-steps", "600", "--strategy", "entropy", "--store", "a.db",
         "--loud", "--no-quiet", "--lr", "0.5"]
    )  # fmt: skip
    assert (args.hub, args.name, args.seed, args.log_level) == ("ws://h", "echo", 3, "WARNING")
    assert echo.options_from(args) == EchoOptions(
        anneal_steps=600, lr=0.5, strategy="entropy", store=Path("a.db"), loud=True, quiet=False
    )
    assert echo.options_from(parser.parse_args(["--anneal-steps", "none"])) == EchoOptions()
    text = parser.format_help()
    assert "--anneal-steps" in text and "(default 60.0 s)" in text and "'none' for none" in text
    with pytest.raises(SystemExit):
        parser.parse_args(["--strategy", "margin"])  # not one of the choices


def test_argv_holds_only_what_differs_and_parses_back():
    assert echo.argv() == []
    options = EchoOptions(lr=0.1, loud=True, quiet=False, store=Path("/tmp/x"))
    argv = echo.argv(options, name="echo-2", seed=7)
    assert argv == ["--name", "echo-2", "--seed", "7", "--lr", "0.1", "--store", "/tmp/x", "--loud", "--no-quiet"]
    args = echo.parser().parse_args(argv)
    assert echo.options_from(args) == options and (args.name, args.seed) == ("echo-2", 7)


@given(
    anneal_steps=st.none() | st.integers(-(10**12), 10**12),
    lr=st.floats(allow_nan=False),
    prefix=st.text(st.characters(blacklist_categories=("Cs",))),
    strategy=st.sampled_from(CHOICES),
    store=st.none() | st.sampled_from([Path("a.db"), Path("/tmp/with space/b.db")]),
    loud=st.booleans(),
    quiet=st.booleans(),
)
def test_the_command_line_round_trips(anneal_steps, lr, prefix, strategy, store, loud, quiet):
    options = EchoOptions(anneal_steps, lr, prefix, strategy, store, loud, quiet)
    assert echo.options_from(echo.parser().parse_args(echo.argv(options))) == options


def test_a_yaml_entry_names_the_component_and_reads_back_to_the_same_process():
    options = EchoOptions(lr=0.25, store=Path("s.db"), loud=True)
    entry = echo.to_yaml_entry(options, name="e1", seed=2)
    assert entry == {
        "name": "e1",
        "component": __name__,
        "seed": 2,
        "options": {"lr": 0.25, "store": "s.db", "loud": True},
    }
    (spec,) = load_spec([entry])
    assert spec == echo.spec(options, name="e1", seed=2)
    assert spec.module == __name__ and list(spec.args) == ["--name", "e1", "--seed", "2", *echo.argv(options)]


def test_options_from_a_mapping_are_checked_and_converted():
    assert echo.options_from({"anneal_steps": None, "lr": 1, "store": "x.db"}) == EchoOptions(
        lr=1.0, store=Path("x.db")
    )
    for bad, words in [
        ({"colour": 1}, ["unknown option", "'colour'"]),
        ({"loud": "yes"}, ["'loud'", "true or false"]),
        ({"strategy": "margin"}, ["'strategy'", "not one of"]),
        ({"lr": "fast"}, ["'lr'"]),
        ({"lr": None}, ["'lr'", "null"]),
    ]:
        with pytest.raises(ComponentError) as info:
            echo.options_from(bad)
        assert isinstance(info.value, SwergioError) and all(w in str(info.value) for w in words), info.value


def test_a_declaration_refuses_what_cannot_make_a_command_line():
    @dataclass
    class NoDefault:
        x: int

    with pytest.raises(ComponentError, match="needs a default"):
        Component("c", "m", NoDefault, echo.build)
    with pytest.raises(ComponentError, match="dataclass"):
        Component("c", "m", dict, echo.build)
    with pytest.raises(ComponentError, match="takes EchoOptions"):
        echo.argv(ControlOptions())


def test_resolve_finds_the_component_declared_in_a_module():
    assert resolve("swergio_nb.examples.trebuchet.control") is control.build
    assert resolve(f"{__name__}:echo") is echo
    with pytest.raises(ComponentError, match="names no Component"):
        resolve("swergio_nb.swarm.component")
    with pytest.raises(ComponentError, match="cannot import"):
        resolve("swergio_nb.no_such_module")


def test_demo_options_derive_from_the_component_options():
    parser = argparse.ArgumentParser()
    add_option_arguments(parser, ControlOptions, ("lr", "resume"), lr=0.5)
    args = parser.parse_args(["--resume", "m.pt"])
    assert from_arguments(ControlOptions, args) == ControlOptions(lr=0.5, resume=Path("m.pt"))
    assert option_values(ControlOptions(resume=Path("m.pt")), changed=True) == {"resume": "m.pt"}


async def test_a_built_component_serves_with_its_options_and_build_only_arguments():
    async with Swarm().add(echo, EchoOptions(prefix="hi", loud=True), seed=5, suffix="!").started() as swarm:
        got = []
        listener = Client("listener", swarm.url)
        listener.add_handler(got.append, Trigger("DATA/TEXT", "out"))
        async with listener, Client("speaker", swarm.url) as speaker:
            await speaker.send({"TYPE": "DATA/TEXT", "TO_ROOM": "in", "DATA": "x"})
            reply = await speaker.request(
                {"TYPE": "DATA/TEXT", "TO_ROOM": "in", "DATA": "y"}, reply_room="out", reply_type="DATA/TEXT"
            )
        assert reply["DATA"] == "HI:Y!" and reply["SEED"] == 5 and reply["SENT_BY"] == "echo"
        assert swarm["echo"].connected


async def test_a_driver_process_does_its_job_and_exits():
    """``python -m swergio_nb.examples.trebuchet.trainer``: the trainer (a driver) trains and exits by itself."""
    swarm = Swarm().add(control.build, ControlOptions(lr=3e-2)).add(simulator.build)
    async with swarm.started():
        argv = trainer.drive.argv(trainer.TrainerOptions(steps=3, batch_size=8), seed=1)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", trainer.drive.module, *argv, "--hub", swarm.url, stdout=subprocess.PIPE
        )
        out, _ = await proc.communicate()
        assert swarm["control"].context["component"].steps == 3  # its gradients reached the network
    text = out.decode()
    assert proc.returncode == 0, text
    assert "trainer connected to ws://127.0.0.1:" in text and "step 3/3" in text and "mean miss" in text


def test_a_component_run_as_its_module_knows_its_module_name():
    """``python -m`` runs the module as ``__main__``: the declaration still names the importable module."""
    out = subprocess.run(
        [sys.executable, "-m", control.__name__, "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: python -m {control.__name__} ")
    assert "--anneal-steps ANNEAL_STEPS" in out.stdout and "(default 1.0 lb)" in out.stdout
