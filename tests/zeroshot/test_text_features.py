"""TF-IDF features of task descriptions: words, word pairs and EC levels, a vocabulary of the
tokens two FS-Mol training descriptions share, clear errors for what it cannot read, and a
JSON round trip."""

from collections import Counter

import numpy as np
import pytest
import torch

from molprior.errors import InputError
from molprior.zeroshot.text_features import MIN_DOCUMENTS, TextFeatures, tokens
from zeroshot._real_tasks import held_out_descriptions, task_rows

ACETYLCHOLINESTERASE = "Acetylcholinesterase; EC 3.1.1.7; Hydrolase; enzyme > hydrolase; binding assay"


@pytest.fixture(scope="module")
def training_descriptions() -> list[str]:
    """Every described FS-Mol training task's description."""
    table = task_rows()
    descriptions = table.loc[(table["split"] == "train") & (table["description"] != ""), "description"].tolist()
    assert len(descriptions) > 1000
    return descriptions


@pytest.fixture(scope="module")
def text(training_descriptions) -> TextFeatures:
    return TextFeatures.fit(training_descriptions)


def test_tokens_are_words_word_pairs_and_every_level_of_an_ec_number():
    assert ACETYLCHOLINESTERASE in held_out_descriptions()  # a real FS-Mol test task's description
    words = ["acetylcholinesterase", "ec", "3.1.1.7", "hydrolase", "enzyme", "hydrolase", "binding", "assay"]
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:])]
    assert tokens(ACETYLCHOLINESTERASE) == words + pairs + ["ec:3", "ec:3.1", "ec:3.1.1", "ec:3.1.1.7"]


def test_a_description_naming_two_ec_numbers_gets_the_levels_of_both(training_descriptions):
    description = next(d for d in training_descriptions if "EC 2.7.11.1; 2.7.1.153" in d)
    levels = [t for t in tokens(description) if t.startswith("ec:")]
    assert levels == ["ec:2", "ec:2.7", "ec:2.7.11", "ec:2.7.11.1", "ec:2", "ec:2.7", "ec:2.7.1", "ec:2.7.1.153"]


def test_the_vocabulary_is_the_tokens_of_at_least_two_training_descriptions(text, training_descriptions):
    documents = Counter(token for d in training_descriptions for token in set(tokens(d)))
    shared = {token for token, n in documents.items() if n >= MIN_DOCUMENTS}
    assert set(text.vocabulary) == shared
    assert any(n == 1 for n in documents.values())  # some tokens are left out
    assert sorted(text.vocabulary.values()) == list(range(text.width))
    assert {"ec:3", "ec:3.1.1.7", "binding assay", "kinase"} <= shared


def test_rows_are_l2_normalised_and_weigh_only_the_descriptions_own_tokens(text, training_descriptions):
    descriptions = training_descriptions[:200]
    features = text(descriptions)
    assert features.shape == (200, text.width) and features.dtype == torch.float32
    # sklearn normalises in float64; the rows are then rounded to float32
    torch.testing.assert_close(features.norm(dim=1), torch.ones(200), rtol=0, atol=1e-6)
    assert (features >= 0).all()
    for description, row in zip(descriptions[:20], features):
        known = sorted({text.vocabulary[t] for t in tokens(description) if t in text.vocabulary})
        assert torch.nonzero(row).flatten().tolist() == known


def test_a_rarer_token_weighs_more(text):
    # IDF: 'binding' is in most descriptions, 'acetylcholinesterase' in few
    row = text([ACETYLCHOLINESTERASE])[0]
    assert row[text.vocabulary["acetylcholinesterase"]] > row[text.vocabulary["binding"]] > 0


def test_every_test_task_description_is_readable(text):
    held_out = held_out_descriptions()
    assert len(held_out) == 157
    features = text(held_out)
    torch.testing.assert_close(features.norm(dim=1), torch.ones(len(held_out)), rtol=0, atol=1e-6)  # as above


@pytest.mark.parametrize("description", ["", "   \t"])
def test_an_empty_description_is_an_input_error(text, description):
    with pytest.raises(InputError, match="the description is empty"):
        text([description])


def test_a_description_of_unknown_words_is_an_input_error_naming_the_vocabulary(text):
    with pytest.raises(InputError, match=r"no word of the description 'Zyxwvut qwrtpl' is in the vocabulary") as error:
        text(["Zyxwvut qwrtpl"])
    assert f"({text.width} tokens, e.g. " in str(error.value)
    assert "binding assay" in str(error.value)  # among the commonest tokens it names
    with pytest.raises(InputError, match="no word of the description"):  # one unreadable row fails the batch
        text([ACETYLCHOLINESTERASE, "Zyxwvut qwrtpl"])


def test_a_vocabulary_needs_two_described_tasks():
    with pytest.raises(InputError, match="at least two described tasks"):
        TextFeatures.fit([ACETYLCHOLINESTERASE, "  "])


def test_save_and_load_give_identical_features(text, training_descriptions, tmp_path):
    path = text.save(tmp_path / "text_features.json")
    loaded = TextFeatures.load(path)
    assert loaded.vocabulary == text.vocabulary
    assert np.array_equal(loaded.idf, text.idf)
    descriptions = training_descriptions[:100] + held_out_descriptions()
    assert torch.equal(loaded(descriptions), text(descriptions))


def test_load_rejects_a_file_that_is_not_a_vocabulary(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"format": "something-else/1", "vocabulary": {}, "idf": []}\n')
    with pytest.raises(InputError, match="not a molprior text vocabulary"):
        TextFeatures.load(path)
