"""Fixtures of the browser tests (the helpers are in :mod:`tests.browser.lab`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.lab import ARTIFACTS, require_chromium


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's /usr/bin/chromium (skipped without it, or without Playwright/JupyterLab, unless CI is set)."""
    return require_chromium()


@pytest.fixture()
def artifacts() -> Path:
    """``test-artifacts/`` at the repository root, without a previous run's failure dump."""
    ARTIFACTS.mkdir(exist_ok=True)
    for stale in ARTIFACTS.glob("failure.*"):
        stale.unlink()
    return ARTIFACTS
