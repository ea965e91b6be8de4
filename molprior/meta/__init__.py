"""Few-shot learners: baselines on fingerprints (and, later, MAML on the graph encoder)."""
