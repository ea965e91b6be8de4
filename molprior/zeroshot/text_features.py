"""Task descriptions as vectors, learned offline from the training tasks' descriptions.

A description's tokens are its lower-case words, the pairs of neighbouring words, and, for an
EC number, each of its levels (``ec:3``, ``ec:3.1``, ``ec:3.1.1``, ``ec:3.1.1.7``: an enzyme
of a new target still shares its class with the training tasks); a vocabulary of the tokens
seen in at least two training descriptions is weighted by TF-IDF (scikit-learn's
``TfidfVectorizer``, L2-normalised rows).  Nothing is downloaded: the vocabulary is the
training tasks' own, saved beside the model as JSON.

A description that is empty, or holds no token of the vocabulary, is an error naming what
the vocabulary knows, not a silent average model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from molprior.errors import InputError
from molprior.files import write_text

_WORD = re.compile(r"[a-z0-9]+(?:[.\-/][a-z0-9]+)*")
_EC = re.compile(r"^\d+(?:\.(?:\d+|-|n\d+))+$")
#: Tokens a description must share with the vocabulary to be read.
MIN_DOCUMENTS = 2
FORMAT = "molprior-text-features/1"


def tokens(text: str) -> list[str]:
    """The tokens of ``text``: words, neighbouring word pairs, EC numbers' levels."""
    words = _WORD.findall(text.lower())
    out = list(words)
    out += [f"{a} {b}" for a, b in zip(words, words[1:])]
    for word in words:
        if _EC.match(word):
            levels = word.split(".")
            out += [f"ec:{'.'.join(levels[:i])}" for i in range(1, len(levels) + 1)]
    return out


class TextFeatures:
    """TF-IDF features of descriptions over a vocabulary learned from training descriptions."""

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vocabulary, self.idf = dict(vocabulary), np.asarray(idf, dtype=np.float64)
        self._vectorizer = TfidfVectorizer(analyzer=tokens, vocabulary=self.vocabulary)
        self._vectorizer.idf_ = self.idf

    @classmethod
    def fit(cls, descriptions: list[str]) -> "TextFeatures":
        """The vocabulary and weights of ``descriptions`` (tokens in at least
        :data:`MIN_DOCUMENTS` of them)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [d for d in descriptions if d.strip()]
        if len(texts) < MIN_DOCUMENTS:
            raise InputError("a text vocabulary needs at least two described tasks")
        fitted = TfidfVectorizer(analyzer=tokens, min_df=MIN_DOCUMENTS).fit(texts)
        vocabulary = {token: int(i) for token, i in sorted(fitted.vocabulary_.items(), key=lambda kv: kv[1])}
        return cls(vocabulary, fitted.idf_)

    @property
    def width(self) -> int:
        return len(self.vocabulary)

    def check(self, description: str) -> None:
        """An :class:`InputError` for a description this vocabulary cannot read."""
        if not description or not description.strip():
            raise InputError("the description is empty: describe the assay's target (e.g. 'Acetylcholinesterase; "
                             "EC 3.1.1.7; enzyme > hydrolase; Homo sapiens; binding assay')")
        if not any(token in self.vocabulary for token in tokens(description)):
            common = sorted(self.vocabulary, key=lambda t: self.idf[self.vocabulary[t]])[:12]
            raise InputError(f"no word of the description {description!r} is in the vocabulary learned from the "
                             f"training tasks' descriptions ({self.width} tokens, e.g. {', '.join(common)}): "
                             "name the target, its protein class or its EC number")

    def __call__(self, descriptions: list[str]) -> torch.Tensor:
        """One L2-normalised row per description (all must pass :meth:`check`)."""
        for description in descriptions:
            self.check(description)
        matrix = self._vectorizer.transform(descriptions)
        return torch.from_numpy(matrix.toarray().astype(np.float32))

    def save(self, path: str | Path) -> Path:
        document = {"format": FORMAT, "vocabulary": self.vocabulary, "idf": [float(v) for v in self.idf]}
        return write_text(json.dumps(document) + "\n", Path(path))

    @classmethod
    def load(cls, path: str | Path) -> "TextFeatures":
        document = json.loads(Path(path).read_text())
        if document.get("format") != FORMAT:
            raise InputError(f"{path}: not a molprior text vocabulary ({FORMAT})")
        return cls(document["vocabulary"], np.asarray(document["idf"]))
