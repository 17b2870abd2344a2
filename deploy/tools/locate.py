"""Where the deploy checks find their tools: the install.sh cache first, then PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def cache_bin() -> Path:
    root = os.environ.get("NORTHSTAR_CACHE") or str(Path.home() / ".cache" / "northstar")
    return Path(root) / "bin"


def find(name: str) -> str | None:
    """The path of a tool, or None."""
    cached = cache_bin() / name
    if cached.is_file() and os.access(cached, os.X_OK):
        return str(cached)
    return shutil.which(name)


def compose_command() -> list[str] | None:
    """``docker compose`` when the plugin is there, else ``docker-compose``, else None."""
    docker = find("docker")
    if docker is not None:
        plugin = subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if plugin.returncode == 0:
            return [docker, "compose"]
    legacy = find("docker-compose")
    return [legacy] if legacy else None
