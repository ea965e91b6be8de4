"""``molprior pretrain``: train the generative model on a corpus and export it (tracked)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from molprior.chem.cache import FeatureCache
from molprior.chem.features import FEATURIZER_VERSION
from molprior.chem.tokenizer import SelfiesVocabulary
from molprior.config import PretrainConfig, write_settings
from molprior.data.corpus import Corpus, load_corpus, load_peptide_corpus, merge_corpora
from molprior.errors import InputError
from molprior.evaluation.plots import plot_loss_curves
from molprior.files import file_hash, write_csv, write_text
from molprior.models.encoder import EncoderConfig
from molprior.models.generative import DecoderConfig, MoleculeVAE
from molprior.tracking import runs
from molprior.serialization import load_generator, save_generator
from molprior.training.pretrain_data import PretrainDataModule
from molprior.training.pretrain_module import PretrainModule, grow_vocabulary
from molprior.training.trainer import build_trainer, last_checkpoint
from molprior.workflows.progress import progress_bar
from molprior.workflows.resume import resume_point

log = logging.getLogger(__name__)


@dataclass
class PretrainOutcome:
    output_dir: Path
    model_dir: Path
    run_id: str
    metrics: dict[str, float]
    model_ids: dict[str, str]  # MLflow logged models: "generator" and "encoder" -> models:/<id>


@dataclass
class Parent:
    """The generator a continued pretraining starts from."""

    name: str  # as given: "shipped", a directory or an MLflow URI
    directory: Path
    model: MoleculeVAE
    vocabulary: SelfiesVocabulary
    metadata: dict

    def describe(self, vocabulary: SelfiesVocabulary | None = None) -> dict:
        """What the model metadata records about the parent."""
        try:  # a path inside the working directory (e.g. molprior/priors/default) stays portable
            directory = str(self.directory.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            directory = str(self.directory)
        described = {"init_from": self.name, "directory": directory,
                     "generator_sha256": file_hash(self.directory / "generator.safetensors"),
                     "mlflow_run_id": self.metadata.get("mlflow_run_id"), "corpus": self.metadata.get("corpus"),
                     "vocabulary_size": len(self.vocabulary)}
        if vocabulary is not None:
            described["tokens_added"] = list(vocabulary.tokens[len(self.vocabulary):])
        return described


def load_parent(init_from: str | None) -> Parent | None:
    """The generator named by ``init_from`` (``shipped``: the prior shipped with molprior)."""
    if not init_from:
        return None
    from molprior.tracking.artifacts import resolve_model_dir

    directory = resolve_model_dir(None if init_from == "shipped" else init_from, kind="generator")
    model, vocabulary, metadata = load_generator(directory)
    return Parent(init_from, directory, model, vocabulary, metadata)


def _shapes(config: PretrainConfig, parent: Parent | None) -> tuple[dict, dict]:
    """The encoder and decoder configurations: the configuration's (the defaults where it
    gives none), or the parent's (which the configuration, if it gives one, must equal)."""
    if parent is None:
        return asdict(config.encoder or EncoderConfig()), asdict(config.decoder or DecoderConfig())
    shapes = (parent.model.encoder.config.to_dict(), parent.model.decoder.config.to_dict())
    for name, given, actual in zip(("encoder", "decoder"), (config.encoder, config.decoder), shapes):
        differ = {k: v for k, v in asdict(given).items() if actual.get(k) != v} if given is not None else {}
        if differ:
            raise InputError(f"init_from {parent.name!r}: its {name} is {actual}, the configuration asks for {differ}; "
                             f"a continued pretraining keeps the parent's shape (leave {name}: out)")
    return shapes


def run_pretraining(config: PretrainConfig, output_dir: str | Path, resume: bool = False, jobs: int = 1,
                    progress: bool = True, cache_dir: str | Path | None = None,
                    nested: bool = False) -> PretrainOutcome | None:
    """Pretrain on ``config.corpus`` (and ``config.peptides``), from scratch or continuing from
    ``config.init_from``; write checkpoints, ``model/`` (generator and encoder),
    ``rejected.csv``, ``training_history.json`` and ``loss_curves.png`` into ``output_dir`` and
    log them to MLflow (a continued run tags its parent: ``molprior.parent_prior``).

    With ``resume``, training continues from the newest usable checkpoint in ``output_dir``
    (:func:`~molprior.training.trainer.last_checkpoint`) and logs into the same MLflow run,
    which a killed process left RUNNING and the next command marked KILLED.  Neither a fresh
    nor a resumed run starts while the run recorded in ``output_dir`` is alive in another
    process (:class:`~molprior.tracking.runs.RunInUseError`).

    Under Lightning's DDP (``config.trainer`` with ``strategy: ddp`` and several ``devices`` or
    ``num_nodes``) this runs in every process: Lightning's launcher re-runs the command once per
    further device (``LOCAL_RANK``/``NODE_RANK`` set), or torchrun/SLURM start them all.  Each
    process trains on its share of the batches; only global rank 0 starts the MLflow run, logs
    and writes files.  The other ranks return ``None`` when training ends.
    """
    out = Path(output_dir)
    # The Trainer knows this process's global rank as soon as it exists (before any process
    # group is set up), whichever launcher started the process.
    trainer = build_trainer(config.trainer, out, progress_bar=progress)
    if not trainer.is_global_zero:
        _train_on_other_rank(trainer, config, out, resume, jobs, cache_dir)
        return None

    checkpoint, previous_run = resume_point(out, resume)

    params = {**runs.config_params(config), "trainer.world_size": trainer.world_size}
    parent = load_parent(config.init_from)
    _shapes(config, parent)  # a shape the parent does not have is an error before anything runs
    with runs.tracked_run("pretrain", params=params, run_id=previous_run, nested=nested) as run:
        import mlflow

        runs.record_run(out, run.info.run_id)
        runs.log_files([write_settings(config, out, "molprior pretrain --config {settings} -o {dir}")])
        corpus_sha256 = runs.log_input_file(config.corpus, "corpus")
        peptides_sha256 = runs.log_input_file(config.peptides, "peptides") if config.peptides else None
        if parent is not None:
            mlflow.set_tags({"molprior.parent_prior": parent.name, "molprior.parent_prior_dir": str(parent.directory),
                             "molprior.parent_prior_sha256": file_hash(parent.directory / "generator.safetensors"),
                             **({"molprior.parent_run_id": parent.metadata["mlflow_run_id"]}
                                if parent.metadata.get("mlflow_run_id") else {})})
        corpus = _read_corpus(config, jobs)
        write_csv(corpus.rejected, out / "rejected.csv")
        log.info("corpus: %d molecules (%d peptides) from %d lines; %d lines rejected (see %s)", len(corpus.smiles),
                 sum(corpus.peptide), corpus.lines_read, len(corpus.rejected), out / "rejected.csv")
        vocabulary, built = _vocabulary(corpus, config, out, checkpoint, parent)
        if built:
            write_text(json.dumps(vocabulary.to_dict()) + "\n", out / "vocabulary.json")
        if not checkpoint:
            runs.log_metrics({"corpus_molecules": len(corpus.smiles), "corpus_rejected": len(corpus.rejected),
                              "vocabulary_size": len(vocabulary),
                              **({"corpus_peptides": sum(corpus.peptide),
                                  "corpus_peptides_excluded": corpus.stats.get("peptides_excluded", 0)}
                                 if config.peptides else {}),
                              **({"vocabulary_added": len(vocabulary) - len(parent.vocabulary)} if parent else {})})

        data = _data(corpus, vocabulary, config, jobs, cache_dir)
        module = _module(config, vocabulary, parent, checkpoint)
        trainer.logger = runs.lightning_logger(run.info.run_id)
        trainer.fit(module, datamodule=data, ckpt_path=str(checkpoint) if checkpoint else None)
        history = module.history

        backend = getattr(trainer.strategy, "process_group_backend", None)
        if trainer.world_size > 1 and backend:  # gloo on CPU, nccl on CUDA (Lightning's default)
            mlflow.set_tag("molprior.process_group_backend", backend)

        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if best:
            module = PretrainModule.load_from_checkpoint(best, weights_only=False)
        final = {**module.sample_metrics(data.train_smiles),
                 "reconstruction_accuracy": module.reconstruction_accuracy(data.val_set)}
        if config.peptides:  # held-out peptides and held-out small molecules apart
            peptides = corpus.peptide_smiles
            kinds = [s in peptides for s in data.val_set.graphs.smiles]
            for name, wanted in (("peptides", True), ("molecules", False)):
                subset = data.val_set.subset([i for i, kind in enumerate(kinds) if kind == wanted])
                if len(subset):
                    final[f"reconstruction_accuracy_{name}"] = module.reconstruction_accuracy(subset)
        final = {f"final_{k}": v for k, v in final.items()}
        runs.log_metrics(final)

        metadata = {"mlflow_run_id": run.info.run_id, "corpus": str(config.corpus),
                    "corpus_sha256": corpus_sha256, "corpus_molecules": len(corpus.smiles),
                    "epochs_trained": trainer.current_epoch, "steps_trained": trainer.global_step, "metrics": final,
                    "config": asdict(config)}
        if config.peptides:
            metadata.update({"peptides": str(config.peptides), "peptides_sha256": peptides_sha256,
                             "corpus_peptides": sum(corpus.peptide), "peptide_corpus": corpus.stats})
        if parent is not None:
            metadata["parent_prior"] = parent.describe(vocabulary)
        model_dir = save_generator(module.model, vocabulary, out / "model", metadata)
        outputs = [out / "rejected.csv"]
        if checkpoint is not None and (out / "training_history.json").exists():
            # a resumed run: its checkpoint carries the epochs before it; one written before
            # checkpoints did has them in the earlier history only
            earlier = json.loads((out / "training_history.json").read_text())
            first = history[0]["epoch"] if history else float("inf")
            history = [h for h in earlier if h["epoch"] < first] + history
        if history:
            write_text(json.dumps(history, indent=1) + "\n", out / "training_history.json")
            outputs += [out / "training_history.json", plot_loss_curves(history, out / "loss_curves.png")]
        mlflow.log_artifacts(str(model_dir), artifact_path="model")
        mlflow.log_artifacts(str(model_dir / "encoder"), artifact_path="encoder")
        runs.log_files(outputs)
        tags = {"molprior.featurizer_version": FEATURIZER_VERSION, "molprior.stage": "pretrain"}
        if parent is not None:
            tags["molprior.parent_prior"] = parent.name
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
    parent = load_parent(config.init_from)
    corpus = _read_corpus(config, jobs)
    vocabulary, _ = _vocabulary(corpus, config, out, checkpoint, parent)
    data = _data(corpus, vocabulary, config, jobs, cache_dir)
    module = _module(config, vocabulary, parent, checkpoint)
    trainer.fit(module, datamodule=data, ckpt_path=str(checkpoint) if checkpoint else None)


def _read_corpus(config: PretrainConfig, jobs: int) -> Corpus:
    """The molecules, and with ``config.peptides`` the peptides after them."""
    with progress_bar("reading corpus", None) as advance:
        corpus = load_corpus(config.corpus, config.smiles_column, config.max_tokens, config.max_molecules,
                             n_jobs=jobs, progress=advance)
    if not config.peptides:
        return corpus
    peptides = load_peptide_corpus(config.peptides, config.max_tokens, config.peptide_lengths,
                                   config.exclude_alleles, config.max_peptides, config.seed)
    log.info("peptides: %d from %s (%d excluded by allele, %d lines rejected)", len(peptides.smiles),
             config.peptides, peptides.stats.get("peptides_excluded", 0), len(peptides.rejected))
    return merge_corpora(corpus, peptides)


def _vocabulary(corpus: Corpus, config: PretrainConfig, out: Path, checkpoint: Path | None,
                parent: Parent | None = None) -> tuple[SelfiesVocabulary, bool]:
    """The resumed run's vocabulary, or one built from the corpus (deterministic, so every DDP
    rank builds the same), or the parent's extended by the corpus's new tokens; and whether
    it was built."""
    vocabulary_file = out / "vocabulary.json"
    if checkpoint is not None and vocabulary_file.exists():
        return SelfiesVocabulary.from_dict(json.loads(vocabulary_file.read_text())), False
    if parent is not None:
        return parent.vocabulary.extend(corpus.tokens, config.max_tokens + 1), True
    return SelfiesVocabulary.build(corpus.tokens, config.max_tokens + 1), True


def _module(config: PretrainConfig, vocabulary: SelfiesVocabulary, parent: Parent | None,
            checkpoint: Path | None) -> PretrainModule:
    """The module to train: fresh, or holding the parent's weights grown to ``vocabulary``
    (a resumed run takes its weights from the checkpoint instead)."""
    encoder, decoder = _shapes(config, parent)
    module = PretrainModule(vocabulary.to_dict(), encoder, decoder, asdict(config.optim))
    if parent is not None and checkpoint is None:
        grown = grow_vocabulary(parent.model, parent.vocabulary, vocabulary, seed=config.seed)
        module.model.load_state_dict(grown.state_dict())
    return module


def _data(corpus, vocabulary: SelfiesVocabulary, config: PretrainConfig, jobs: int,
          cache_dir: str | Path | None) -> PretrainDataModule:
    """Featurised and split (the same seeded split on every rank; under DDP Lightning gives each
    rank its share of the batches through a ``DistributedSampler``)."""
    with FeatureCache(cache_dir) as cache:
        data = PretrainDataModule(corpus.smiles, corpus.tokens, vocabulary, config.batch_size,
                                  config.val_fraction, config.seed, jobs, cache)
        data.setup()
    return data
