"""Captions to word ids: a word-level vocabulary, stored with the weights.

No hub tokenizer can be reached here, and the model only needs the words of
its captions: shot sizes, camera moves and directions, colours, shapes,
actions and sounds.  `train.py` builds the vocabulary from the training
captions and the prompt words of the language (`director.prompts`); words
outside it are dropped, so a plan's prompt reads like a training caption with
the unknown words left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import torch

PAD, UNKNOWN = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def words(text: str) -> list[str]:
    """Lower-case words, hyphenated words kept whole (`close-up`)."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class Vocabulary:
    """Known words in a fixed order; id 0 is padding."""

    tokens: tuple[str, ...]
    max_words: int = 32

    @classmethod
    def build(cls, texts: Iterable[str], max_words: int = 32) -> Vocabulary:
        found = sorted({w for text in texts for w in words(text)})
        return cls((PAD, UNKNOWN, *found), max_words)

    def __len__(self) -> int:
        return len(self.tokens)

    def ids(self, text: str) -> list[int]:
        """Ids of the known words of `text`, at most `max_words`."""
        index = self._index()
        return [index[w] for w in words(text) if w in index][: self.max_words]

    def encode(self, texts: Iterable[str]) -> torch.Tensor:
        """(B, max_words) ids, padded with 0."""
        rows = [self.ids(text) for text in texts]
        out = torch.zeros(len(rows), self.max_words, dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return out

    def _index(self) -> dict[str, int]:
        cached = self.__dict__.get("_cached_index")
        if cached is None:
            cached = {w: i for i, w in enumerate(self.tokens)}
            object.__setattr__(self, "_cached_index", cached)
        return cached
