"""The shipped models score fixed real inputs as they did on the machine that wrote the
golden file, within the stated float32 tolerance (a CPU or BLAS build of its own may sum
in another order, but must not change a result beyond rounding)."""

from __future__ import annotations

import json

import numpy as np

from molprior.data.mhc import score_to_ic50

from _golden import GOLDEN, TOLERANCE, shipped_scores


def test_the_shipped_models_agree_with_the_golden_scores():
    expected = json.loads(GOLDEN.read_text())
    found = shipped_scores()
    np.testing.assert_allclose(found["embeddings"], expected["embeddings"], rtol=TOLERANCE, atol=TOLERANCE)
    assert found["mhc_scores"].keys() == expected["mhc_scores"].keys()
    for allele, scores in expected["mhc_scores"].items():
        np.testing.assert_allclose(found["mhc_scores"][allele], scores, rtol=0, atol=TOLERANCE, err_msg=allele)
    # known epitopes are called binders (< 500 nM) of their alleles: the golden file is a trained model's
    assert (score_to_ic50(np.array(found["mhc_scores"]["HLA-A*02:01"][:3])) < 500).all()
    assert score_to_ic50(np.array(found["mhc_scores"]["HLA-B*07:02"][3])) < 500
    assert score_to_ic50(np.array(found["mhc_scores"]["HLA-A*03:01"][5])) < 500
