"""``molprior pretrain``: train the generative model on a corpus and export it (tracked)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from molprior.chem.cache import FeatureCache
from molprior.chem.features import FEATURIZER_VERSION
from molprior.chem.tokenizer import SelfiesVocabulary
from molprior.config import PretrainConfig
from molprior.data.corpus import load_corpus
from molprior.evaluation.plots import plot_loss_curves
from molprior.files import write_csv, write_text
from molprior.tracking import runs
from molprior.training.export import save_generator
from molprior.training.pretrain_data import PretrainDataModule
from molprior.training.pretrain_module import PretrainModule
from molprior.training.trainer import TrainerConfig, build_trainer, clear_checkpoints, last_checkpoint
from molprior.workflows.progress import progress_bar

log = logging.getLogger(__name__)
RUN_FILE = "mlflow_run.json"


@dataclass
class PretrainOutcome:
    output_dir: Path
    model_dir: Path
    run_id: str
    metrics: dict[str, float]
    model_ids: dict[str, str]  # MLflow logged models: "generator" and "encoder" -> models:/<id>


def _flat_params(config: PretrainConfig) -> dict:
    params = {}
    for key, value in asdict(config).items():
        if isinstance(value, dict):
            params.update({f"{key}.{k}": v for k, v in value.items()})
        elif value is not None:
            params[key] = value
    return params


def run_pretraining(config: PretrainConfig, output_dir: str | Path, resume: bool = False, jobs: int = 1,
                    progress: bool = True, cache_dir: str | Path | None = None, nested: bool = False) -> PretrainOutcome:
    """Pretrain on ``config.corpus``; write checkpoints, ``model/`` (generator and encoder),
    ``rejected.csv`` and ``loss_curves.png`` into ``output_dir`` and log them to MLflow.

    With ``resume``, training continues from the last checkpoint in ``output_dir`` and logs
    into the same MLflow run.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = last_checkpoint(out) if resume else None
    if resume and checkpoint is None:
        log.warning("no checkpoint in %s: starting from scratch", out)
    if checkpoint is None:
        clear_checkpoints(out)
    previous_run = json.loads((out / RUN_FILE).read_text())["run_id"] if checkpoint and (out / RUN_FILE).exists() else None

    with runs.tracked_run("pretrain", params=_flat_params(config), run_id=previous_run, nested=nested) as run:
        write_text(json.dumps({"run_id": run.info.run_id}) + "\n", out / RUN_FILE)
        corpus_sha256 = runs.log_input_file(config.corpus, "corpus")
        with progress_bar("reading corpus", None) as advance:
            corpus = load_corpus(config.corpus, config.smiles_column, config.max_tokens, config.max_molecules,
                                 n_jobs=jobs, progress=advance)
        write_csv(corpus.rejected, out / "rejected.csv")
        log.info("corpus: %d molecules from %d lines; %d lines rejected (see %s)", len(corpus.smiles),
                 corpus.lines_read, len(corpus.rejected), out / "rejected.csv")
        vocabulary_file = out / "vocabulary.json"
        if checkpoint is not None and vocabulary_file.exists():
            vocabulary = SelfiesVocabulary.from_dict(json.loads(vocabulary_file.read_text()))
        else:
            vocabulary = SelfiesVocabulary.build(corpus.tokens, config.max_tokens + 1)
            write_text(json.dumps(vocabulary.to_dict()) + "\n", vocabulary_file)
        if not checkpoint:
            runs.log_metrics({"corpus_molecules": len(corpus.smiles), "corpus_rejected": len(corpus.rejected),
                              "vocabulary_size": len(vocabulary)})

        with FeatureCache(cache_dir) as cache:
            data = PretrainDataModule(corpus.smiles, corpus.tokens, vocabulary, config.batch_size,
                                      config.val_fraction, config.seed, jobs, cache)
            data.setup()
        module = PretrainModule(vocabulary.to_dict(), config.encoder, config.decoder, config.optim)
        trainer = build_trainer(TrainerConfig(**config.trainer), out, runs.lightning_logger(run.info.run_id),
                                progress_bar=progress)
        trainer.fit(module, datamodule=data, ckpt_path=str(checkpoint) if checkpoint else None)
        history = module.history

        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if best:
            module = PretrainModule.load_from_checkpoint(best, weights_only=False)
        final = {**module.sample_metrics(data.train_smiles),
                 "reconstruction_accuracy": module.reconstruction_accuracy(data.val_set)}
        final = {f"final_{k}": v for k, v in final.items()}
        runs.log_metrics(final)

        metadata = {"mlflow_run_id": run.info.run_id, "corpus": str(config.corpus),
                    "corpus_sha256": corpus_sha256, "corpus_molecules": len(corpus.smiles),
                    "epochs_trained": trainer.current_epoch, "metrics": final,
                    "config": asdict(config)}
        model_dir = save_generator(module.model, vocabulary, out / "model", metadata)
        outputs = [out / "rejected.csv"]
        if history:
            outputs.append(plot_loss_curves(history, out / "loss_curves.png"))
        import mlflow

        mlflow.log_artifacts(str(model_dir), artifact_path="model")
        mlflow.log_artifacts(str(model_dir / "encoder"), artifact_path="encoder")
        runs.log_files(outputs)
        tags = {"molprior.featurizer_version": FEATURIZER_VERSION, "molprior.stage": "pretrain"}
        model_ids = {"generator": runs.log_model_dir("generator", model_dir, "molprior-generator", tags),
                     "encoder": runs.log_model_dir("encoder", model_dir / "encoder", "molprior-encoder", tags)}
    return PretrainOutcome(out, model_dir, run.info.run_id, final, model_ids)
