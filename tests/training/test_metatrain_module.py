"""The one meta-training module: graph encoders for assays, precomputed features with a shared
body for alleles; checkpoints chosen on the metric the task kind names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molprior.data.tasks import FewShotTask
from molprior.meta.batches import FeatureBank
from molprior.training.metatrain_data import validation_assays
from molprior.training.metatrain_module import MetaTrainModule

ALLELE = dict(head={"hidden_dim": 8}, learner={"algorithm": "maml", "task_type": "affinity",
                                                "maml": {"anil": True, "inner_steps": 3, "inner_lr": 0.5}},
              optim={"meta_lr": 1e-3}, input_dim=12, body={"hidden_dim": 16, "output_dim": 8, "dropout": 0.0},
              selection_metric="val_roc_auc")


def test_an_encoderless_module_reads_features_through_its_body():
    module = MetaTrainModule(**ALLELE)
    model = module.learner.model
    assert model.encoder is None and model.input_dim == 12 and model.body_config.output_dim == 8
    assert module.selection_metric == "val_roc_auc" and module.learner.encoder_fixed
    optimizer = module.configure_optimizers()
    assert [len(g["params"]) for g in optimizer.param_groups] == [len(list(module.parameters()))]
    again = MetaTrainModule(**module.hparams)  # what a checkpoint rebuilds the module from
    again.load_state_dict(module.state_dict())
    x = torch.randn(4, 12, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.learner.model.represent(x), model.represent(x))


def test_checkpoints_are_chosen_on_a_metric_validation_logs():
    assert MetaTrainModule().selection_metric == "val_delta_auprc"
    with pytest.raises(ValueError, match="val_delta_auprc or val_roc_auc"):
        MetaTrainModule(**{**ALLELE, "selection_metric": "val_loss"})


def test_validation_skips_unlabelled_measurements_and_records_both_metrics():
    """An allele's censored measurement may be neither binder nor non-binder (NaN label): it
    counts for adaptation, not for the metrics."""
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(40, 12, generator=generator)
    values = torch.rand(40, generator=generator).numpy().astype(np.float32)
    labels = (values > 0.5).astype(np.float64)
    labels[::7] = np.nan
    inputs = [f"P{i}" for i in range(40)]
    task = FewShotTask("HLA-X*01:01", inputs, labels, values=values, relations=np.zeros(40, np.int64), kind="peptide")
    module = MetaTrainModule(**ALLELE)
    [assay] = validation_assays([task], FeatureBank(features, inputs), 16, 2, "affinity", protocol="random")
    module.validation_step(assay, 0)
    metrics = module.validation_metrics()
    assert set(metrics) == {"val_delta_auprc", "val_roc_auc"} and all(np.isfinite(v) for v in metrics.values())
