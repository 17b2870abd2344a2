"""``northstar login-url``: local mode only, known roles, a link to web's sign-in path."""

from __future__ import annotations

import pytest

from shared.cli import SERVICES, build_parser


def test_login_url_is_refused_outside_local_mode(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NORTHSTAR_ENV", "production")
    monkeypatch.setenv("NORTHSTAR_JWT_SECRET", "p" * 40)
    args = build_parser().parse_args(["login-url", "--tenant", "acme", "--sub", "p-1"])
    assert args.func(args) == 2
    assert "only issued in local mode" in capsys.readouterr().err


def test_login_url_refuses_unknown_roles(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["login-url", "--tenant", "acme", "--sub", "p-1", "--role", "root"]
    )
    assert args.func(args) == 2
    assert "unknown role" in capsys.readouterr().err


def test_web_is_a_service_on_port_8000_listed_first() -> None:
    assert next(iter(SERVICES.items())) == ("web", 8000)
