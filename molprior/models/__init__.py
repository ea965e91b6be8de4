"""Neural networks (torch, PyG): the graph encoder, the generative model, task heads.

No files, no MLflow, no CLI here: saving and loading live in :mod:`molprior.serialization`.
"""
