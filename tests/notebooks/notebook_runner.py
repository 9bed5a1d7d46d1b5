"""Shared helpers for the notebook tests: run a notebook on a real kernel (nbclient) and read its outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str, timeout: int = 600) -> nbformat.NotebookNode:
    """Run ``notebooks/<name>`` top to bottom in a fresh python3 kernel whose working directory is notebooks/."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
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
