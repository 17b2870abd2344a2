"""`make test PYTEST_ARGS=...` hands everything after `stack test` to pytest, in order."""

import pytest

from deploy.local.stack import cmd_test, parse_args


def test_options_after_test_reach_pytest_in_order() -> None:
    args = parse_args(["test", "-x", "-k", "kpi", "--durations=30", "tests/unit"])
    assert args.func is cmd_test
    assert args.pytest_args == ["-x", "-k", "kpi", "--durations=30", "tests/unit"]


def test_no_arguments_run_pytest_bare() -> None:
    assert parse_args(["test"]).pytest_args == []


def test_other_commands_refuse_extra_arguments() -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["up", "-x"])
    assert exc.value.code == 2
