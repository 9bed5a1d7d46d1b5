"""Shared helpers for the notebook tests: run a notebook on a real kernel (nbclient) and read its outputs."""

from __future__ import annotations

import re
from copy import deepcopy
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def with_parameters(nb: nbformat.NotebookNode, **values: Any) -> nbformat.NotebookNode:
    """``nb`` with the assignments ``NAME = ...`` of its first code cell set to ``values`` (their ``repr``), as a
    person would edit them before running (a notebook's settings live in its first code cell).

    Raises:
        KeyError: a name the first code cell does not assign.
    """
    cell = next(c for c in nb.cells if c.cell_type == "code")
    for name, value in values.items():
        cell.source, count = re.subn(rf"(?m)^{name} = .*$", f"{name} = {value!r}", cell.source)
        if count != 1:
            raise KeyError(f"the first code cell does not assign {name} once:\n{cell.source}")
    return nb


def execute(
    name: str, timeout: int = 600, *, each_cell_twice: bool = False, **parameters: Any
) -> nbformat.NotebookNode:
    """Run ``notebooks/<name>`` top to bottom in a fresh python3 kernel whose working directory is notebooks/,
    with ``parameters`` set in its first code cell (:func:`with_parameters`).

    With ``each_cell_twice``, every code cell runs twice in a row in the same kernel, as a person re-running cells
    would (the returned notebook holds both copies: the first run of a cell, then its copy).
    """
    nb = with_parameters(nbformat.read(NOTEBOOKS / name, as_version=4), **parameters)
    if each_cell_twice:
        nb.cells = [copy for c in nb.cells for copy in ([c, deepcopy(c)] if c.cell_type == "code" else [c])]
    resources = {"metadata": {"path": str(NOTEBOOKS)}}
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=resources).execute()
    return nb


def text_of(cell) -> str:
    """The stream and text/plain outputs of a cell, concatenated."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif "data" in output and "text/plain" in output["data"]:
            parts.append(output["data"]["text/plain"])
    return "".join(parts)


def cell_containing(nb, source_fragment: str):
    """The first code cell whose source contains ``source_fragment``."""
    return next(c for c in nb.cells if c.cell_type == "code" and source_fragment in c.source)
