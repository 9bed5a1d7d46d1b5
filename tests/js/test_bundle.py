"""swergio_nb/static/ is exactly what ``npm --prefix js run build`` makes from js/ (so a stale bundle fails CI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.js.conftest import JS

STATIC = JS.parent / "swergio_nb" / "static"


def test_checked_in_static_folder_equals_a_fresh_build(node: str, tmp_path: Path) -> None:
    out = tmp_path / "static"
    subprocess.run([node, str(JS / "build.mjs"), "--outdir", str(out)], check=True, timeout=120, capture_output=True)
    built = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    checked_in = {p.name: p.read_bytes() for p in sorted(STATIC.iterdir())}
    assert {"swergio.js", "labelling.js", "traffic.js", "metrics.js", "dashboard.js"} <= built.keys()
    assert sorted(checked_in) == sorted(built), "swergio_nb/static/ has other files than the build makes"
    stale = [name for name in built if built[name] != checked_in[name]]
    assert not stale, f"swergio_nb/static/{stale} differ from a fresh build: run `npm --prefix js run build`"


def test_the_client_type_checks(node: str) -> None:
    """The JSDoc types of js/src, js/test and js/examples hold (``tsc --checkJs --noEmit``, js/tsconfig.json)."""
    tsc = JS / "node_modules" / "typescript" / "bin" / "tsc"
    result = subprocess.run([node, str(tsc), "-p", str(JS)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
