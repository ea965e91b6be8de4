"""The pyfunc entry point of a packaged MHC model (MLflow "models from code": nothing unpickled)."""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel


class MHCPyfunc(PythonModel):
    """Scores peptide/allele pairs with the predictor in the model's ``mhc`` artifact."""

    def load_context(self, context) -> None:
        from molprior.serialization import load_predictor

        self.predictor = load_predictor(context.artifacts["mhc"])

    def predict(self, context, model_input, params=None):
        """One output row per input row, in order; an invalid peptide, an unknown allele or a
        row that cannot be scored is that row's ``error``.  Only a request malformed as a whole
        (no ``peptide`` or ``allele`` column) fails, with a one-line message and no stack trace."""
        import pandas as pd

        from molprior.tracking.mhc_pyfunc import score_pairs
        from molprior.tracking.pyfunc import request_error

        try:
            frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            return score_pairs(self.predictor, frame)
        except Exception as error:
            raise request_error(error) from None


mlflow.models.set_model(MHCPyfunc())
