"""HyperCLIP on real FS-Mol pairs (a training task's description, its adapted latent code):
contrastive training brings each description's encoding to its own code's, and the
zero-shot search finds a code nearer a description than the centre it starts from, itself
nearer a training description's own code than the codes' mean."""

import copy

import pytest
import torch

from molprior.zeroshot.hyperclip import HyperCLIP, HyperCLIPConfig, retrieved_mean, train_hyperclip, zero_shot_latent
from zeroshot._real_tasks import LATENT_DIM, held_out_descriptions, real_pairs

CONFIG = HyperCLIPConfig(epochs=200, hidden_dim=64)


@pytest.fixture(scope="module")
def pairs():
    """Descriptions' features, the tasks' codes and the vocabulary."""
    return real_pairs()


@pytest.fixture(scope="module")
def models(pairs):
    """The model as initialised, and the same model trained (and its loss per epoch)."""
    features, codes, text = pairs
    torch.manual_seed(0)
    untrained = HyperCLIP(text.width, LATENT_DIM, CONFIG).eval()
    trained = copy.deepcopy(untrained)
    history = train_hyperclip(trained, features, codes, seed=0)
    return untrained, trained, history


def _matching_gap(model: HyperCLIP, features: torch.Tensor, codes: torch.Tensor) -> float:
    """The mean similarity of each description to its own code, less that to the other codes."""
    with torch.no_grad():
        similarity = model.encode_text(features) @ model.encode_latent(codes).T
    n = len(similarity)
    return float(similarity.diag().mean() - (similarity.sum() - similarity.diag().sum()) / (n * n - n))


def test_contrastive_training_brings_matching_pairs_together(pairs, models):
    features, codes, _ = pairs
    untrained, trained, history = models
    assert len(history) == CONFIG.epochs
    assert history[-1] < 0.5 * history[0]  # from about log(60) = 4.1, InfoNCE of chance
    before, after = _matching_gap(untrained, features, codes), _matching_gap(trained, features, codes)
    assert abs(before) < 0.05  # an untrained model does not tell pairs apart
    assert after > before + 0.5  # a trained one does, by 0.72-0.77 over seeds 0-3


def test_after_training_a_description_is_nearer_its_own_code_than_a_shuffled_one(pairs, models):
    features, codes, _ = pairs
    _, trained, _ = models
    shuffled = codes.roll(1, dims=0)  # every description paired with its neighbour's code
    matched, mismatched = trained.similarity(features, codes), trained.similarity(features, shuffled)
    # by 0.64-0.67 on average over seeds 0-3, for 56-58 of the 60 descriptions
    assert matched.mean() > mismatched.mean() + 0.4
    assert (matched > mismatched).float().mean() > 0.85


def test_training_from_the_same_seeds_gives_the_same_model(pairs, models):
    # the batches follow train_hyperclip's seed, dropout torch's global generator: both seeded,
    # as ZeroShotHeads.train seeds them
    features, codes, text = pairs
    _, trained, history = models
    torch.manual_seed(0)
    again = HyperCLIP(text.width, LATENT_DIM, CONFIG)
    assert train_hyperclip(again, features, codes, seed=0) == history
    for (name, parameter), other in zip(trained.state_dict().items(), again.state_dict().values()):
        assert torch.equal(parameter, other), name


def test_a_zero_shot_code_is_nearer_its_description_than_the_centre_it_starts_from(pairs, models):
    features, codes, text = pairs
    _, trained, _ = models
    queries = torch.cat([features[:40:8], text(held_out_descriptions()[:3])])
    for query in queries:
        code = zero_shot_latent(trained, query, codes)
        assert code.shape == (LATENT_DIM,) and not code.requires_grad
        centre = retrieved_mean(trained, query, codes)
        searched = trained.similarity(query.unsqueeze(0), code.unsqueeze(0))
        assert searched > trained.similarity(query.unsqueeze(0), centre.unsqueeze(0))


def test_the_retrieved_centre_of_a_training_description_is_near_its_own_code(pairs, models):
    features, codes, _ = pairs
    untrained, trained, _ = models
    mean = codes.mean(0)

    def nearer(model: HyperCLIP) -> float:
        """The fraction of descriptions whose centre is nearer their own code than the codes' mean is."""
        centres = torch.stack([retrieved_mean(model, row, codes) for row in features])
        return float(((centres - codes).norm(dim=1) < (mean - codes).norm(dim=1)).float().mean())

    assert nearer(trained) > 0.9  # 58 of 60 over seeds 0-3
    assert nearer(untrained) < 0.6  # 0.35-0.50 over seeds 0-3: near-uniform weights, about the mean itself


def test_the_zero_shot_search_leaves_the_model_unchanged_and_trainable(pairs, models):
    features, codes, _ = pairs
    _, trained, _ = models
    state = {name: value.clone() for name, value in trained.state_dict().items()}
    zero_shot_latent(trained, features[0], codes)
    assert all(parameter.requires_grad for parameter in trained.parameters())
    for name, value in trained.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_the_zero_shot_search_is_deterministic(pairs, models):
    features, codes, _ = pairs
    _, trained, _ = models
    first = zero_shot_latent(trained, features[3], codes)
    assert torch.equal(zero_shot_latent(trained, features[3], codes), first)
