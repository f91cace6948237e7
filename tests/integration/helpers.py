"""Helpers shared by the integration tests: run segstream as users do, read Delta back."""

from __future__ import annotations

import subprocess
import sys

from segstream.config import Settings
from tests.conftest import settings_env


def run_cli(
    settings: Settings, *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Runs `segstream ARGS` in a subprocess with these settings; fails the test on error."""
    proc = subprocess.run(
        [sys.executable, "-m", "segstream.cli", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"segstream {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc
