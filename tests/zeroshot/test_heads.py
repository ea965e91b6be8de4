"""Zero-shot heads beside a hypernetwork-head learner, trained on real FS-Mol training tasks:
every method's code from a description, the baselines' rules, clear errors, the saved heads,
and the head a code makes."""

import copy
import json

import numpy as np
import pytest
import torch

from molprior.errors import InputError
from molprior.zeroshot.heads import (DIRECTORY, ZERO_SHOT_METHODS, ZeroShotConfig, ZeroShotHeads, described,
                                     task_codes)
from molprior.zeroshot.hyperclip import HyperCLIPConfig
from molprior.zeroshot.hyperldm import HyperLDMConfig
from zeroshot._real_tasks import (LATENT_DIM, described_training_tasks, feature_bank, held_out_descriptions,
                                  hyper_learner, task_rows, training_task)

CONFIG = ZeroShotConfig(hyperclip=HyperCLIPConfig(epochs=200, hidden_dim=64),
                        hyperldm=HyperLDMConfig(epochs=300, steps=50, hidden_dim=64, samples=8))
ACETYLCHOLINESTERASE = "Acetylcholinesterase; EC 3.1.1.7; Hydrolase; enzyme > hydrolase; binding assay"


@pytest.fixture(scope="module")
def tasks():
    return described_training_tasks()


@pytest.fixture(scope="module")
def others(tasks):
    """Real tasks the heads do not learn from: FS-Mol's first undescribed training task, and
    the actives alone of a described one."""
    table = task_rows()
    assay = table.loc[(table["split"] == "train") & (table["description"] == ""), "assay"].iloc[0]
    undescribed = training_task(assay, "")
    assert 0 < undescribed.labels.sum() < len(undescribed)
    actives = copy.deepcopy(tasks[0])
    actives.keep(np.flatnonzero(actives.labels == 1))
    return [undescribed, actives]


@pytest.fixture(scope="module")
def trained(tasks, others):
    bank, learner = feature_bank(tasks), hyper_learner()
    mixed = tasks[:10] + others + tasks[10:]  # the others are left out wherever they come
    return learner, bank, ZeroShotHeads.train(learner, mixed, bank, CONFIG, seed=0)


def test_the_heads_learn_from_the_described_tasks_with_both_classes(tasks, others, trained):
    _, _, heads = trained
    assert described(tasks + others) == tasks
    assert heads.assays == [t.assay for t in tasks]
    assert heads.descriptions == [t.description for t in tasks]
    assert heads.codes.shape == (len(tasks), LATENT_DIM)


def test_the_training_codes_are_the_tasks_adapted_codes(tasks, trained):
    learner, bank, heads = trained
    assert torch.equal(heads.codes, task_codes(learner, tasks, bank))
    assert heads.codes.std(0).min() > 0.01  # tasks differ


def test_training_needs_two_described_tasks(tasks, others, trained):
    learner, bank, _ = trained
    with pytest.raises(InputError, match="1 of 3 tasks carry one"):
        ZeroShotHeads.train(learner, [tasks[0], *others], bank, CONFIG)


@pytest.mark.parametrize("method", ZERO_SHOT_METHODS)
def test_every_method_gives_a_code_of_the_latent_shape(trained, method):
    _, _, heads = trained
    for description in (ACETYLCHOLINESTERASE, heads.descriptions[7]):
        code = heads.latent(description, method)
        assert code.shape == (LATENT_DIM,) and code.dtype == torch.float32 and torch.isfinite(code).all()


def test_the_default_method_and_guidance_are_the_configured_ones(trained):
    _, _, heads = trained
    assert heads.config.method == "hyperldm"
    default = heads.latent(ACETYLCHOLINESTERASE)
    assert torch.equal(heads.latent(ACETYLCHOLINESTERASE, "hyperldm"), default)
    assert torch.equal(heads.latent(ACETYLCHOLINESTERASE, guidance=heads.config.hyperldm.guidance), default)
    assert not torch.equal(heads.latent(ACETYLCHOLINESTERASE, guidance=0.0), default)
    assert not torch.equal(heads.latent(ACETYLCHOLINESTERASE, seed=1), default)


def test_hyperldm_is_the_mean_of_its_seeded_samples(trained):
    _, _, heads = trained
    config = heads.config.hyperldm
    samples = heads.ldm.sample(heads.text([ACETYLCHOLINESTERASE])[0], config.samples, 1.5, seed=4)
    assert torch.equal(heads.latent(ACETYLCHOLINESTERASE, "hyperldm", guidance=1.5, seed=4), samples.mean(0))


def test_hyper_start_is_the_learners_meta_learned_code(trained):
    learner, _, heads = trained
    start = learner.model.head.latent.detach()
    assert torch.equal(heads.latent(ACETYLCHOLINESTERASE, "hyper_start"), start)
    assert torch.equal(heads.latent(heads.descriptions[0], "hyper_start"), start)


def test_nearest_task_of_a_training_description_is_the_first_task_with_it(trained):
    _, _, heads = trained
    repeated = [d for d in dict.fromkeys(heads.descriptions) if heads.descriptions.count(d) > 1]
    assert len(repeated) >= 3  # FS-Mol repeats targets (five carbonic anhydrase tasks among these)
    codes_differ = 0
    for description in repeated:
        positions = [i for i, d in enumerate(heads.descriptions) if d == description]
        assert heads.nearest_task(description) == positions[0]
        assert torch.equal(heads.latent(description, "nearest_task"), heads.codes[positions[0]])
        codes_differ += any(not torch.equal(heads.codes[positions[0]], heads.codes[i]) for i in positions[1:])
    # some of FS-Mol's repeated assays hold the same molecules and labels, so the same code; most do not
    assert codes_differ >= 3


def test_nearest_task_of_a_new_description_is_the_most_similar_training_task(trained):
    _, _, heads = trained
    description = held_out_descriptions()[0]
    similarity = heads.text(heads.descriptions) @ heads.text([description])[0]
    nearest = heads.nearest_task(description)
    assert similarity[nearest] == similarity.max() > 0
    assert torch.equal(heads.latent(description, "nearest_task"), heads.codes[nearest])


@pytest.mark.parametrize("method", ZERO_SHOT_METHODS)
def test_an_empty_or_unknown_description_is_an_input_error(trained, method):
    _, _, heads = trained
    with pytest.raises(InputError, match="the description is empty"):
        heads.latent("", method)
    with pytest.raises(InputError, match="no word of the description 'Zyxwvut qwrtpl' is in the vocabulary"):
        heads.latent("Zyxwvut qwrtpl", method)


def test_an_unknown_method_is_an_input_error(trained):
    _, _, heads = trained
    with pytest.raises(InputError, match="unknown zero-shot method 'telepathy'"):
        heads.latent(ACETYLCHOLINESTERASE, "telepathy")
    with pytest.raises(InputError, match="unknown zero-shot method 'telepathy'"):
        ZeroShotConfig(method="telepathy")


def test_saved_heads_load_with_identical_latents(trained, tmp_path):
    _, _, heads = trained
    directory = heads.save(tmp_path)
    assert directory == tmp_path / DIRECTORY
    assert {p.name for p in directory.iterdir()} == {"text_features.json", "zeroshot.safetensors", "zeroshot.json"}
    loaded = ZeroShotHeads.load(tmp_path)
    assert loaded.config == heads.config
    assert loaded.assays == heads.assays and loaded.descriptions == heads.descriptions
    assert torch.equal(loaded.codes, heads.codes) and torch.equal(loaded.start, heads.start)
    for description in (ACETYLCHOLINESTERASE, heads.descriptions[3]):
        for method in ZERO_SHOT_METHODS:
            expected = heads.latent(description, method, seed=2)
            assert torch.equal(loaded.latent(description, method, seed=2), expected), method


def test_loading_where_there_are_no_zero_shot_heads_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="has no zero-shot heads"):
        ZeroShotHeads.load(tmp_path)


def test_loading_heads_of_another_format_is_an_input_error(trained, tmp_path):
    _, _, heads = trained
    directory = heads.save(tmp_path)
    document = json.loads((directory / "zeroshot.json").read_text())
    (directory / "zeroshot.json").write_text(json.dumps({**document, "format": "molprior-zeroshot/0"}))
    with pytest.raises(InputError, match="not molprior zero-shot heads"):
        ZeroShotHeads.load(tmp_path)


def test_a_description_code_makes_a_head_that_scores_a_tasks_molecules(tasks, trained):
    learner, bank, heads = trained
    task = tasks[5]
    features = bank.features[torch.from_numpy(bank.indices(task.inputs))]
    scores = {}
    for method in ZERO_SHOT_METHODS:
        code = heads.latent(task.description, method)
        scores[method] = learner.predict(learner.with_latent(code), features)
        assert scores[method].shape == (len(task),) and torch.isfinite(scores[method]).all()
        weight, bias = learner.model.head.readout(code)
        with torch.no_grad():
            assert torch.equal(scores[method], features @ weight + bias)  # the head generated at the code
    assert not torch.equal(scores["nearest_task"], scores["hyper_start"])


def test_adaptation_starts_from_a_description_code(tasks, trained):
    learner, bank, heads = trained
    task = tasks[5]
    features = bank.features[torch.from_numpy(bank.indices(task.inputs))]
    labels = torch.as_tensor(task.labels, dtype=torch.float32)
    code = heads.latent(task.description, "nearest_task")
    # the support encoder's last layer is still at zero: with no steps the start is the code itself
    assert torch.equal(learner.adapt(features, labels, steps=0, start=code).params["head.latent"], code)
    from_code = learner.adapt(features, labels, start=code).params["head.latent"]
    assert not torch.equal(from_code, learner.adapt(features, labels).params["head.latent"])
