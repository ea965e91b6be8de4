"""Metrics: pure functions of labels, scores and molecules (numpy, scikit-learn, RDKit).

The lowest layer a trainer, an evaluation protocol or a workflow reads a score from;
it imports nothing of molprior but :mod:`molprior.chem`.
"""
