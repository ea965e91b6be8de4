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
                    progress: bool = True, cache_dir: str | Path | None = None,
                    nested: bool = False) -> PretrainOutcome | None:
    """Pretrain on ``config.corpus``; write checkpoints, ``model/`` (generator and encoder),
    ``rejected.csv`` and ``loss_curves.png`` into ``output_dir`` and log them to MLflow.

    With ``resume``, training continues from the last checkpoint in ``output_dir`` and logs
    into the same MLflow run.

    Under Lightning's DDP (``config.trainer`` with ``strategy: ddp`` and several ``devices`` or
    ``num_nodes``) this runs in every process: Lightning's launcher re-runs the command once per
    further device (``LOCAL_RANK``/``NODE_RANK`` set), or torchrun/SLURM start them all.  Each
    process trains on its share of the batches; only global rank 0 starts the MLflow run, logs
    and writes files.  The other ranks return ``None`` when training ends.
    """
    out = Path(output_dir)
    # The Trainer knows this process's global rank as soon as it exists (before any process
    # group is set up), whichever launcher started the process.
    trainer = build_trainer(TrainerConfig(**config.trainer), out, progress_bar=progress)
    if not trainer.is_global_zero:
        _train_on_other_rank(trainer, config, out, resume, jobs, cache_dir)
        return None

    out.mkdir(parents=True, exist_ok=True)
    checkpoint = last_checkpoint(out) if resume else None
    if resume and checkpoint is None:
        log.warning("no checkpoint in %s: starting from scratch", out)
    if checkpoint is None:
        clear_checkpoints(out)
    previous_run = json.loads((out / RUN_FILE).read_text())["run_id"] if checkpoint and (out / RUN_FILE).exists() else None

    params = {**_flat_params(config), "trainer.world_size": trainer.world_size}
    with runs.tracked_run("pretrain", params=params, run_id=previous_run, nested=nested) as run:
        write_text(json.dumps({"run_id": run.info.run_id}) + "\n", out / RUN_FILE)
        corpus_sha256 = runs.log_input_file(config.corpus, "corpus")
        corpus = _read_corpus(config, jobs)
        write_csv(corpus.rejected, out / "rejected.csv")
        log.info("corpus: %d molecules from %d lines; %d lines rejected (see %s)", len(corpus.smiles),
                 corpus.lines_read, len(corpus.rejected), out / "rejected.csv")
        vocabulary, built = _vocabulary(corpus, config, out, checkpoint)
        if built:
            write_text(json.dumps(vocabulary.to_dict()) + "\n", out / "vocabulary.json")
        if not checkpoint:
            runs.log_metrics({"corpus_molecules": len(corpus.smiles), "corpus_rejected": len(corpus.rejected),
                              "vocabulary_size": len(vocabulary)})

        data = _data(corpus, vocabulary, config, jobs, cache_dir)
        module = PretrainModule(vocabulary.to_dict(), config.encoder, config.decoder, config.optim)
        trainer.logger = runs.lightning_logger(run.info.run_id)
        trainer.fit(module, datamodule=data, ckpt_path=str(checkpoint) if checkpoint else None)
        history = module.history
        import mlflow

        backend = getattr(trainer.strategy, "process_group_backend", None)
        if trainer.world_size > 1 and backend:  # gloo on CPU, nccl on CUDA (Lightning's default)
            mlflow.set_tag("molprior.process_group_backend", backend)

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
        mlflow.log_artifacts(str(model_dir), artifact_path="model")
        mlflow.log_artifacts(str(model_dir / "encoder"), artifact_path="encoder")
        runs.log_files(outputs)
        tags = {"molprior.featurizer_version": FEATURIZER_VERSION, "molprior.stage": "pretrain"}
        model_ids = {"generator": runs.log_model_dir("generator", model_dir, "molprior-generator", tags),
                     "encoder": runs.log_model_dir("encoder", model_dir / "encoder", "molprior-encoder", tags)}
    return PretrainOutcome(out, model_dir, run.info.run_id, final, model_ids)


def _train_on_other_rank(trainer, config: PretrainConfig, out: Path, resume: bool, jobs: int,
                         cache_dir: str | Path | None) -> None:
    """A DDP rank other than 0: the same data, vocabulary and model, then ``trainer.fit`` and
    nothing else: no MLflow run, no logger, no file written (rank 0 writes the checkpoints).
    Rank 0 clears old checkpoints before Lightning starts the other processes, so with
    ``resume`` every rank finds the same one."""
    checkpoint = last_checkpoint(out) if resume else None
    corpus = _read_corpus(config, jobs)
    vocabulary, _ = _vocabulary(corpus, config, out, checkpoint)
    data = _data(corpus, vocabulary, config, jobs, cache_dir)
    module = PretrainModule(vocabulary.to_dict(), config.encoder, config.decoder, config.optim)
    trainer.fit(module, datamodule=data, ckpt_path=str(checkpoint) if checkpoint else None)


def _read_corpus(config: PretrainConfig, jobs: int):
    with progress_bar("reading corpus", None) as advance:
        return load_corpus(config.corpus, config.smiles_column, config.max_tokens, config.max_molecules,
                           n_jobs=jobs, progress=advance)


def _vocabulary(corpus, config: PretrainConfig, out: Path, checkpoint: Path | None) -> tuple[SelfiesVocabulary, bool]:
    """The resumed run's vocabulary, or one built from the corpus (deterministic, so every DDP
    rank builds the same); and whether it was built."""
    vocabulary_file = out / "vocabulary.json"
    if checkpoint is not None and vocabulary_file.exists():
        return SelfiesVocabulary.from_dict(json.loads(vocabulary_file.read_text())), False
    return SelfiesVocabulary.build(corpus.tokens, config.max_tokens + 1), True


def _data(corpus, vocabulary: SelfiesVocabulary, config: PretrainConfig, jobs: int,
          cache_dir: str | Path | None) -> PretrainDataModule:
    """Featurised and split (the same seeded split on every rank; under DDP Lightning gives each
    rank its share of the batches through a ``DistributedSampler``)."""
    with FeatureCache(cache_dir) as cache:
        data = PretrainDataModule(corpus.smiles, corpus.tokens, vocabulary, config.batch_size,
                                  config.val_fraction, config.seed, jobs, cache)
        data.setup()
    return data
