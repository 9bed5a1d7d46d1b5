"""Models leave and come back: state and settings by message (a real hub on port 0) and by file."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from swergio_nb import Client, Hub, PeerError
from swergio_nb.feedback import (
    ModelCommands,
    ModuleComponent,
    SettingsError,
    StateError,
    load_file,
    load_state,
    read_state,
    save_file,
    save_state,
)
from swergio_nb.protocol.codec import decode, encode

from ..helpers import until

X = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)


def component(seed: int, *, scheduler: bool = True, lr: float = 1e-2) -> ModuleComponent:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 0.9**k) if scheduler else None
    return ModuleComponent(net, optimizer, scheduler=sched)


def train(model: ModuleComponent, steps: int, seed: int = 1) -> None:
    """``steps`` optimizer steps on gradient messages, as the backward path delivers them."""
    rng = np.random.default_rng(seed)
    for i in range(steps):
        out = model.forward({"ID": f"x{seed}-{i}", "DATA": X})
        model.backward({"ID": f"g{seed}-{i}", "REPLY_TO": out["ID"], "DATA": rng.standard_normal((5, 3))})


def output(model: ModuleComponent) -> torch.Tensor:
    return model.forward({"ID": "v", "DATA": X, "MODEL_STATUS": 2})["DATA"]


def assert_same_state(a: ModuleComponent, b: ModuleComponent) -> None:
    """Equal weights, optimizer and scheduler state, bit for bit, with the same types."""

    def same(x, y):
        assert type(x) is type(y)
        if isinstance(x, torch.Tensor):
            assert x.dtype == y.dtype and torch.equal(x, y)
        elif isinstance(x, dict):
            assert x.keys() == y.keys()
            for k in x:
                same(x[k], y[k])
        elif isinstance(x, (list, tuple)):
            assert len(x) == len(y)
            for u, v in zip(x, y, strict=True):
                same(u, v)
        else:
            assert x == y

    same(a.module.state_dict(), b.module.state_dict())
    same(a.optimizer.state_dict(), b.optimizer.state_dict())
    same(a.scheduler and a.scheduler.state_dict(), b.scheduler and b.scheduler.state_dict())
    assert a.steps == b.steps


@pytest.fixture
async def hub():
    async with Hub(port=0) as running:
        yield running


async def serve(url: str, name: str, model: ModuleComponent, **commands) -> Client:
    client = Client(name, url)
    model.attach(client, input_room=f"{name}-in", output_room=f"{name}-out")
    ModelCommands(model, **commands).attach(client)
    return await client.connect()


async def test_a_model_saved_by_message_resumes_in_another_client_bit_exactly(hub):
    first, second = component(0), component(1)
    train(first, 3)
    a, b = await serve(hub.url, "a", first), await serve(hub.url, "b", second)
    try:
        async with Client("trainer", hub.url) as trainer:
            saved = await trainer.request({"TYPE": "COMMAND/SAVEMODELWEIGHTS", "TO": "a"}, timeout=10)
            assert saved["TYPE"] == "LOG/MODELWEIGHTS" and saved["COMPONENT"] == "a" and saved["STEPS"] == 3
            assert saved["FORMAT"] == 1 and saved["SENT_BY"] == "a"
            weights = saved["WEIGHTS"]
            assert sorted(weights) == ["0.bias", "0.weight", "2.bias", "2.weight"]
            assert weights["0.weight"].dtype == np.float32 and weights["0.weight"].shape == (8, 2)
            assert isinstance(encode(saved), bytes)  # arrays travel in a binary frame
            adam = saved["OPTIMIZER"]
            assert sorted(adam["state"]) == sorted(weights)  # keyed by parameter name
            assert adam["state"]["2.weight"]["exp_avg"].shape == (3, 8) and adam["state"]["2.bias"]["step"] == 3
            assert adam["param_groups"][0]["params"] == ["0.weight", "0.bias", "2.weight", "2.bias"]
            assert saved["SCHEDULER"]["last_epoch"] == 3

            fields = {k: saved[k] for k in ("WEIGHTS", "OPTIMIZER", "SCHEDULER", "STEPS")}
            ack = await trainer.request({"TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": "b", **fields}, timeout=10)
            assert ack["TYPE"] == "COMMAND/ACK" and ack["COMPONENT"] == "b" and ack["STEPS"] == 3
    finally:
        await a.close()
        await b.close()

    assert_same_state(first, second)  # betas a tuple again, step a float32 scalar tensor, ...
    assert torch.equal(output(first), output(second))
    train(first, 1, seed=7)
    train(second, 1, seed=7)
    assert_same_state(first, second)  # the same Adam step and the same annealed rate
    assert second.optimizer.param_groups[0]["lr"] == pytest.approx(1e-2 * 0.9**4, rel=1e-12)


async def test_a_refused_load_answers_an_error_and_changes_nothing(hub):
    model = component(0)
    train(model, 2)
    a = await serve(hub.url, "a", model)
    try:
        async with Client("trainer", hub.url) as trainer:
            saved = await trainer.request({"TYPE": "COMMAND/SAVEMODELWEIGHTS", "TO": "a"}, timeout=10)
            good = {k: saved[k] for k in ("WEIGHTS", "OPTIMIZER", "SCHEDULER", "STEPS")}
            train(model, 1)  # the model moves on; the refused loads below must not take it back
            before = save_state(model)
            bad_weights = dict(good, WEIGHTS={**good["WEIGHTS"], "2.bias": np.zeros(7, np.float32)})
            with pytest.raises(PeerError, match=r"bad-weights: WEIGHTS\['2.bias'\]: shape \(7,\) does not fit \(3,\)"):
                await trainer.request({"TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": "a", **bad_weights}, timeout=10)
            bad_adam = dict(good, OPTIMIZER={**good["OPTIMIZER"], "state": {"head.weight": {}}})  # weights fine
            with pytest.raises(PeerError, match="'head.weight', which is not a parameter this optimizer steps"):
                await trainer.request({"TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": "a", **bad_adam}, timeout=10)
            with pytest.raises(PeerError, match="carries no WEIGHTS"):
                await trainer.request({"TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": "a"}, timeout=10)
            after = await trainer.request({"TYPE": "COMMAND/SAVEMODELWEIGHTS", "TO": "a"}, timeout=10)
    finally:
        await a.close()
    assert after["STEPS"] == before["STEPS"] == 3
    for name, array in before["WEIGHTS"].items():
        np.testing.assert_array_equal(after["WEIGHTS"][name], array, strict=True)
    for name, entry in before["OPTIMIZER"]["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(after["OPTIMIZER"]["state"][name][key], value, strict=True)


def mutated(state: dict, path: tuple, value) -> dict:
    """A deep copy of the message-form ``state`` with the item at ``path`` replaced (or deleted if value is ...)."""
    state = decode(encode({"ID": "s", "TYPE": "LOG/MODELWEIGHTS", "TO": "x", **state}))
    node = state
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return state


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("WEIGHTS", "0.bias"), ..., r"missing \['0.bias'\], unexpected \[\]"),
        (("WEIGHTS", "extra"), np.zeros(1, np.float32), r"missing \[\], unexpected \['extra'\]"),
        (("WEIGHTS", "0.bias"), np.zeros((8, 1), np.float32), r"shape \(8, 1\) does not fit \(8,\)"),
        (("WEIGHTS", "0.bias"), "eight", "dtype <U5 cannot be loaded"),
        (("WEIGHTS", "0.bias"), np.zeros(8, complex), "complex128 values cannot be loaded into torch.float32"),
        (("WEIGHTS",), [1, 2], "WEIGHTS must map names to arrays"),
        (("OPTIMIZER", "state", "0.weight", "exp_avg"), np.zeros((2, 8), np.float32), r"shape \(2, 8\)"),
        (("OPTIMIZER", "state", "0.weight", "exp_avg_sq"), ..., "expected the keys"),
        (("OPTIMIZER", "state", 0), {}, "0, which is not a parameter"),  # torch's own int keys
        (("OPTIMIZER", "param_groups", 0, "params"), ["0.weight"], "param group 0 steps"),
        (("OPTIMIZER", "param_groups", 0, "betas"), [0.9], "expected a list of 2"),
        (("OPTIMIZER", "param_groups", 0, "amsgrad"), 1, "expected a bool"),
        (("OPTIMIZER", "param_groups", 0, "lr"), "fast", "expected a number"),
        (("OPTIMIZER", "param_groups"), [], "a list of 1 groups"),
        (("OPTIMIZER",), {"state": {}}, "OPTIMIZER param_groups must be"),
        (("SCHEDULER", "base_lrs"), ..., "expected the keys"),
        (("SCHEDULER", "last_epoch"), None, "expected a number"),
        (("STEPS",), -1, "STEPS must be a non-negative int"),
        (("FORMAT",), 2, "FORMAT 2 is not 1"),
    ],
)
def test_every_misfit_is_refused_by_name_and_nothing_changes(path, value, reason):
    source, target = component(0), component(1)
    train(source, 2)
    train(target, 1, seed=3)
    state = mutated(save_state(source), path, value)
    reference = component(1)
    train(reference, 1, seed=3)
    with pytest.raises(StateError, match=reason):
        load_state(target, state)
    assert_same_state(target, reference)


def test_a_fresh_optimizer_takes_the_state_and_an_absent_optimizer_starts_afresh():
    source = component(0, scheduler=False)
    train(source, 2)
    state = save_state(source)
    fresh = component(1, scheduler=False)
    load_state(fresh, decode(encode({"ID": "s", "TYPE": "LOG/MODELWEIGHTS", "TO": "x", **state})))
    assert_same_state(source, fresh)

    bad = mutated(state, ("OPTIMIZER", "state", "0.bias", "exp_avg"), np.zeros((8, 2), np.float32))
    with pytest.raises(StateError, match=r"shape \(8, 2\) is neither the parameter's \(8,\) nor \(\)"):
        load_state(component(1, scheduler=False), bad)
    with pytest.raises(StateError, match="SCHEDULER given, but the component has no scheduler"):
        load_state(component(1, scheduler=False), {**state, "SCHEDULER": {}})

    pending = component(2, scheduler=False)
    train(pending, 1)
    pending.forward({"ID": "waiting", "DATA": X})  # its gradient never comes: the graph holds the old weights
    load_state(pending, {"WEIGHTS": state["WEIGHTS"]})
    assert len(pending.pending) == 0 and pending.pending.stats.cleared == 1
    assert pending.optimizer.state_dict()["state"] == {} and pending.steps == 1  # moments dropped, steps kept
    assert torch.equal(output(pending), output(source))


def test_a_state_sent_as_json_lists_loads_bit_exactly_too():
    """A client without the binary frame (JSON numbers, int keys as strings, no tuples) loses nothing that counts."""
    source, target = component(0), component(1)
    train(source, 2)
    train(target, 1)  # its own state is the template of types: float32 step scalars, tuple betas
    listed = json.loads(json.dumps(save_state(source), default=lambda array: array.tolist()))
    assert isinstance(encode({"ID": "s", "TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": "b", **listed}), str)
    load_state(target, listed)
    assert_same_state(source, target)


def test_bfloat16_weights_travel_as_float32_and_come_back_exactly():
    def bf16(seed):
        torch.manual_seed(seed)
        net = nn.Linear(4, 2).to(torch.bfloat16)
        return ModuleComponent(net, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), dtype=torch.bfloat16)

    source, target = bf16(0), bf16(1)
    state = save_state(source)
    assert state["WEIGHTS"]["weight"].dtype == np.float32
    load_state(target, decode(encode({"ID": "s", "TYPE": "LOG/MODELWEIGHTS", "TO": "x", **state})))
    assert_same_state(source, target)


def test_a_file_resumes_the_model_and_an_old_plain_state_dict_file_loads_its_weights(tmp_path):
    source = component(0)
    train(source, 4)
    save_file(source, tmp_path / "model.pt")
    resumed = component(1)
    load_file(resumed, tmp_path / "model.pt")
    assert_same_state(source, resumed)
    train(source, 1, seed=9)
    train(resumed, 1, seed=9)
    assert_same_state(source, resumed)

    state = read_state(tmp_path / "model.pt")  # as a message carries it: numpy arrays, through the codec and back
    assert isinstance(state["WEIGHTS"]["0.weight"], np.ndarray)
    by_message, by_file = component(4), component(5)
    load_state(by_message, decode(encode({"ID": "l", "TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": "x", **state})))
    load_file(by_file, tmp_path / "model.pt")
    assert_same_state(by_file, by_message)

    torch.save(source.module.state_dict(), tmp_path / "old.pt")  # what the trebuchet demo wrote
    old = component(2)
    train(old, 1)
    load_file(old, tmp_path / "old.pt")
    assert torch.equal(output(old), output(source))
    assert old.optimizer.state_dict()["state"] == {}  # a fresh optimizer
    partial = {"0.weight": source.module.state_dict()["0.weight"]}  # an old-form dict must be whole too
    with pytest.raises(StateError, match=r"missing \['0.bias', '2.weight', '2.bias'\]"):
        load_state(component(3), partial)


@dataclass
class Options:
    seed: int = 0
    lr: float = 1e-2
    width: int = 8
    temperature: float = 1.0


async def test_settings_round_trip_and_the_learning_rate_changes_live(hub):
    model = component(0)
    train(model, 2)
    temperature = []

    def set_temperature(value):
        if not isinstance(value, (int, float)) or value <= 0:
            raise ValueError("temperature must be a positive number")
        temperature.append(float(value))
        return float(value)

    a = await serve(hub.url, "a", model, settings=Options(), live={"temperature": set_temperature})
    try:
        async with Client("trainer", hub.url) as trainer:

            async def ask(mtype, **fields):
                return await trainer.request({"TYPE": mtype, "TO": "a", **fields}, timeout=10)

            saved = await ask("COMMAND/SAVESETTINGS")
            assert saved["TYPE"] == "LOG/SETTINGS" and saved["COMPONENT"] == "a"
            assert saved["SETTINGS"] == {"seed": 0, "lr": 1e-2, "width": 8, "temperature": 1.0}
            assert saved["LIVE"] == ["lr", "temperature"] and isinstance(encode(saved), str)  # plain JSON

            changed = await ask("COMMAND/LOADSETTINGS", SETTINGS={**saved["SETTINGS"], "lr": 0.05, "temperature": 2})
            assert changed["TYPE"] == "LOG/SETTINGS"
            assert changed["SETTINGS"] == {"seed": 0, "lr": 0.05, "width": 8, "temperature": 2.0}
            assert temperature == [2.0]
            # the schedule goes on from the new base: 0.05 * 0.9**2 now, 0.05 * 0.9**3 after the next step
            assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * 0.9**2, rel=1e-12)
            assert model.scheduler.get_last_lr() == [model.optimizer.param_groups[0]["lr"]]
            train(model, 1)
            assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * 0.9**3, rel=1e-12)

            with pytest.raises(PeerError, match=r"bad-settings: unknown settings \['depth'\]"):
                await ask("COMMAND/LOADSETTINGS", SETTINGS={"lr": 0.1, "depth": 3})
            with pytest.raises(PeerError, match=r"bad-settings: settings \['width'\] cannot change while"):
                await ask("COMMAND/LOADSETTINGS", SETTINGS={"lr": 0.1, "width": 16})
            with pytest.raises(PeerError, match="bad-settings: lr must be a finite number >= 0"):
                await ask("COMMAND/LOADSETTINGS", SETTINGS={"temperature": 3.0, "lr": -1})
            with pytest.raises(
                PeerError, match="'temperature' to -1 was refused: temperature must be a positive number"
            ):
                await ask("COMMAND/LOADSETTINGS", SETTINGS={"lr": 0.1, "temperature": -1})
            after = await ask("COMMAND/SAVESETTINGS")
    finally:
        await a.close()
    assert after["SETTINGS"] == changed["SETTINGS"] and temperature == [2.0]  # every refusal changed nothing
    assert model.scheduler.base_lrs == [0.05]


def test_a_refused_live_setting_sets_back_those_applied_before_it():
    calls = []

    def setter(name):
        def apply(value):
            if value == "bad":
                raise TypeError("no")
            calls.append((name, value))

        return apply

    commands = ModelCommands(
        component(0, scheduler=False), settings={"a": 1, "b": 2}, live={"a": setter("a"), "b": setter("b")}
    )
    with pytest.raises(SettingsError, match="'b' to 'bad' was refused"):
        commands.update_settings({"a": 5, "b": "bad", "lr": 0.5})
    assert calls == [("a", 5), ("a", 1)] and commands.settings == {"a": 1, "b": 2, "lr": 1e-2}
    with pytest.raises(TypeError, match="live settings must be options other than lr"):
        ModelCommands(component(0), settings={"a": 1}, live={"lr": setter("lr")})
    with pytest.raises(TypeError, match="settings must hold JSON values"):
        ModelCommands(component(0), settings={"path": object()})


def test_per_group_learning_rates_are_a_list():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    optimizer = torch.optim.SGD([{"params": net[0].parameters(), "lr": 0.1}, {"params": net[1].parameters()}], lr=0.2)
    commands = ModelCommands(ModuleComponent(net, optimizer))
    assert commands.settings == {"lr": [0.1, 0.2]}
    assert commands.update_settings({"lr": 0.3}) == {"lr": 0.3}
    assert commands.update_settings({"lr": [0.4, 0.5]}) == {"lr": [0.4, 0.5]}
    assert [g["lr"] for g in optimizer.param_groups] == [0.4, 0.5]
    with pytest.raises(SettingsError, match="a list of 2 of them"):
        commands.update_settings({"lr": [0.4]})


async def test_saves_during_training_in_a_thread_see_whole_steps(hub):
    """Data handlers in a worker thread, commands on the loop: each save sees the state between two steps."""
    model = component(0)
    client = Client("a", hub.url)
    model.attach(client, input_room="a-in", output_room="a-out", in_thread=True)
    ModelCommands(model).attach(client)
    await client.connect()
    rng = np.random.default_rng(0)
    try:
        async with Client("trainer", hub.url) as trainer, Client("watcher", hub.url) as watcher:
            trained = asyncio.Event()

            async def training():
                for _ in range(20):
                    out = await trainer.request(
                        {"TYPE": "DATA/FORWARD", "TO_ROOM": "a-in", "DATA": X}, reply_room="a-out", timeout=10
                    )
                    grad = {"TYPE": "DATA/GRADIENT", "TO_ROOM": "a-out", "REPLY_TO": out["ID"]}
                    await trainer.send({**grad, "DATA": rng.standard_normal((5, 3)).astype(np.float32)})
                trained.set()

            async def watching():
                saves = []
                while not trained.is_set():
                    saves.append(await watcher.request({"TYPE": "COMMAND/SAVEMODELWEIGHTS", "TO": "a"}, timeout=10))
                return saves

            _, saves = await asyncio.gather(training(), watching())
            await until(lambda: model.steps == 20)
    finally:
        await client.close()
    for saved in saves:
        steps = saved["STEPS"]
        assert saved["SCHEDULER"]["last_epoch"] == steps
        assert all(entry["step"] == steps for entry in saved["OPTIMIZER"]["state"].values())
