"""Scratch dialogue: a shot's lines spoken by espeak-ng, each placed in its slot.

The scratch voice is for timing, not performance: it tells a director
whether a line fits the time the script gives it.  Each speaker gets a pitch
of their own (derived from the name, nudged by words in the character's
`voice:` description such as "low", "high", "child", "woman"), and a line
that would overrun its slot is spoken faster, then trimmed with a short fade
if it still does.  A parenthetical the voice can perform (`(whispering)`,
`(shouting)`, `(slowly)`, …: `delivery`) changes how loud, fast and high the
line is said; others leave it as it is.

Engines, in order of preference:

1. ``espeakng-loader`` (a PyPI package that ships libespeak-ng and its data),
   driven in process through ctypes: milliseconds per line;
2. the ``espeak-ng`` (or ``espeak``) program on PATH, through ``--stdout``;
3. none: the track is silence (never a tone), with a warning logged.

Any failure of an engine is logged and gives silence for that line; it never
raises.  ``SHOT_DIRECTOR_VOICE=library|program|none`` picks an engine.
"""

from __future__ import annotations

import _ctypes
import ctypes
import io
import logging
import math
import os
import shutil
import subprocess
import tempfile
import threading
import wave
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .performance import Delivery, delivery

log = logging.getLogger(__name__)

BASE_RATE = 165  # words per minute
MAX_RATE = 450  # espeak-ng's ceiling
FIT = 0.95  # a line may fill this much of its slot
PEAK = 0.7  # each line is normalised to this peak
FADE_SECONDS = 0.005  # every line fades in and out this quickly (no clicks)
TRIM_FADE_SECONDS = 0.04  # a line cut short fades out over this


@dataclass(frozen=True)
class Voice:
    """How a speaker sounds to espeak-ng."""

    name: str  # an espeak-ng voice, with a variant: "en", "en+f3"
    pitch: int  # 0..100, 50 is the voice's normal
    rate: int  # words per minute


def voice_for(speaker: str, description: str = "") -> Voice:
    """A speaker's voice: the pitch comes from the name; the description nudges it."""
    words = set(description.lower().replace(",", " ").replace(";", " ").split())
    pitch = 32 + zlib.crc32(speaker.encode("utf-8")) % 37  # 32..68, stable across runs
    if words & {"low", "deep", "gravelly", "bass", "baritone", "husky", "gruff"}:
        pitch -= 14
    if words & {"high", "bright", "squeaky", "shrill", "light", "soprano"}:
        pitch += 14
    if words & {"child", "boy", "girl", "kid", "young", "little"}:
        pitch += 18
    female = words & {"female", "woman", "girl", "her", "she", "feminine", "lady"}
    male = words & {"male", "man", "boy", "his", "he", "masculine", "gentleman"}
    name = "en+f3" if female and not male else "en+m3" if male and not female else "en"
    rate = BASE_RATE
    if words & {"slow", "slowly", "measured", "calm", "drawl"}:
        rate -= 20
    if words & {"fast", "quick", "rapid", "hurried", "breathless"}:
        rate += 25
    return Voice(name, max(0, min(100, pitch)), rate)


# -- engines ------------------------------------------------------------------------------------


class Engine:
    """Speaks one line: int16 samples at `sample_rate`, or raises."""

    name = ""
    sample_rate = 22050

    def speak(self, text: str, voice: Voice, rate: int) -> np.ndarray:
        raise NotImplementedError


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH = 1, 3


class LibraryEngine(Engine):
    """libespeak-ng from the espeakng-loader package, through ctypes (one at a time).

    espeak-ng keeps state from one utterance to the next: the same line said twice
    in one process comes out different, even in length.  So each line is said by a
    private copy of the library, loaded for it and unloaded after (about 10 ms), and
    a line sounds the same whatever the process said before it, which cached entries,
    resumed compiles and the Ray executor's workers rely on."""

    name = "espeak-ng library (espeakng-loader)"
    _lock = threading.Lock()

    def __init__(self) -> None:
        import espeakng_loader

        self._library = espeakng_loader.get_library_path()
        self._data = espeakng_loader.get_data_path().encode()
        with self._lock, self._loaded():  # fails here, not at the first line, if it cannot load
            pass

    @contextmanager
    def _loaded(self) -> Iterator[ctypes.CDLL]:
        """A fresh instance of the library, initialised: a copy of its file, since the
        dynamic loader hands out one instance per file."""
        folder = tempfile.mkdtemp(prefix="shot-director-espeak-")
        try:
            copy = os.path.join(folder, "libespeak-ng.so")
            shutil.copyfile(self._library, copy)
            lib = ctypes.CDLL(copy)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        try:
            _declare(lib)
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self._data, 0)
            if rate <= 0:
                raise OSError(f"espeak_Initialize failed ({rate})")
            self.sample_rate = rate
            yield lib
            lib.espeak_Terminate()
        finally:
            dlclose = getattr(_ctypes, "dlclose", None)
            if dlclose is not None:
                dlclose(lib._handle)

    def speak(self, text: str, voice: Voice, rate: int) -> np.ndarray:
        data = text.encode("utf-8")
        chunks: list[np.ndarray] = []

        def collect(wav, count, events) -> int:
            if wav and count > 0:
                chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
            return 0  # go on

        callback = _SYNTH_CALLBACK(collect)
        with self._lock, self._loaded() as lib:
            lib.espeak_SetSynthCallback(callback)
            chosen = lib.espeak_SetVoiceByName(voice.name.encode()) == 0
            if not chosen and lib.espeak_SetVoiceByName(b"en") != 0:
                raise OSError(f"espeak-ng has no voice {voice.name!r}")
            lib.espeak_SetParameter(_RATE, rate, 0)
            lib.espeak_SetParameter(_PITCH, voice.pitch, 0)
            status = lib.espeak_Synth(
                data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
        if status != 0:
            raise OSError(f"espeak_Synth failed ({status})")
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


def _declare(lib: ctypes.CDLL) -> None:
    """The signatures of the library functions used."""
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Terminate.argtypes = []
    lib.espeak_Terminate.restype = ctypes.c_int


class ProgramEngine(Engine):
    """The espeak-ng program, writing a WAV file to its standard output."""

    def __init__(self) -> None:
        program = shutil.which("espeak-ng") or shutil.which("espeak")
        if program is None:
            raise OSError("no espeak-ng program on PATH")
        self.program = program
        self.name = f"{os.path.basename(program)} program"

    def speak(self, text: str, voice: Voice, rate: int) -> np.ndarray:
        command = [self.program, "--stdout", "-v", voice.name]
        command += ["-p", str(voice.pitch), "-s", str(rate), "--", text]
        done = subprocess.run(command, capture_output=True, timeout=60, check=True)
        with wave.open(io.BytesIO(done.stdout)) as wav:
            self.sample_rate = wav.getframerate()
            if wav.getsampwidth() != 2:
                raise OSError("espeak-ng wrote samples that are not 16-bit")
            samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
            return samples.reshape(-1, wav.getnchannels())[:, 0].copy()


_ENGINE: Engine | None = None
_ENGINE_TRIED = False
_ENGINE_LOCK = threading.Lock()


def engine() -> Engine | None:
    """The best engine on this machine, found once; None when there is none."""
    global _ENGINE, _ENGINE_TRIED
    with _ENGINE_LOCK:
        if _ENGINE_TRIED:
            return _ENGINE
        _ENGINE_TRIED = True
        wanted = os.environ.get("SHOT_DIRECTOR_VOICE", "").strip().lower()
        choices: dict[str, list[type[Engine]]] = {
            "library": [LibraryEngine], "program": [ProgramEngine], "none": []
        }  # fmt: skip
        for kind in choices.get(wanted, [LibraryEngine, ProgramEngine]):
            try:
                _ENGINE = kind()
                break
            except Exception as error:  # any failure means: try the next one
                log.info("scratch voice: %s unavailable (%s)", kind.__name__, error)
        if _ENGINE is None:
            log.warning(
                "scratch voice: no espeak-ng found (pip install espeakng-loader, or install "
                "the espeak-ng program); dialogue will be silent"
            )
        return _ENGINE


def engine_name() -> str | None:
    found = engine()
    return found.name if found is not None else None


# -- the track ----------------------------------------------------------------------------------


def synthesize(
    lines: Sequence[Mapping], fps: Fraction, sample_rate: int, frames: int
) -> np.ndarray:
    """A shot's scratch dialogue: float32 mono samples, `frames / fps` seconds long.

    `lines` are dicts {speaker, voice, text, start, frames} and, for a line said
    some way, its parenthetical as `direction`; times in the shot's frames at `fps`.
    Each line is spoken in its slot, starting at its first frame; where there is no
    engine, or it fails, the line is silence.
    """
    fps = Fraction(fps)
    total = max(0, round(Fraction(frames) / fps * sample_rate))
    out = np.zeros(total, dtype=np.float32)
    found = engine() if any(str(line.get("text", "")).strip() for line in lines) else None
    if found is None:
        return out
    for line in lines:
        text = " ".join(str(line.get("text", "")).split())
        if not text:
            continue
        start = round(Fraction(int(line.get("start", 0))) / fps * sample_rate)
        slot = round(Fraction(int(line.get("frames", 0))) / fps * sample_rate)
        slot = min(slot, total - start)
        if start < 0 or slot <= 0:
            continue
        try:
            speech = _speak_fitted(found, text, line, slot / sample_rate, sample_rate)
        except Exception as error:  # a scratch track never stops a compile
            log.warning("scratch voice: %s could not say %r (%s); silence", found.name, text, error)
            continue
        speech = _fit(speech, slot, sample_rate)
        out[start : start + len(speech)] += speech
    np.clip(out, -1.0, 1.0, out=out)
    return out


def _speak_fitted(
    found: Engine, text: str, line: Mapping, seconds: float, sample_rate: int
) -> np.ndarray:
    """The line at the speaker's voice, said as its parenthetical asks, sped up if it
    would overrun `seconds`."""
    voice = voice_for(str(line.get("speaker", "")), str(line.get("voice", "") or ""))
    said = delivery(line.get("direction")) or Delivery()
    if said.pitch:
        voice = Voice(voice.name, max(0, min(100, voice.pitch + said.pitch)), voice.rate)
    rate = min(MAX_RATE, round(voice.rate * said.rate))
    speech = _trim(found.speak(text, voice, rate))
    length = len(speech) / found.sample_rate
    if length > seconds * FIT and rate < MAX_RATE:
        # Speech time does not fall quite in proportion to the rate; aim a little faster.
        rate = min(MAX_RATE, math.ceil(rate * length / (seconds * FIT) * 1.08))
        speech = _trim(found.speak(text, voice, rate))
    samples = speech.astype(np.float32) / 32768.0
    samples = _resample(samples, found.sample_rate, sample_rate)
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak > 0:
        samples *= min(1.0, PEAK * said.gain) / peak
    return samples


def _trim(samples: np.ndarray, threshold: int = 200) -> np.ndarray:
    """Without the silence espeak-ng leaves before and after the words."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1]


def _resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out or samples.size == 0:
        return samples
    count = max(1, round(samples.size * rate_out / rate_in))
    positions = np.arange(count, dtype=np.float64) * (rate_in / rate_out)
    return np.interp(positions, np.arange(samples.size), samples).astype(np.float32)


def _fit(samples: np.ndarray, slot: int, sample_rate: int) -> np.ndarray:
    """At most `slot` samples, with short fades; a cut line fades out more gently."""
    samples = samples[:slot].copy() if samples.size > slot else samples.copy()
    fade = min(samples.size // 2, max(1, round(FADE_SECONDS * sample_rate)))
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        samples[:fade] *= ramp
        samples[-fade:] *= ramp[::-1]
    if samples.size == slot:
        tail = min(samples.size, round(TRIM_FADE_SECONDS * sample_rate))
        samples[-tail:] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)
    return samples
