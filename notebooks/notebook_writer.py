"""Writes a notebook from ``(kind, source)`` cells: what the ``make_*.py`` generators in this folder share."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

__all__ = ["write_notebook"]


def write_notebook(cells: Sequence[tuple[str, str]], name: str, id_prefix: str) -> Path:
    """Write ``cells`` (``("md" | "code", source)``) as ``notebooks/<name>`` with a Python 3 kernel.

    Cell ids are ``<id_prefix>-00``, ``-01``...: stable, so regenerating a notebook changes only what changed.

    Returns:
        The path written.
    """
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"{id_prefix}-{number:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = Path(__file__).resolve().parent / name
    nbformat.write(nb, path)
    print(f"wrote {path}")
    return path
