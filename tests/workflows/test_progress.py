"""Progress reporting: bars, log lines for a log file, or nothing."""

from __future__ import annotations

import pytest

from molprior.workflows import progress


@pytest.fixture
def mode():
    yield progress.set_mode
    progress.set_mode("bar")


def test_log_mode_writes_a_line_each_tenth(mode, caplog):
    mode("log")
    with caplog.at_level("INFO", logger="molprior.workflows.progress"):
        with progress.progress_bar("scoring", None) as advance:
            advance(5)  # no total yet: nothing to say
            advance.set_total(40)
            for _ in range(7):
                advance(5)  # 10, 15, ..., 40
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(",")[0] for line in lines] == [
        "scoring: 10 of 40 (25%)", "scoring: 15 of 40 (38%)", "scoring: 20 of 40 (50%)", "scoring: 25 of 40 (62%)",
        "scoring: 30 of 40 (75%)", "scoring: 35 of 40 (88%)", "scoring: 40 of 40 (100%)"]


def test_off_mode_says_nothing(mode, caplog):
    mode("off")
    with caplog.at_level("INFO"), progress.progress_bar("scoring", 10) as advance:
        advance(10)
    assert not caplog.records


def test_an_unknown_mode_is_refused(mode):
    with pytest.raises(ValueError, match="unknown progress mode 'loud'"):
        mode("loud")
