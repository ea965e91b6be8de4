"""Scoring that isolates failures: a batch that fails as a whole is narrowed down by halves."""

from __future__ import annotations

import pandas as pd
import pytest

from molprior.inference.isolation import error_reason, score_isolating_failures


def _lengths(batch, calls, guilty=("C1CC",)):
    calls.append(len(batch))
    items = batch["smiles"].tolist() if isinstance(batch, pd.DataFrame) else list(batch)
    if set(guilty) & set(items):
        raise ValueError(f"cannot parse\n  {items}")
    return pd.DataFrame({"n": [len(s) for s in items], "error": ""}, index=range(100, 100 + len(items)))


def _failed(single, reason):
    return pd.DataFrame({"n": [float("nan")], "error": [f"cannot score: {reason}"]})


@pytest.mark.parametrize("as_frame", [False, True])
def test_only_the_inputs_that_fail_alone_get_an_error(as_frame):
    smiles = ["CCO", "CCN", "C1CC", "c1ccccc1", "CC(=O)O", "C1CC", "CCCl"]
    batch = pd.DataFrame({"smiles": smiles}) if as_frame else smiles
    calls = []
    out = score_isolating_failures(lambda part: _lengths(part, calls), batch, _failed)
    assert out.index.tolist() == list(range(7))  # one row per input, in order
    assert out["error"].tolist() == ["", "", "cannot score: cannot parse: ['C1CC']", "", "",
                                     "cannot score: cannot parse: ['C1CC']", ""]
    assert out["n"].tolist()[:2] == [3, 3] and out["n"].tolist()[6] == 4
    assert calls[0] == 7 and len(calls) < 2 * len(smiles)  # halves, not every input on its own


def test_a_wrong_number_of_rows_counts_as_a_failure():
    def short(part):
        return pd.DataFrame({"n": [1] * max(1, len(part) - 1), "error": ""})

    out = score_isolating_failures(short, ["a", "b"], _failed)
    assert out["n"].tolist() == [1, 1] and (out["error"] == "").all()  # each alone gives its one row


def test_an_empty_batch_that_fails_raises_and_reasons_are_one_line():
    def broken(part):
        raise RuntimeError("no model")

    with pytest.raises(RuntimeError, match="no model"):
        score_isolating_failures(broken, [], _failed)
    assert error_reason(ValueError("first\n\n  second\nthird")) == "first: second"
    assert error_reason(KeyError()) == "KeyError" and len(error_reason(ValueError("x" * 999))) == 300
