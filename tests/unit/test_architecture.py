"""The layering of docs/ARCHITECTURE.md holds: venue packages stay at the edge (import-linter)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports() -> str:
    found = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    return found


def test_the_import_contracts_are_kept() -> None:
    run = subprocess.run(
        [_lint_imports()], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_a_venue_import_in_the_core_breaks_the_contract(tmp_path: Path) -> None:
    """The check can fail: a copy of the package whose core imports Kalshi is refused."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "kxbtc", copy / "kxbtc")
    (copy / "kxbtc" / "core" / "leak.py").write_text("from kxbtc.kalshi import rest  # noqa: F401\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    run = subprocess.run(
        [_lint_imports()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PYTHONPATH": str(copy), "PATH": str(Path(sys.executable).parent)},
    )
    assert run.returncode != 0
    assert "BROKEN" in run.stdout
