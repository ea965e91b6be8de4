"""The pyfunc entry point of a packaged molprior model (MLflow "models from code": this file
is copied into the model and run at load time, so nothing is unpickled)."""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel


class FewShotPyfunc(PythonModel):
    """Scores molecules with the adapted heads in the model's ``heads`` artifact."""

    def load_context(self, context) -> None:
        from molprior.tracking.pyfunc import ScoringModel

        self.model = ScoringModel(context.artifacts["heads"])

    def predict(self, context, model_input, params=None):
        """One output row per input row, in order; a molecule that cannot be scored is that
        row's ``error``.  Only a request malformed as a whole (no ``smiles`` column) fails, with
        a one-line message and no stack trace."""
        import pandas as pd

        from molprior.tracking.pyfunc import request_error

        try:
            if isinstance(model_input, dict):
                model_input = pd.DataFrame(model_input)
            elif not isinstance(model_input, pd.DataFrame):  # a list or a column of SMILES
                model_input = pd.DataFrame({"smiles": list(model_input)})
            return self.model.score(model_input, (params or {}).get("assay"))
        except Exception as error:
            raise request_error(error) from None


mlflow.models.set_model(FewShotPyfunc())
