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
        import pandas as pd

        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame({"smiles": list(model_input)})
        return self.model.score(model_input, (params or {}).get("assay"))


mlflow.models.set_model(FewShotPyfunc())
