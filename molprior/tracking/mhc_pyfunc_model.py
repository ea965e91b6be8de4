"""The pyfunc entry point of a packaged MHC model (MLflow "models from code": nothing unpickled)."""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel


class MHCPyfunc(PythonModel):
    """Scores peptide/allele pairs with the predictor in the model's ``mhc`` artifact."""

    def load_context(self, context) -> None:
        from molprior.inference.mhc_predictor import load_predictor

        self.predictor = load_predictor(context.artifacts["mhc"])

    def predict(self, context, model_input, params=None):
        from molprior.workflows.peptide_scoring import score_table

        return score_table(self.predictor, model_input)


mlflow.models.set_model(MHCPyfunc())
