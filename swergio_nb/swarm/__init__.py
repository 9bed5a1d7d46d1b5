"""Components declared once and run together: a :class:`Component` declaration (:mod:`.component`, ``@component``
on a build: its options, command line, process argv and ``swarm.yaml`` entry), the :class:`Swarm` that starts
declared components in this process or as OS processes (:mod:`.swarm`), the launcher of component processes
(:mod:`.launcher`, swergio's ``swarm.yaml``) and the ``swergio-nb`` command (:mod:`.cli`)."""

from __future__ import annotations

from .component import Component, ComponentError, component, driver, option
from .launcher import ComponentExited, Launcher
from .spec import ComponentSpec, LauncherError
from .swarm import Member, Swarm
from .swarmfile import SwarmSpec, load_spec

__all__ = [
    "Component",
    "ComponentError",
    "ComponentExited",
    "ComponentSpec",
    "Launcher",
    "LauncherError",
    "Member",
    "Swarm",
    "SwarmSpec",
    "component",
    "driver",
    "load_spec",
    "option",
]
