"""The scratch voice: real speech from espeak-ng, placed in each line's slot."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from director import voice

RATE = 16000
FPS = Fraction(24)

needs_engine = pytest.mark.skipif(
    voice.engine() is None,
    reason="no espeak-ng engine: pip install espeakng-loader, or install the espeak-ng program",
)


def line(speaker: str, text: str, start: int, frames: int, description: str = "") -> dict:
    return {
        "speaker": speaker,
        "voice": description,
        "text": text,
        "start": start,
        "frames": frames,
    }


def seconds(t: float) -> int:
    return round(t * RATE)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0


def pitch(samples: np.ndarray) -> float:
    """The median fundamental frequency of the voiced parts, by autocorrelation."""
    size = round(0.04 * RATE)
    found = []
    for at in range(0, samples.size - size, size // 2):
        window = samples[at : at + size].astype(np.float64)
        if rms(window) < 0.05:
            continue
        window -= window.mean()
        corr = np.correlate(window, window, "full")[size - 1 :]
        low, high = RATE // 400, RATE // 60
        lag = low + int(np.argmax(corr[low:high]))
        if corr[lag] > 0.3 * corr[0]:
            found.append(RATE / lag)
    assert found, "no voiced speech found"
    return float(np.median(found))


def test_length_and_type():
    audio = voice.synthesize([], FPS, RATE, 60)
    assert audio.dtype == np.float32 and audio.shape == (seconds(2.5),)
    assert not audio.any()
    audio = voice.synthesize([], Fraction(30000, 1001), 48000, 30)
    assert audio.shape == (round(30 * 1001 / 30000 * 48000),)


@needs_engine
def test_speech_inside_its_slot_and_silence_outside():
    # 5 s shot; the line runs from 1 s (frame 24) to 3.5 s (frame 84).
    audio = voice.synthesize([line("MARA", "Another night, old friend.", 24, 60)], FPS, RATE, 120)
    assert audio.shape == (seconds(5),)
    assert np.abs(audio).max() <= 1.0
    assert not audio[: seconds(1)].any()
    assert not audio[seconds(3.5) :].any()
    assert rms(audio[seconds(1) : seconds(3.5)]) > 0.03
    # The speech starts at the top of its slot.
    assert np.abs(audio[seconds(1) : seconds(1.1)]).max() > 0.05


@needs_engine
def test_a_long_line_is_fitted_to_its_slot():
    text = "I have told you a hundred times that the lamp must never, ever go out before dawn."
    audio = voice.synthesize([line("MARA", text, 0, 36)], FPS, RATE, 72)  # 1.5 s slot
    assert rms(audio[: seconds(1.5)]) > 0.03
    assert not audio[seconds(1.5) :].any()
    assert rms(audio[seconds(1.0) : seconds(1.5)]) > 0.01  # sped up, not silent at the end


@needs_engine
def test_lines_play_in_order():
    lines = [line("MARA", "Who is there?", 0, 36), line("TOM", "Only me.", 60, 36)]
    audio = voice.synthesize(lines, FPS, RATE, 96)
    assert rms(audio[: seconds(1.5)]) > 0.03
    assert not audio[seconds(1.5) : seconds(2.5)].any()
    assert rms(audio[seconds(2.5) : seconds(4)]) > 0.03


@needs_engine
def test_speakers_have_different_pitches():
    text = "The lamp must burn until the morning comes over the sea."
    low = voice.synthesize([line("MARA", text, 0, 96, "low and calm")], FPS, RATE, 96)
    high = voice.synthesize([line("TOM", text, 0, 96, "a boy of ten")], FPS, RATE, 96)
    assert pitch(high) > pitch(low) * 1.15


def test_pitch_comes_from_the_name_and_the_description():
    assert voice.voice_for("MARA") == voice.voice_for("MARA")
    pitches = {voice.voice_for(name).pitch for name in ("MARA", "TOM", "ALICE", "BOB", "KIM")}
    assert len(pitches) >= 4
    assert voice.voice_for("MARA", "deep voice").pitch < voice.voice_for("MARA").pitch
    assert voice.voice_for("MARA", "a woman").name == "en+f3"
    assert voice.voice_for("MARA", "a calm man").name == "en+m3"


@needs_engine
def test_names_alone_give_different_pitches():
    text = "The lamp must burn until the morning comes over the sea."
    names = sorted(["MARA", "TOM", "ALICE", "BOB", "KIM"], key=lambda n: voice.voice_for(n).pitch)
    low, high = names[0], names[-1]
    f_low = pitch(voice.synthesize([line(low, text, 0, 96)], FPS, RATE, 96))
    f_high = pitch(voice.synthesize([line(high, text, 0, 96)], FPS, RATE, 96))
    assert f_high > f_low * 1.1


def test_without_an_engine_the_track_is_silence(monkeypatch, caplog):
    monkeypatch.setattr(voice, "_ENGINE", None)
    monkeypatch.setattr(voice, "_ENGINE_TRIED", False)
    monkeypatch.setenv("SHOT_DIRECTOR_VOICE", "none")
    with caplog.at_level("WARNING", logger="director.voice"):
        audio = voice.synthesize([line("MARA", "Hello.", 0, 24)], FPS, RATE, 48)
    assert audio.shape == (seconds(2),) and not audio.any()
    assert "silent" in caplog.text


class BrokenEngine(voice.Engine):
    name = "broken"

    def speak(self, text, voice_, rate):
        raise OSError("the engine fell over")


def test_a_failing_engine_gives_silence_not_an_error(monkeypatch, caplog):
    monkeypatch.setattr(voice, "_ENGINE", BrokenEngine())
    monkeypatch.setattr(voice, "_ENGINE_TRIED", True)
    with caplog.at_level("WARNING", logger="director.voice"):
        audio = voice.synthesize([line("MARA", "Hello.", 0, 24)], FPS, RATE, 48)
    assert not audio.any()
    assert "fell over" in caplog.text


@pytest.mark.skipif(
    voice.shutil.which("espeak-ng") is None and voice.shutil.which("espeak") is None,
    reason="no espeak-ng program on PATH",
)
def test_the_program_engine_speaks_too():
    engine = voice.ProgramEngine()
    samples = engine.speak("Hello there.", voice.voice_for("MARA"), 165)
    assert samples.dtype == np.int16 and samples.size > engine.sample_rate * 0.3


@needs_engine
def test_a_line_sounds_the_same_whatever_was_said_before_it():
    # espeak-ng keeps state between utterances: without a fresh library for each line,
    # the second of two identical lines (or a line after another speaker's) differed,
    # so a voice made in a fresh process (a resumed compile, a Ray worker) differed too.
    lines = [line("MARA", "Bring the lantern, and mind the steps.", 0, 96, "low and calm")]
    first = voice.synthesize(lines, FPS, RATE, 96)
    voice.synthesize([line("TOM", "Another night, old friend.", 0, 72, "a boy")], FPS, RATE, 72)
    assert np.array_equal(voice.synthesize(lines, FPS, RATE, 96), first)


# -- parentheticals: how a line is said -----------------------------------------------------


def said(direction: str | None, text: str = "The lamp is out and the boat is late.") -> np.ndarray:
    spoken = line("MARA", text, 0, 24 * 6)
    if direction is not None:
        spoken["direction"] = direction
    audio = voice.synthesize([spoken], FPS, RATE, 24 * 6)
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    return audio[loud[0] : loud[-1] + 1]


def test_which_parentheticals_the_voice_performs():
    assert voice.delivery("whispering").gain < voice.delivery("softly").gain < 1
    assert voice.delivery("to himself").gain < 1 < voice.delivery("SHOUTING").gain
    assert voice.delivery("slowly, softly").rate < voice.delivery("softly").rate < 1
    assert voice.delivery("breathless").rate > 1
    for unperformed in ("smiling", "beat", "singing", "", None):
        assert voice.delivery(unperformed) is None


@needs_engine
def test_a_line_is_said_as_its_parenthetical_asks():
    plain, whispered, shouted = said(None), said("whispering"), said("shouting")
    slow, fast = said("slowly"), said("breathless")
    peak = float(np.abs(plain).max())
    assert float(np.abs(whispered).max()) < 0.6 * peak  # quieter
    assert rms(whispered) < 0.8 * rms(plain)
    assert float(np.abs(shouted).max()) > 1.2 * peak  # louder
    assert slow.size > 1.15 * plain.size > 1.15**2 * fast.size  # slower, faster
    assert np.array_equal(said("smiling"), plain)  # nothing it can perform: unchanged


SAID_IN_A_FRESH_PROCESS = """
import hashlib, sys
from fractions import Fraction
from director import voice
line = {"speaker": "TOM", "voice": "", "start": 0, "frames": 96}
if sys.argv[1] == "busy":  # other lines first, as a worker that made other shots
    other = line | {"text": "Other words.", "direction": "shouting"}
    voice.synthesize([other], Fraction(24), 16000, 96)
for direction in ("whispering", "shouting", "slowly"):
    said = line | {"text": "Will they see it?", "direction": direction}
    print(hashlib.sha256(voice.synthesize([said], Fraction(24), 16000, 96).tobytes()).hexdigest())
"""


@needs_engine
def test_a_performed_line_is_the_same_bytes_in_any_process():
    """A voice node made by another process (a resumed compile, a Ray worker) is the
    same: espeak-ng's whisper variant was not (its noise differs between processes)."""
    import os
    import subprocess
    import sys

    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", SAID_IN_A_FRESH_PROCESS, history],
            capture_output=True, text=True, check=True, env=env, timeout=120,
        ).stdout
        for history in ("fresh", "busy", "fresh")
    ]  # fmt: skip
    assert runs[0] == runs[1] == runs[2] and len(runs[0].split()) == 3
