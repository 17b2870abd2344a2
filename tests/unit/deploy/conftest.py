"""The deploy checks run real tools; CI installs them with deploy/tools/install.sh."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from deploy.tools import locate

ROOT = Path(__file__).resolve().parents[3]


def missing(what: str) -> None:
    """Fail in CI (a missing tool is a broken set-up), skip on a developer's machine."""
    message = f"{what} not found: run deploy/tools/install.sh"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def tool() -> Callable[[str], str]:
    def find(name: str) -> str:
        path = locate.find(name)
        if path is None:
            missing(name)
        assert path is not None
        return path

    return find


@pytest.fixture(scope="session")
def compose() -> list[str]:
    command = locate.compose_command()
    if command is None:
        missing("docker compose or docker-compose")
    assert command is not None
    return command


def run(command: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a tool from the repository root; the assertion message carries its output."""
    done = subprocess.run(
        list(command), cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, **kwargs
    )  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done  # type: ignore[no-any-return]
