"""What a name may hold: capital letters of any script, letters of scripts without case,
digits and `_` (`MARA`, `LAMP_ROOM`, `CHLOÉ`, `ZOË`, `МАША`, `李`); and a character's
written form, the words of a name joined by spaces, periods or apostrophes (`MRS.
O'BRIEN`, `DR. JEKYLL`), which a speaker line may use for a character that declares it
as its `display:`.

One definition for every module that recognises names in text (the checker, the
prompts, the formatter, the language server); `grammar/shot.lark` spells the same
pattern in its NAME and SPEAKER terminals.  ASCII names keep a fast path: most
scripts have no other, and action text is scanned for names in every shot.
"""

from __future__ import annotations

import re

# A letter that is not an ASCII lower-case one, then letters, digits or `_` that are
# not ASCII lower-case either.  Non-ASCII lower-case letters (é, а) pass the pattern:
# `is_name` and the checker reject them with a message that says to write capitals.
_WORD = r"(?:[A-Z][A-Z0-9_]*|(?![a-z])[^\W\d_](?:(?![a-z])\w)*)"
PATTERN = rf"{_WORD}(?!\w)"
NAME = re.compile(PATTERN)
# Words of a name joined by spaces, periods or apostrophes (' or ’): a speaker as a
# screenplay writes them.  Separators are never word characters, so matching is linear.
WRITTEN_PATTERN = rf"{_WORD}(?:(?:\.?[ \t]+|\.|['\u2019]){_WORD})*(?!\w)"
WRITTEN = re.compile(WRITTEN_PATTERN)
_ASCII_CAPITALISED = re.compile(r"\b[A-Z][A-Z0-9_]+\b")
_CAPITALISED = re.compile(r"(?<!\w)(?![a-z])[^\W\d_](?:(?![a-z])\w)*(?!\w)")


def is_name(text: str) -> bool:
    """Is `text` a whole name, written in capitals (or in a script without case)?"""
    return NAME.fullmatch(text) is not None and not any(c.islower() for c in text)


def _written_like_a_name(word: str) -> bool:
    """No lower case, and two characters or more unless its script has no case (李)."""
    if any(c.islower() for c in word):
        return False
    return len(word) > 1 or not word.isupper()


def capitalised(text: str) -> list[re.Match[str]]:
    """The words of `text` written like names."""
    if text.isascii():
        return list(_ASCII_CAPITALISED.finditer(text))
    return [m for m in _CAPITALISED.finditer(text) if _written_like_a_name(m[0])]


def replace_names(text: str, replace) -> str:
    """`text` with each word written like a name passed through `replace(word)`."""
    if text.isascii():
        return _ASCII_CAPITALISED.sub(lambda m: replace(m[0]), text)
    return _CAPITALISED.sub(lambda m: replace(m[0]) if _written_like_a_name(m[0]) else m[0], text)


def identifier(text: str) -> str:
    """`text` as the name it can be: in capitals, other characters between its words
    made `_` (`O'BRIEN` is `O_BRIEN`, `MARA-JANE` is `MARA_JANE`); letters of any
    script kept.  Not always a name: `is_name` says."""
    return re.sub(r"[\W_]+", "_", text.upper()).strip("_")


def written_key(text: str) -> str:
    """A written form as compared with a `display:`: case, spaces and the apostrophe's
    shape do not count (`MRS. O’BRIEN` is `Mrs. O'Brien`)."""
    return re.sub(r"\s+", "", text.replace("\u2019", "'")).casefold()
