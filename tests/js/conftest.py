"""Fixtures of the JavaScript client's tests: Node and the installed npm packages of js/ (``npm ci --prefix js``).

Without them the tests are skipped, unless ``CI`` is set (CI installs both: there a missing one is a failure).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: The npm package of the JavaScript client and the widget front ends.
JS = Path(__file__).resolve().parents[2] / "js"


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` executable, with ``js/node_modules`` installed."""
    found = shutil.which("node")
    missing = "node is not on PATH" if found is None else None
    if missing is None and not (JS / "node_modules" / "@msgpack" / "msgpack").is_dir():
        missing = "js/node_modules is missing: run `npm ci --prefix js`"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    return str(found)
