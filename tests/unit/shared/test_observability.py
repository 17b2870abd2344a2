"""Logging hygiene."""

from __future__ import annotations

import logging

from shared.observability import RepeatFilter


def test_chatty_library_logs_are_thinned_to_one_per_interval() -> None:
    thinning = RepeatFilter(("aiokafka",), interval_s=60)

    def record(name: str, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)

    passed = [thinning.filter(record("aiokafka.conn", "Unable connect to %s")) for _ in range(50)]
    assert passed.count(True) == 1
    assert thinning.filter(record("aiokafka.conn", "another message"))
    assert all(thinning.filter(record("shared.app", "ours")) for _ in range(5))
