"""What a parenthetical asks of the scratch voice: `(whispering)` is said very softly,
lower and a little slower, `(shouting)` louder and higher, `(slowly)` slower.  A module
of its own, without the voice's engines, since the planner asks it too: a voice node
carries a line's parenthetical only when the voice performs it (director/voice.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    """How a parenthetical changes a line's reading."""

    gain: float = 1.0  # of the line's usual peak
    rate: float = 1.0  # of the speaker's pace
    pitch: int = 0  # added to the speaker's pitch


# Words (or phrases) of a parenthetical that the scratch voice performs.
DELIVERIES: tuple[tuple[frozenset[str], Delivery], ...] = (
    (
        frozenset({"whisper", "whispers", "whispering", "whispered", "under her breath",
                   "under his breath", "under their breath", "sotto voce"}),
        # Not espeak-ng's whisper variant: its noise differs from one process to the next,
        # and a voice track must be the same bytes wherever it is made.
        Delivery(gain=0.4, rate=0.95, pitch=-6),
    ),
    (
        frozenset({"softly", "quietly", "soft", "quiet", "murmurs", "murmuring", "mutters",
                   "muttering", "to himself", "to herself", "to themself", "to themselves",
                   "gently", "hushed"}),
        Delivery(gain=0.55, rate=0.92),
    ),
    (
        frozenset({"shouting", "shouts", "shouted", "yelling", "yells", "screaming",
                   "screams", "calling out", "calls out", "loudly", "loud", "angrily",
                   "furious", "bellowing"}),
        Delivery(gain=1.4, rate=1.1, pitch=10),
    ),
    (frozenset({"slowly", "slow", "deliberately", "haltingly", "drawling"}), Delivery(rate=0.8)),
    (
        frozenset({"quickly", "fast", "rapidly", "hurried", "hurriedly", "breathless",
                   "breathlessly", "urgently", "in a rush"}),
        Delivery(rate=1.2),
    ),
)  # fmt: skip


def delivery(direction: str | None) -> Delivery | None:
    """What a parenthetical asks of the voice, or None when nothing it can perform
    (`(smiling)`, `(beat)`): its words matched against DELIVERIES, the effects of
    several combined."""
    letters = "".join(c if c.isalpha() else " " for c in (direction or "").lower())
    text = f" {' '.join(letters.split())} "  # words between single spaces, for phrases
    found = [d for words, d in DELIVERIES if any(f" {w} " in text for w in words)]
    if not found:
        return None
    gain, rate, pitch = 1.0, 1.0, 0
    for d in found:
        gain, rate, pitch = gain * d.gain, rate * d.rate, pitch + d.pitch
    return Delivery(gain, rate, pitch)
