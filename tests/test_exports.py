"""Every public module declares __all__, and everything it lists exists (as websockets' tests/test_exports.py)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import swergio_nb

MODULES = sorted(
    (m.name, m.ispkg)
    for m in pkgutil.walk_packages(swergio_nb.__path__, "swergio_nb.")
    if not m.name.rsplit(".", 1)[-1].startswith("_")
)


@pytest.mark.parametrize(("name", "is_package"), MODULES)
def test_module_declares_exports_that_exist(name, is_package):
    module = importlib.import_module(name)
    if is_package and not hasattr(module, "__all__"):
        return  # namespace-only packages (swergio_nb.examples...) export nothing
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    assert [symbol for symbol in module.__all__ if not hasattr(module, symbol)] == []


def test_package_exports_the_public_api():
    assert {"Hub", "Client", "Trigger", "Router", "MessageType", "make_message"} <= set(swergio_nb.__all__)
    assert [symbol for symbol in swergio_nb.__all__ if not hasattr(swergio_nb, symbol)] == []


def test_feedback_exports_the_input_optimizer():
    feedback = importlib.import_module("swergio_nb.feedback")
    assert {"InputOptimizer", "InputOptimization", "Objective"} <= set(feedback.__all__)
