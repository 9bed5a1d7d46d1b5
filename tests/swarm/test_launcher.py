"""The launcher with real processes: start, readiness, logs, clean stop, SIGKILL escalation, death with the parent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from swergio_nb import Client, Hub, SwergioError
from swergio_nb.swarm.launcher import Launcher
from swergio_nb.swarm.spec import ComponentSpec, LauncherError
from swergio_nb.swarm.swarmfile import load_spec

LINUX = sys.platform.startswith("linux")


def _dead(pid: int) -> bool:
    """True once ``pid`` is gone or a zombie (an orphan's zombie waits for an init that may never reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _wait_dead(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _dead(pid):
            return True
        time.sleep(0.02)
    return _dead(pid)


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def launcher(tmp_path):
    launcher = Launcher(tmp_path / "logs")
    yield launcher
    launcher.down(timeout=2.0)


def py(script: str, *args: str) -> list[str]:
    """A ``python -c`` command line (``python`` is replaced by sys.executable by the launcher)."""
    return ["python", "-c", textwrap.dedent(script), *args]


# -- validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"components": [{"module": "m"}]}, ["#0", "'name'", "missing"]),
        ({"components": [{"name": "a", "module": "m", "command": "x"}]}, ["'a'", "module", "command", "both"]),
        ({"components": [{"name": "a"}]}, ["'a'", "module", "command", "neither"]),
        ({"components": [{"name": "a", "module": "m", "colour": 1}]}, ["'a'", "unknown", "'colour'"]),
        ({"components": [{"name": "a", "module": "m"}, {"name": "a", "command": "x"}]}, ["'a'", "'name'", "more than"]),
        ({"components": [{"name": "a", "module": "m", "delay": "1"}]}, ["'a'", "'delay'", ">= 0"]),
        ({"components": [{"name": "a", "module": "m", "delay": -1}]}, ["'a'", "'delay'"]),
        ({"components": [{"name": "a", "module": "m", "args": "--x"}]}, ["'a'", "'args'", "list"]),
        ({"components": [{"name": "a", "module": "m", "args": [{"x": 1}]}]}, ["'a'", "'args'", "dict"]),
        ({"components": [{"name": "a", "module": "m", "env": ["X"]}]}, ["'a'", "'env'", "mapping"]),
        ({"components": [{"name": "a", "module": "m", "ready": "("}]}, ["'a'", "'ready'", "regex"]),
        ({"components": [{"name": "a", "module": "m", "ready_timeout": 0}]}, ["'a'", "'ready_timeout'"]),
        ({"components": [{"name": "a", "module": "m", "hub_arg": "yes"}]}, ["'a'", "'hub_arg'"]),
        ({"components": [{"name": "a", "module": "not a module"}]}, ["'a'", "'module'"]),
        ({"components": [{"name": "a", "command": []}]}, ["'a'", "'command'", "empty"]),
        ({"components": [{"name": "a/b", "module": "m"}]}, ["'a/b'", "'name'"]),
        ({"components": [{"name": 3, "module": "m"}]}, ["'name'", "3"]),
        ({"components": {"name": "a"}}, ["'components'", "list"]),
        ({"hub": 8765, "components": []}, ["'hub'", "URL"]),
        ({"hub": "ws://x", "parts": []}, ["unknown top-level", "'parts'"]),
    ],
)
def test_invalid_specs_name_the_component_and_the_field(spec, words):
    with pytest.raises(LauncherError) as info:
        load_spec(spec)
    assert isinstance(info.value, SwergioError)
    for word in words:
        assert word in str(info.value)


def test_yaml_spec_defaults_and_relative_cwd(tmp_path):
    (tmp_path / "work").mkdir()
    path = tmp_path / "swarm.yaml"
    path.write_text(
        textwrap.dedent(
            """
            hub: ws://127.0.0.1:9999
            components:
              - name: control
                module: swergio_nb.examples.trebuchet.control
                args: ["--seed", 0]
              - name: logger
                command: python my_script.py --url {hub}
                cwd: work
                env: {N: 1}
            """
        )
    )
    control, logger = specs = load_spec(path)
    assert specs.hub == "ws://127.0.0.1:9999"
    assert (control.ready, control.hub_arg, control.args) == ("connected to", True, ("--seed", "0"))
    assert control.argv("ws://h")[-5:] == ["swergio_nb.examples.trebuchet.control", "--seed", "0", "--hub", "ws://h"]
    assert (logger.ready, logger.hub_arg, logger.cwd, logger.env) == (None, False, tmp_path / "work", {"N": "1"})
    assert logger.argv("ws://h") == [sys.executable, "my_script.py", "--url", "ws://h"]
    with pytest.raises(LauncherError, match="'logger'.*hub URL"):
        logger.argv(None)
    with pytest.raises(LauncherError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")


def test_launcher_refuses_a_name_that_is_running(launcher):
    spec = ComponentSpec("sleeper", command=py("import time; time.sleep(30)"))
    launcher.start([spec], None)
    with pytest.raises(LauncherError, match="'sleeper'.*already running"):
        launcher.start([spec], None)
    assert "sleeper" in launcher and "other" not in launcher
    with pytest.raises(LauncherError, match="no component named 'other'"):
        launcher.logs("other")


# -- real components -------------------------------------------------------------------------------------------


async def test_up_trebuchet_components_join_their_rooms_and_down_stops_them(tmp_path):
    launcher = Launcher(tmp_path / "logs")
    spec = {
        "hub": "ws://127.0.0.1:1",  # overridden by hub_url
        "components": [
            {"name": "control", "module": "swergio_nb.examples.trebuchet.control", "args": ["--seed", "0"]},
            {"name": "simulator", "module": "swergio_nb.examples.trebuchet.simulator", "env": {"OMP_NUM_THREADS": "1"}},
        ],
    }
    async with Hub(port=0) as hub:
        try:
            t0 = time.monotonic()
            procs = await launcher.up(spec, hub_url=hub.url)
            print(f"up(control, simulator): {time.monotonic() - t0:.2f} s")
            assert [p.name for p in procs] == ["control", "simulator"] and all(p.ready for p in procs)
            async with Client("observer", hub.url) as observer:
                table = await observer.room_table()
            assert "control" in table["input"] and "control" in table["aim"]
            assert "trebuchet" in table["aim"] and "trebuchet" in table["output"]
            assert "connected to" in launcher.logs("control")
            rows = {row["name"]: row for row in launcher.status()}
            assert (
                rows["simulator"]["running"] and rows["simulator"]["ready"] and rows["simulator"]["returncode"] is None
            )
            # the synchronous down() blocks its thread: run it off the loop so the hub can answer the closing handshakes
            t0 = time.monotonic()
            codes = await asyncio.to_thread(launcher.down)
            assert time.monotonic() - t0 < 8
        finally:
            launcher.down(timeout=2.0)
    assert codes == {"control": 0, "simulator": 0}  # clean exits on SIGTERM
    for proc in procs:
        with pytest.raises(ProcessLookupError):
            os.kill(proc.pid, 0)
        with pytest.raises(ProcessLookupError):
            os.killpg(proc.pid, 0)
        assert proc.log_path.exists()
    assert "connected to" in launcher.logs("control")
    assert launcher.down() == codes  # idempotent
    assert [row["running"] for row in launcher.status()] == [False, False]


def test_yaml_names_declared_components_and_their_options_by_field(tmp_path):
    path = tmp_path / "swarm.yaml"
    path.write_text(
        textwrap.dedent(
            """
            components:
              - name: control
                component: swergio_nb.examples.trebuchet.control
                seed: 3
                options: {lr: 0.01, anneal_steps: 600, resume: model.pt}
                env: {OMP_NUM_THREADS: 1}
              - name: sim
                component: swergio_nb.examples.trebuchet.simulator:build
                args: ["--log-level", "INFO"]
            """
        )
    )
    control, sim = load_spec(path)
    assert (control.module, control.args, control.env) == (
        "swergio_nb.examples.trebuchet.control",
        ("--seed", "3", "--anneal-steps", "600", "--resume", "model.pt"),  # lr 0.01 is the default
        {"OMP_NUM_THREADS": "1"},
    )
    assert (sim.module, sim.args, sim.ready) == (
        "swergio_nb.examples.trebuchet.simulator",
        ("--name", "sim", "--log-level", "INFO"),
        "connected to",
    )


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"component": "swergio_nb.examples.trebuchet.control", "options": {"colour": 1}}, ["'c'", "'colour'"]),
        ({"component": "swergio_nb.examples.trebuchet.control", "options": {"lr": "fast"}}, ["'c'", "'lr'"]),
        ({"component": "swergio_nb.examples.trebuchet.control", "seed": "0"}, ["'c'", "'seed'", "integer"]),
        ({"component": "swergio_nb.examples.trebuchet.control", "module": "m"}, ["'c'", "excludes"]),
        ({"component": "swergio_nb.no_such_module"}, ["'c'", "cannot import"]),
        ({"module": "m", "options": {}}, ["'c'", "'options'", "need 'component'"]),
        ({"filepath": "run.sh"}, ["'c'", "'filepath'", ".py or .jl"]),
        ({"filepath": "a.py", "command": "x"}, ["'c'", "excludes"]),
        ({"module": "m", "envpath": "."}, ["'c'", "'envpath'", "needs 'filepath'"]),
    ],
)
def test_invalid_component_and_filepath_entries_name_the_component(entry, words):
    with pytest.raises(LauncherError) as info:
        load_spec([{"name": "c", **entry}])
    for word in words:
        assert word in str(info.value)


async def test_swergio_toolbox_swarm_yaml_runs_its_scripts(tmp_path):
    """swergio_toolbox's shape: a mapping of names to entries, ``filepath`` scripts relative to the YAML file."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "worker.py").write_text(
        "import sys, time\nprint('worker up', sys.argv[1:])\ntime.sleep(30)\n"
    )
    path = tmp_path / "swarm.yaml"
    path.write_text(
        textwrap.dedent(
            """
            settings:
              python_envpath: /opt/venv/bin/
              julia_envpath: .
            components:
              worker:
                filepath: scripts/worker.py
                delay: 0.01
                ready: "worker up"
              model:
                filepath: model.jl
              other:
                filepath: other.jl
                envpath: env
            """
        )
    )
    worker, model, other = specs = load_spec(path)
    assert [s.name for s in specs] == ["worker", "model", "other"] and worker.delay == 0.01
    assert worker.argv("ws://h") == [sys.executable, str(tmp_path / "scripts" / "worker.py")]  # no --hub
    assert model.argv(None) == ["julia", "--project", ".", str(tmp_path / "model.jl")]
    assert other.argv(None) == ["julia", "--project", "env", str(tmp_path / "other.jl")]
    async with Launcher(tmp_path / "logs") as launcher:
        (proc,) = await launcher.up([worker], hub_url="ws://example:1")
        assert proc.ready and "worker up []" in launcher.logs("worker")
    with pytest.raises(LauncherError, match="terminal_cmd"):
        load_spec({"settings": {"terminal_cmd": "xterm -e"}, "components": {}})
    with pytest.raises(LauncherError, match="'settings'.*'colour'"):
        load_spec({"settings": {"colour": 1}, "components": {}})


async def test_command_component_gets_hub_placeholder_env_and_cwd(tmp_path):
    (tmp_path / "here").mkdir()
    path = tmp_path / "swarm.yaml"
    path.write_text(
        textwrap.dedent(
            """
            components:
              - name: echo
                command:
                  - python
                  - -c
                  - |
                    import os, sys, time
                    print("hub", sys.argv[1], "var", os.environ["SWERGIO_VAR"], "cwd", os.getcwd())
                    print("echo ready")
                    time.sleep(30)
                  - "{hub}"
                env: {SWERGIO_VAR: "at {hub}"}
                cwd: here
                ready: "echo ready$"
                delay: 0.05
              - name: second
                command: ["python", "-c", "import time; time.sleep(30)"]
            """
        )
    )
    async with Launcher(tmp_path / "logs") as launcher:
        echo, second = await launcher.up(path, hub_url="ws://example:1")
        assert echo.ready and second.ready  # no regex: ready at once
        text = launcher.logs("echo")
        assert f"hub ws://example:1 var at ws://example:1 cwd {tmp_path / 'here'}" in text
        assert second.started >= echo.started
        codes = await launcher.adown(timeout=5.0)
    assert codes == {"echo": -signal.SIGTERM, "second": -signal.SIGTERM}
    assert launcher.logs("echo", tail=None).startswith("--- swergio launcher")


async def test_component_crashing_at_start_raises_with_its_last_log_lines(launcher):
    script = "import sys; print('loading the model'); sys.exit('model missing')"
    crash = ComponentSpec("crash", command=py(script), ready="model loaded")
    with pytest.raises(LauncherError) as info:
        await launcher.up([{"name": "fine", "command": py("import time; time.sleep(30)")}, crash], "ws://x")
    message = str(info.value)
    assert "'crash' exited with code 1" in message and "loading the model" in message and "model missing" in message
    assert launcher["fine"].running  # left for the caller to stop
    rows = {row["name"]: row for row in launcher.status()}
    assert rows["crash"]["returncode"] == 1 and not rows["crash"]["running"]
    assert Path(rows["crash"]["log"]).exists()

    with pytest.raises(LauncherError, match="No module named"):
        await launcher.up({"components": [{"name": "nomodule", "module": "swergio_nb.no_such_thing"}]}, "ws://x")
    with pytest.raises(LauncherError, match="'missing'.*cannot be started"):
        launcher.start([ComponentSpec("missing", command=["/nonexistent/program"])], None)


async def test_component_output_shows_the_hub_token_hidden_in_logs_and_errors(launcher):
    script = (
        "import os, sys; print('client at', sys.argv[1] + '?token=' + os.environ['SWERGIO_TOKEN']);"
        "print('raw', os.environ['SWERGIO_TOKEN']); sys.exit('bye')"
    )
    spec = ComponentSpec("leaky", command=[*py(script), "{hub}"], ready="never")
    with pytest.raises(LauncherError) as info:
        await launcher.up([spec], "ws://127.0.0.1:9/?token=s3cret-T0ken")
    for text in (str(info.value), launcher.logs("leaky")):
        assert "s3cret-T0ken" not in text
        assert "client at ws://127.0.0.1:9?token=..." in text and "raw ..." in text


async def test_readiness_timeout_raises_and_leaves_it_running(launcher):
    command = py("import time; print('warming up'); time.sleep(30)")
    spec = ComponentSpec("slow", command=command, ready="^ready", ready_timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(LauncherError) as info:
        await launcher.up([spec], None)
    assert 0.5 <= time.monotonic() - t0 < 3
    assert "'slow' was not ready within 0.5 s" in str(info.value) and "warming up" in str(info.value)
    assert launcher["slow"].running and not launcher["slow"].ready
    assert launcher.down(timeout=5.0) == {"slow": -signal.SIGTERM}


def test_child_ignoring_sigterm_is_killed_with_its_grandchild(launcher):
    stubborn = py(
        """
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print("grandchild", child.pid, flush=True)
        time.sleep(60)
        """
    )
    [proc] = launcher.start([ComponentSpec("stubborn", command=stubborn, ready="grandchild")], None)
    deadline = time.monotonic() + 10
    while not proc.check_ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    grandchild = int(launcher.logs("stubborn").split("grandchild")[-1].split()[0])
    try:
        t0 = time.monotonic()
        assert launcher.down(timeout=0.5) == {"stubborn": -signal.SIGKILL}
        assert 0.5 <= time.monotonic() - t0 < 3
        with pytest.raises(ProcessLookupError):
            os.kill(proc.pid, 0)
        assert _wait_dead(grandchild, 3)
    finally:
        _kill_quietly(grandchild)


PARENT = """
import sys, time
from swergio_nb.swarm.launcher import Launcher
from swergio_nb.swarm.spec import ComponentSpec
launcher = Launcher(sys.argv[1])
[proc] = launcher.start([ComponentSpec("sleeper", command=[sys.executable, "-c", "import time; time.sleep(60)"])], None)
print(proc.pid, flush=True)
if sys.argv[2] == "hang":
    time.sleep(60)
"""


def _parent_and_child(tmp_path: Path, mode: str) -> tuple[subprocess.Popen, int]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "logs"), mode], stdout=subprocess.PIPE, text=True
    )
    return parent, int(parent.stdout.readline())


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux only")
def test_child_dies_when_its_launching_process_is_sigkilled(tmp_path):
    parent, child = _parent_and_child(tmp_path, "hang")
    try:
        assert not _dead(child)
        parent.kill()
        parent.wait(timeout=5)
        assert _wait_dead(child, 5)
    finally:
        _kill_quietly(parent.pid)
        _kill_quietly(child)
        parent.stdout.close()


def test_atexit_stops_children_when_the_interpreter_exits(tmp_path):
    parent, child = _parent_and_child(tmp_path, "exit")
    try:
        assert parent.wait(timeout=10) == 0
        with pytest.raises(ProcessLookupError):  # stopped and reaped by the parent's atexit hook
            os.kill(child, 0)
    finally:
        _kill_quietly(child)
        parent.stdout.close()


def test_the_hub_token_travels_by_environment_not_on_the_command_line():
    from swergio_nb.swarm.spec import ComponentSpec

    spec = ComponentSpec(name="c", module="swergio_nb.examples.trebuchet.control")
    url = "ws://127.0.0.1:9/?token=s3cret"
    argv = spec.argv(url)
    assert argv[-2:] == ["--hub", "ws://127.0.0.1:9"] and not any("s3cret" in part for part in argv)
    assert spec.environment(url)["SWERGIO_TOKEN"] == "s3cret"
