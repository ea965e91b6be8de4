"""MLflow bookkeeping: the tracking URI, runs with parameters, data hashes and artifacts."""
