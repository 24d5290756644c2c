"""The import-linter contracts in pyproject.toml: layers, and no import of pvaPy's framework."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint_imports is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", ["pvaflow.stream.config", "pvaflow.accounting", "pvaflow.stream.naming",
                                    "pvaflow.stream.request", "pvaflow.stream.metadata_spec"])
def test_option_parsing_and_accounting_need_no_pvaccess(module: str) -> None:
    """The pure modules (config validation, id accounting, names, requests) load without pvaccess."""
    code = f"import sys, {module}; print('pvaccess' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stdout + result.stderr
