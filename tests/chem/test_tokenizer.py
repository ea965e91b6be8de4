import pytest
from rdkit import Chem

from molprior.chem.tokenizer import SPECIAL_TOKENS, SelfiesVocabulary, TokenizationError, smiles_to_selfies_tokens

DRUGS = ["CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "CC(=O)Nc1ccc(O)cc1"]


@pytest.fixture
def vocabulary():
    return SelfiesVocabulary.build([smiles_to_selfies_tokens(s) for s in DRUGS], max_length=60)


def test_round_trip_gives_the_same_molecule(vocabulary):
    for smiles in DRUGS:
        ids = vocabulary.encode(smiles)
        assert ids[-1] == vocabulary.eos_id
        assert vocabulary.decode(ids) == Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def test_specials_come_first_and_tokens_are_sorted(vocabulary):
    assert tuple(vocabulary.tokens[:3]) == SPECIAL_TOKENS
    assert vocabulary.tokens[3:] == sorted(vocabulary.tokens[3:])


def test_unknown_token_and_too_long_are_errors(vocabulary):
    with pytest.raises(TokenizationError, match=r"\[Cl\]"):
        vocabulary.encode("CCCl")
    short = SelfiesVocabulary(vocabulary.tokens, max_length=5)
    with pytest.raises(TokenizationError, match="more than the model's 4"):
        short.encode(DRUGS[0])


def test_selfies_cannot_encode_hypervalent_iodine():
    assert Chem.MolFromSmiles("O=I(=O)(=O)O") is not None  # periodic acid: valid for RDKit
    with pytest.raises(TokenizationError, match="I with 7 bond"):
        smiles_to_selfies_tokens("O=I(=O)(=O)O")


def test_decode_stops_at_eos_and_skips_specials(vocabulary):
    ids = vocabulary.encode("CC(=O)Nc1ccc(O)cc1")
    noisy = [vocabulary.bos_id] + ids + vocabulary.encode("CC(=O)Oc1ccccc1C(=O)O")
    assert vocabulary.decode(noisy) == "CC(=O)Nc1ccc(O)cc1"
    assert vocabulary.decode([vocabulary.eos_id]) == ""


def test_serialisation_round_trip(vocabulary):
    again = SelfiesVocabulary.from_dict(vocabulary.to_dict())
    assert again.tokens == vocabulary.tokens and again.max_length == vocabulary.max_length
    with pytest.raises(ValueError):
        SelfiesVocabulary(["[C]", "<pad>"], 10)


def test_extend_keeps_every_old_id_and_appends_new_tokens(vocabulary):
    from molprior.immunology.peptides import peptide_to_smiles

    peptide = smiles_to_selfies_tokens(peptide_to_smiles("SIINFEKL"))
    extended = vocabulary.extend([peptide, smiles_to_selfies_tokens("CCCl")], max_length=200)
    assert extended.tokens[: len(vocabulary)] == vocabulary.tokens
    added = extended.tokens[len(vocabulary):]
    assert added == sorted(added) and {"[C@@H1]", "[Cl]"} <= set(added)
    assert not set(added) & set(vocabulary.tokens)
    assert extended.max_length == 200 and vocabulary.extend([]).max_length == vocabulary.max_length
    for smiles in DRUGS:
        assert extended.encode(smiles) == vocabulary.encode(smiles)
    assert extended.decode(extended.encode(peptide_to_smiles("SIINFEKL"))) == peptide_to_smiles("SIINFEKL")
