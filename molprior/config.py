"""Typed configurations, loaded from YAML files: the presets packaged with molprior
(``molprior/presets/``: ``--config NAME``) or a file of the user's.

Typed all the way down: a job's configuration holds its parts' own configurations
(:class:`~molprior.training.trainer.TrainerConfig`, :class:`~molprior.meta.learner.LearnerConfig`,
...), and each default is defined once, in the field that holds it.  A file names only what it
changes, at any depth; the rest keeps the defaults (:mod:`molprior.typed_configs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from molprior.data.readers import InputSpec
from molprior.errors import InputError
from molprior.meta.learner import LearnerConfig
from molprior.meta.maml import MAMLConfig
from molprior.models.allele_model import AlleleModelConfig
from molprior.models.encoder import EncoderConfig
from molprior.models.generative import DecoderConfig
from molprior.models.heads import HeadConfig
from molprior.presets import config_path
from molprior.training.metatrain_module import MetaOptimConfig
from molprior.training.multitask_data import MultitaskConfig
from molprior.training.pretrain_module import OptimConfig
from molprior.training.trainer import TrainerConfig
from molprior.typed_configs import merged, merged_mappings, nested_configs
from molprior.zeroshot.heads import ZeroShotConfig


@dataclass
class InputConfig:
    """An assay input file and how to read it (the options of ``molprior data check``)."""

    input: str = "data/moleculeace"
    format: str = "auto"
    smiles_column: str | None = None
    target_columns: list[str] | None = None
    assay_column: str | None = None
    value_column: str | None = None

    @property
    def spec(self) -> InputSpec:
        """How to read :attr:`input`."""
        return InputSpec(self.format, self.smiles_column, self.target_columns, self.assay_column, self.value_column)


@dataclass
class FewShotConfig(InputConfig):
    """The few-shot assay protocol: which assays, support sizes, draws and methods.

    ``protocol`` is ``fsmol`` (FS-Mol's class-ratio draws) or ``balanced`` (``k/2`` of each
    class); ``None`` takes ``fsmol`` for FS-Mol's data and ``balanced`` otherwise.  FS-Mol's
    data also default to its test tasks (``split:test``), its valid tasks for checkpoint
    choice (``split:valid``) and FS-Mol's sizes 16, 32, 64, 128 (otherwise 16, 32, 64).
    The meta-trained methods (``protonet``, ``maml_scratch``, ``maml_pretrained``, ``adkf``,
    ``adkf_scratch``, ``hyper_maml``) are meta-trained on every assay of the input that is neither a test nor
    a validation assay, with ``metatrain`` (keys of :class:`MetaTrainConfig`) over the
    defaults (on FS-Mol's data, over :data:`FSMOL_TABLE_METATRAIN`); ``hyper_maml`` is meta-trained
    by its own recipe (:data:`HYPER_METATRAIN`), ``metatrain`` over it.  ``method_draws`` scores
    the methods it names on their first draws only (on FS-Mol's data by default
    :data:`FSMOL_METHOD_DRAWS`: the per-support fine-tuning baselines are slow).
    """

    test_assays: list[str] = field(default_factory=list)
    support_sizes: list[int] | None = None
    protocol: str | None = None
    methods: list[str] = field(default_factory=lambda: ["rf_ecfp", "knn_tanimoto"])
    draws: int = 10
    seed: int = 0
    seeds: list[int] | None = None  # several seeds: meta-training and draws repeated per seed
    val_assays: list[str] = field(default_factory=list)  # meta-validation (checkpoint choice)
    metatrain: dict[str, Any] = field(default_factory=dict)  # what the meta-trained methods change of MetaTrainConfig
    #: what ``metatrain`` goes over (FS-Mol's table budget on FS-Mol's data: :func:`with_defaults`)
    metatrain_defaults: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # an already meta-trained model for maml_pretrained (skips its meta-training)
    finetune_steps: int = 100  # Adam steps on the support for gnn_scratch and pretrained_finetune
    method_draws: dict[str, int] | None = None  # fewer draws for slow methods (None: FSMOL_METHOD_DRAWS on FS-Mol)

    def __post_init__(self) -> None:
        merged(MetaTrainConfig(), self.metatrain)  # an unknown key is an error here, not after the data is read

    @property
    def all_seeds(self) -> list[int]:
        return list(self.seeds) if self.seeds else [self.seed]


#: FS-Mol's table (``--methods all`` on 157 test tasks x 4 sizes x 10 draws within an hour on
#: two cores): the baselines that train a network on every support get fewer draws (the first
#: ones, the same supports as the other methods'; the table says so).
FSMOL_METHOD_DRAWS = {"gnn_scratch": 1, "pretrained_finetune": 2}
#: FS-Mol's table meta-trains each ablation for a fixed 200 steps of 4 tasks (checkpoints chosen
#: on 3 FS-Mol draws of its valid tasks); the shipped model's longer meta-training is
#: the fsmol_adkf preset.
FSMOL_TABLE_METATRAIN = {"trainer": {"max_epochs": 4, "patience": 4}, "steps_per_epoch": 50, "val_draws": 3,
                         "val_protocol": "fsmol"}


@dataclass
class RegisterConfig:
    """The pipeline's ``register`` step: adapt the meta-trained model to ``heads`` (assays of
    the input; ``support_size`` molecules each, half actives) and register the package as
    ``name``; promote it to ``alias`` when it beats the holder on ``metric`` (a column of the
    benchmark's results: ``METHOD.METRIC.kSIZE``)."""

    name: str = "molprior-demo"
    alias: str = "champion"
    heads: list[str] = field(default_factory=list)
    support_size: int = 64
    metric: str = "molprior.delta_auprc.k16"
    promote: bool = True


@dataclass
class PipelineConfig:
    """``molprior pipeline run``: pretrain -> meta-train -> benchmark -> register -> score.

    ``pretrain`` is the pipeline's pretraining (``None``: none); ``prior`` is the
    encoder meta-training starts from (``pretrain``: this pipeline's pretraining, ``shipped``,
    or a model URI); ``fewshot.metatrain`` configures the meta-training; ``score`` scores the
    molecules of the first head's assay left out of its support through the registry URI;
    ``reuse`` maps a step to the MLflow run id of an earlier run whose results it takes
    instead of recomputing.  ``fewshot_model`` is the few-shot model the pipeline registers
    and the ``molprior`` method scores: ``shipped`` (the shipped model, meta-trained on FS-Mol),
    ``metatrain`` (meta-trained by this pipeline from ``prior`` on the input's other assays),
    or a model directory or MLflow URI."""

    fewshot: FewShotConfig = field(default_factory=FewShotConfig)
    pretrain: PretrainConfig | None = None
    prior: str = "shipped"
    fewshot_model: str = "shipped"
    generate: int = 0  # molecules sampled from the shipped prior (or this pretraining)
    register: RegisterConfig = field(default_factory=RegisterConfig)
    score: bool = True
    reuse: dict[str, str] = field(default_factory=dict)
    output: str = "pipeline-output"
    jobs: int = -1

    def __post_init__(self) -> None:
        nested_configs(self)


@dataclass
class PretrainConfig:
    """Generative pretraining: corpus, model shape, optimisation, Trainer flags.

    ``encoder`` and ``decoder`` are the model's shape (``None``: their defaults, or with
    ``init_from`` the parent's), ``optim`` the optimisation, ``trainer`` Lightning's flags.

    Continued pretraining: ``init_from`` is a generator to start from (a generator or
    pretraining output directory, an MLflow URI, or ``shipped`` for the shipped prior); its
    weights are kept, its encoder and decoder shapes are used (``encoder``/``decoder``, if
    given, must equal them), and its SELFIES vocabulary grows by the corpus's new tokens.
    ``peptides`` adds a peptide corpus (a CSV/TSV with a ``peptide`` column, or one sequence
    per line) to the molecules: sequences of ``peptide_lengths`` residues become all-atom
    molecules; those measured on ``exclude_alleles`` (a list, or a YAML file whose
    ``held_out:`` list is read; needs an ``allele`` column) are left out, and ``max_peptides``
    keeps a seeded random sample of the rest.
    """

    corpus: str = "data/moses/moses_train_50k.csv.gz"
    smiles_column: str | None = None
    max_molecules: int | None = None
    max_tokens: int = 99
    init_from: str | None = None
    peptides: str | None = None
    peptide_lengths: list[int] = field(default_factory=lambda: [8, 15])
    max_peptides: int | None = None
    exclude_alleles: list[str] | str | None = None
    val_fraction: float = 0.05
    batch_size: int = 128
    seed: int = 0
    encoder: EncoderConfig | None = None
    decoder: DecoderConfig | None = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def __post_init__(self) -> None:
        nested_configs(self)


#: The project's fixed MoleculeACE split (meta-test and meta-validation; meta-train is the rest).
MOLECULEACE_TEST_ASSAYS = ["CHEMBL1862_Ki", "CHEMBL204_Ki", "CHEMBL2047_EC50", "CHEMBL214_Ki",
                           "CHEMBL231_Ki", "CHEMBL262_Ki", "CHEMBL3979_EC50", "CHEMBL4203_Ki"]
MOLECULEACE_VAL_ASSAYS = ["CHEMBL1871_Ki", "CHEMBL218_EC50", "CHEMBL2971_Ki", "CHEMBL4616_EC50"]


#: The adkf methods (ADKF-IFT's recipe): a GP head fitted per support on the hidden layer of a
#: wide head reading the graph embedding and ECFP4; the encoder meta-learns at a tenth of the
#: head's rate when it starts from the prior (all of it from random weights).
ADKF_LEARNER = {"algorithm": "adkf"}
ADKF_HEAD = {"hidden_dim": 512, "fingerprint_dim": 2048}
ADKF_OPTIM = {"meta_lr": 1e-3, "encoder_lr_scale": 0.1}

#: The hyper_maml method (the fsmol_hyper preset's recipe): a hypernetwork head meta-trained
#: with MAML in its latent code, on the shipped few-shot model's fixed features.
HYPER_METATRAIN = {"prior": "shipped-fewshot", "freeze_prior": True, "steps_per_epoch": 200,
                   "trainer": {"max_epochs": 20, "patience": 6},
                   "head": {"hyper": {"latent_dim": 32, "generator_hidden": 256, "support_hidden": 128}},
                   "learner": {"algorithm": "maml", "maml": {"inner_steps": 5, "inner_lr": 0.1, "learn_inner_lr": True}},
                   "optim": {"meta_lr": 1e-3, "encoder_lr_scale": 0.0},
                   "tasks_per_step": 16, "query_size": 128, "val_draws": 3, "val_protocol": "fsmol", "zeroshot": {}}


@dataclass
class LeakGuardConfig:
    """Molecules a meta-trained model must not have seen: those of ``assays`` (empty: all) of
    each input of ``against`` (an input spec: a file, or ``dataset:NAME``).  A meta-training
    task sharing more than ``max_shared_fraction`` of its molecules with them is left out, and
    the shared molecules are dropped from the other tasks
    (:func:`molprior.data.leakage.guard_tasks`)."""

    against: list[str] = field(default_factory=list)
    assays: list[str] = field(default_factory=list)
    max_shared_fraction: float = 0.2


#: What meta-training optimises (see :class:`MetaTrainConfig`).
METATRAIN_OBJECTIVES = ("episodic", "multitask")


@dataclass
class MetaTrainConfig(InputConfig):
    """Meta-training across assays: data, split, initialisation, learner, optimisation.

    ``prior`` is where the encoder starts: ``"shipped"`` (the shipped prior), ``"random"``
    (the ablation), or a pretraining output directory or MLflow URI; or a few-shot model
    (``"shipped-fewshot"``, a meta-training output, ``runs:/<id>/model``), whose encoder and
    head both are the start (with ``freeze_prior``: whose features a hypernetwork head reads).
    ``objective`` is what training optimises: ``episodic`` (the learner's meta-objective on
    episodes) or ``multitask`` (one output per training assay on batches of molecules, with
    ``multitask`` holding :class:`~molprior.training.multitask_data.MultitaskConfig` fields;
    validation and checkpoint choice are the same; a multitask step is one batch of molecules,
    so ``tasks_per_step``, ``support_sizes`` and ``query_size`` do not apply to it).  ``train_assays`` empty
    means every assay that is neither in ``val_assays`` nor in ``test_assays`` (which are
    never read).  ``head``, ``learner``, ``optim`` and ``trainer`` hold the fields of
    :class:`~molprior.models.heads.HeadConfig`, :class:`~molprior.meta.learner.LearnerConfig`,
    :class:`~molprior.training.metatrain_module.MetaOptimConfig` and
    :class:`~molprior.training.trainer.TrainerConfig`.
    """

    train_assays: list[str] = field(default_factory=list)
    val_assays: list[str] = field(default_factory=lambda: list(MOLECULEACE_VAL_ASSAYS))
    test_assays: list[str] = field(default_factory=lambda: list(MOLECULEACE_TEST_ASSAYS))
    prior: str = "shipped"
    encoder: EncoderConfig | None = None  # a random prior's shape (None: EncoderConfig's); a loaded prior has its own
    head: HeadConfig = field(default_factory=lambda: HeadConfig(fingerprint_dim=2048))
    #: the full method's inner loop, chosen on the meta-validation assays (see the metatrain
    #: preset): ANIL (the pretrained encoder is kept, the head adapts), 20 inner steps of 0.05
    learner: LearnerConfig = field(default_factory=lambda: LearnerConfig(
        algorithm="maml", maml=MAMLConfig(anil=True, inner_steps=20, inner_lr=0.05)))
    optim: MetaOptimConfig = field(default_factory=lambda: MetaOptimConfig(meta_lr=3e-4, encoder_lr_scale=0.0))
    #: an "epoch" is ``steps_per_epoch`` outer steps, then validation; manual optimisation clips
    #: its own gradients (``optim.gradient_clip``)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(
        max_epochs=6, patience=3, gradient_clip_val=None, log_every_n_steps=10, checkpoint_every_n_steps=0))
    support_sizes: list[int] = field(default_factory=lambda: [16, 32, 64])
    query_size: int = 64
    tasks_per_step: int = 4
    steps_per_epoch: int = 50
    val_support_size: int = 16
    val_draws: int = 10
    val_protocol: str = "balanced"  # how validation supports are drawn: balanced, or fsmol (FS-Mol's class ratio)
    leak_guard: LeakGuardConfig | None = None  # molecules of other benchmarks kept out of meta-training
    objective: str = "episodic"
    multitask: MultitaskConfig = field(default_factory=MultitaskConfig)
    #: keep the prior few-shot model's encoder and head's hidden layer fixed, computed once per
    #: molecule, and meta-train the hypernetwork head that reads them
    #: (:mod:`molprior.training.frozen_features`)
    freeze_prior: bool = False
    #: zero-shot heads trained beside a hypernetwork head on the training tasks' descriptions
    #: (:class:`~molprior.zeroshot.heads.ZeroShotConfig`; ``None``: none; with freeze_prior only;
    #: in a benchmark's meta-training settings, for its hyper_maml model alone)
    zeroshot: ZeroShotConfig | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        nested_configs(self)
        if self.objective not in METATRAIN_OBJECTIVES:
            raise InputError(f"unknown objective {self.objective!r}; choose one of {METATRAIN_OBJECTIVES}")
        if self.freeze_prior and (self.objective != "episodic" or self.head.hyper is None):
            raise InputError("freeze_prior meta-trains a hypernetwork head (head: hyper: ...) episodically")


#: Meta-validation alleles of the MHC model (checkpoints are chosen on them; never benchmark alleles).
MHC_VAL_ALLELES = ["HLA-A*02:02", "HLA-A*02:06", "HLA-A*26:02"]


@dataclass
class MHCTrainConfig:
    """The MHC class I model: data, prior, meta-training across alleles, per-allele fine-tuning.

    ``held_out`` alleles are left out entirely (the benchmark's); ``val_alleles`` choose the
    meta-training checkpoint; every other allele is a meta-training task.  After meta-training,
    every allele with at least ``finetune_min`` measurements gets a head and a low-rank body
    adapter (rank ``finetune_rank``) trained on all of them (``finetune_epochs``; learning rates
    ``finetune_lr`` for the head, ``finetune_body_lr`` for the adapter); the others are adapted
    by the inner loop on all their measurements.
    ``maml`` is the inner loop, ``model`` the allele model's shape, ``trainer`` Lightning's flags.
    """

    data: str = "data/mhc/mhc_class1_human.csv.gz"
    prior: str = "peptide"
    held_out: list[str] = field(default_factory=list)
    val_alleles: list[str] = field(default_factory=lambda: list(MHC_VAL_ALLELES))
    lengths: list[int] = field(default_factory=lambda: [8, 15])
    support_sizes: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    query_size: int = 128
    tasks_per_step: int = 8
    steps_per_epoch: int = 200
    val_support_size: int = 32
    val_draws: int = 5
    meta_lr: float = 1e-3
    model: AlleleModelConfig = field(default_factory=AlleleModelConfig)
    maml: MAMLConfig = field(default_factory=lambda: MAMLConfig(anil=True, inner_steps=20, inner_lr=0.5))
    finetune_min: int = 1000
    finetune_epochs: int = 30
    finetune_lr: float = 1e-3
    finetune_body_lr: float = 1e-3
    finetune_rank: int = 8
    adapt_steps: int = 50
    reference_per_length: int = 5000
    seed: int = 0
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(
        max_epochs=10, patience=4, gradient_clip_val=None, log_every_n_steps=10, checkpoint_every_n_steps=0))

    def __post_init__(self) -> None:
        nested_configs(self)


#: Keys of a meta-training YAML that describe the data, not the method: the benchmark sets them.
_DATA_KEYS = {"input", "format", "smiles_column", "target_columns", "assay_column", "value_column", "train_assays",
              "val_assays", "test_assays", "seed"}


def metatrain_overrides(path: str | Path | None) -> dict:
    """The method settings of a meta-training YAML (``None``: none, the defaults of
    :class:`MetaTrainConfig`), without the data keys a benchmark sets itself."""
    if path is None:
        return {}
    values = read_yaml_mapping(path)
    _build(MetaTrainConfig, values)  # unknown keys are an error here, not later
    return {k: v for k, v in values.items() if k not in _DATA_KEYS}


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The keys and values of a YAML configuration file or preset (:func:`config_path`; empty
    file: none); a missing file, a YAML error or a file that is not a mapping is a one-line
    error naming the file."""
    path = config_path(path)
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from error
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InputError(f"{path}: expected a mapping of settings (key: value), found a YAML {type(values).__name__}")
    return values


def is_mhc_config(path: str | Path | None) -> bool:
    """Whether a YAML configuration (a file or a preset) is the MHC model's: it sets a key only
    :class:`MHCTrainConfig` has (``data``, ``held_out``, ``val_alleles``, ``finetune_*``, ...),
    as the ``mhc`` preset and an MHC run's ``settings.yaml`` do."""
    if path is None:
        return False
    only_mhc = {f.name for f in fields(MHCTrainConfig)} - {f.name for f in fields(MetaTrainConfig)}
    return bool(only_mhc & set(read_yaml_mapping(path)))


def load_yaml_config(cls, path: str | Path | None, **overrides: Any):
    """The typed configuration ``cls`` (a dataclass: its fields are the defaults, in one place)
    from a YAML file of its keys (``None``: the defaults), with the ``overrides`` applied: a
    command line's flags, ``None`` where a flag was not given (a nested mapping, such as
    ``trainer={"max_epochs": None}``, changes only the keys it sets).  An unknown key is an
    :class:`InputError` that lists the known ones."""
    values = read_yaml_mapping(path) if path is not None else {}
    return _build(cls, merged_mappings(values, _given(overrides)))


def _given(overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` without the ``None`` values (and the mappings left empty), at any depth."""
    out = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            value = _given(value) or None
        if value is not None:
            out[key] = value
    return out


#: The file every tracked run with a typed configuration writes into its output directory.
SETTINGS_FILE = "settings.yaml"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_settings(config: Any, directory: str | Path, rerun: str = "") -> Path:
    """Write the run's whole configuration (every field, defaults included) as
    ``directory/settings.yaml``, which :func:`load_yaml_config` reads back into an equal
    configuration; ``rerun``, the command that runs it again from the file, heads it (with
    ``{settings}`` and ``{dir}`` standing for the file and the directory)."""
    from dataclasses import asdict

    from molprior.files import write_text

    path = Path(directory) / SETTINGS_FILE
    header = f"# The settings of this run ({type(config).__name__})" + (
        f"; run it again with: {rerun.format(settings=path, dir=directory)}" if rerun else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(header + "\n" + yaml.safe_dump(_plain(asdict(config)), sort_keys=False, allow_unicode=True), path)
    return path


def _build(cls, values: dict[str, Any]):
    """``cls`` from ``values`` over its defaults (nested sections key by key)."""
    return merged(cls(), values)

