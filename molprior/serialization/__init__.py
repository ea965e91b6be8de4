"""Saving and loading every kind of molprior model, in one place below training and inference.

Nothing is ever unpickled: weights are safetensors, everything else is JSON.  Every model
directory carries ``checksums.json`` (SHA-256 of each file), checked before loading: a directory
without one is refused, and a weights file that is not safetensors or a description that is not
a JSON object is a one-line :class:`ModelFormatError` naming the file.  One module per kind of
model: :mod:`~molprior.serialization.generator` (generators and their encoders, the prior),
:mod:`~molprior.serialization.fewshot` (few-shot models), :mod:`~molprior.serialization.mhc`
(MHC predictors); what they share is :mod:`~molprior.serialization.formats`.  Import the
functions from here.
"""

from molprior.serialization.fewshot import ADAPTED_STATE, FEWSHOT_FORMAT, load_learner, save_learner
from molprior.serialization.formats import (ModelFormatError, load_weights, load_weights_into, read_description,
                                            read_json_object, save_weights)
from molprior.serialization.generator import (ENCODER_FORMAT, GENERATOR_FORMAT, load_encoder, load_generator,
                                              save_encoder, save_generator)
from molprior.serialization.mhc import MHC_FORMAT, load_predictor, save_predictor

__all__ = ["ADAPTED_STATE", "ENCODER_FORMAT", "FEWSHOT_FORMAT", "GENERATOR_FORMAT", "MHC_FORMAT", "ModelFormatError",
           "load_encoder", "load_generator", "load_learner", "load_predictor", "load_weights", "load_weights_into",
           "read_description", "read_json_object", "save_encoder", "save_generator", "save_learner", "save_predictor",
           "save_weights"]
