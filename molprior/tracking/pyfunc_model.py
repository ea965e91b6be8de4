"""The pyfunc entry point of every packaged molprior model (MLflow "models from code": this
file is copied into the model and run at load time, so nothing is unpickled)."""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel


class MolpriorPyfunc(PythonModel):
    """Scores a table with the scorer of the model's kind (known by its artifacts, see
    :data:`molprior.tracking.pyfunc.PACKAGED_KINDS`)."""

    def load_context(self, context) -> None:
        from molprior.tracking.pyfunc import load_packaged

        self.artifacts = dict(context.artifacts)
        self.model = load_packaged(self.artifacts)

    def predict(self, context, model_input, params=None):
        """One output row per input row, in order; an input that cannot be scored is that row's
        ``error``.  Only a request malformed as a whole (a missing column) fails, with a
        one-line message and no stack trace."""
        from molprior.tracking.pyfunc import request_error, request_frame

        try:
            return self.model.score(request_frame(model_input, self.artifacts), **(params or {}))
        except Exception as error:
            raise request_error(error) from None


mlflow.models.set_model(MolpriorPyfunc())
