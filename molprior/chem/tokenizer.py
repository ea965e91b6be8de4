"""SELFIES tokens for the generative decoder: every decoded token string is a valid molecule.

A :class:`SelfiesVocabulary` is built from the training corpus (its tokens plus ``<pad>``,
``<bos>`` and ``<eos>``) and travels with the model, so sampling and reconstruction use the
exact ids the model was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import selfies as sf

from molprior.chem.rdkit_log import quiet_rdkit
from molprior.errors import InputError

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, BOS, EOS)


class TokenizationError(InputError):
    """A molecule the vocabulary cannot represent."""


@quiet_rdkit()
def smiles_to_selfies_tokens(smiles: str) -> list[str]:
    """SELFIES tokens of a SMILES string (raises :class:`TokenizationError`)."""
    try:
        encoded = sf.encoder(smiles, strict=True)
    except sf.EncoderError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = lines[-1].strip("[]") if lines else "encoder error"
        raise TokenizationError(f"SELFIES cannot encode {smiles!r}: {detail}") from error
    if not encoded:
        raise TokenizationError(f"SELFIES gave an empty string for {smiles!r}")
    return list(sf.split_selfies(encoded))


@dataclass
class SelfiesVocabulary:
    """Token <-> id maps and the longest token sequence the decoder writes (``<eos>`` included)."""

    tokens: list[str]
    max_length: int = 100
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if list(self.tokens[: len(SPECIAL_TOKENS)]) != list(SPECIAL_TOKENS):
            raise ValueError(f"a vocabulary starts with {SPECIAL_TOKENS}")
        self._index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], max_length: int = 100) -> "SelfiesVocabulary":
        """Vocabulary of every token in ``token_lists`` (sorted, after the special tokens)."""
        seen = sorted({token for tokens in token_lists for token in tokens})
        return cls(list(SPECIAL_TOKENS) + seen, max_length)

    def extend(self, token_lists: Iterable[Sequence[str]], max_length: int | None = None) -> "SelfiesVocabulary":
        """This vocabulary with the tokens of ``token_lists`` it lacks appended (sorted): every
        old token keeps its id, so a model trained with it can grow to the new one
        (continued pretraining).  ``max_length`` defaults to this vocabulary's."""
        new = sorted({token for tokens in token_lists for token in tokens} - set(self.tokens))
        return SelfiesVocabulary(list(self.tokens) + new, self.max_length if max_length is None else max_length)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def bos_id(self) -> int:
        return 1

    @property
    def eos_id(self) -> int:
        return 2

    def __len__(self) -> int:
        return len(self.tokens)

    def encode_tokens(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens`` followed by ``<eos>`` (raises :class:`TokenizationError`)."""
        if len(tokens) + 1 > self.max_length:
            raise TokenizationError(f"{len(tokens)} SELFIES tokens, more than the model's {self.max_length - 1}")
        unknown = [t for t in tokens if t not in self._index]
        if unknown:
            raise TokenizationError(f"SELFIES tokens not in the vocabulary: {sorted(set(unknown))}")
        return [self._index[t] for t in tokens] + [self.eos_id]

    def encode(self, smiles: str) -> list[int]:
        """Ids of a SMILES string's SELFIES tokens, ending with ``<eos>``."""
        return self.encode_tokens(smiles_to_selfies_tokens(smiles))

    @quiet_rdkit()
    def decode(self, ids: Sequence[int]) -> str:
        """Canonical SMILES of the tokens up to the first ``<eos>`` (specials skipped)."""
        from rdkit import Chem

        tokens = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i >= len(SPECIAL_TOKENS):
                tokens.append(self.tokens[i])
        smiles = sf.decoder("".join(tokens)) if tokens else ""
        mol = Chem.MolFromSmiles(smiles) if smiles else None
        return Chem.MolToSmiles(mol) if mol is not None else ""

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens), "max_length": self.max_length}

    @classmethod
    def from_dict(cls, values: dict) -> "SelfiesVocabulary":
        return cls(list(values["tokens"]), int(values["max_length"]))
