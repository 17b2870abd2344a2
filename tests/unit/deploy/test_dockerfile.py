"""The Dockerfile: pinned, multi-stage, non-root, and its build context holds the whole project."""

from __future__ import annotations

import fnmatch
import re
import shutil
from pathlib import Path

from setuptools import find_packages

from shared.cli import SERVICES
from tests.unit.deploy.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [
        line.split(None, 1)[1]
        for line in joined.splitlines()
        if line.strip().upper().startswith(name + " ")
    ]


def ignored(path: str, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatch(path, p)
        or path.startswith(p.rstrip("/") + "/")
        or fnmatch.fnmatch(path, p.replace("**/", "*/"))
        or fnmatch.fnmatch(Path(path).name, p)
        for p in patterns
    )


def test_base_image_is_a_pinned_slim_python_311_and_the_build_has_two_stages() -> None:
    [default] = re.findall(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", default)
    stages = instructions("FROM")
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]


def test_the_image_runs_as_a_numeric_non_root_user_and_takes_the_service_as_command() -> None:
    [user] = instructions("USER")
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) >= 1000
    assert instructions("ENTRYPOINT") == ['["northstar"]']
    [cmd] = instructions("CMD")
    assert cmd.startswith('["serve", ')
    assert "NORTHSTAR_HOST=0.0.0.0" in DOCKERFILE
    exposed = {int(p) for p in instructions("EXPOSE")[0].split()}
    assert exposed == set(SERVICES.values())


def test_what_the_build_copies_is_in_the_context_and_packages_every_service(
    tmp_path: Path,
) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    context = tmp_path / "context"
    for copy in instructions("COPY"):
        if copy.startswith("--from"):
            continue
        source = copy.split()[0]
        assert (ROOT / source).exists(), source
        assert not ignored(source, patterns), f"{source} is excluded by .dockerignore"
        target = context / source
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / source, target)
    packages = set(find_packages(str(context), include=["shared*", "services*", "deploy*"]))
    assert {f"services.{name}" for name in SERVICES} <= packages
    assert {"shared", "shared.messaging", "shared.events", "deploy.local"} <= packages
    for name in SERVICES:
        assert (context / "services" / name / "main.py").exists()


def test_the_context_leaves_out_local_state_and_tests() -> None:
    patterns = (ROOT / ".dockerignore").read_text().splitlines()
    for path in (".git", ".venv", ".run", "tests"):
        assert ignored(path, patterns), path
