"""Loudness: the mix measured (ITU-R BS.1770-4 / EBU R 128) and brought to a delivery target.

The meter is libebur128, the reference C implementation of BS.1770 and EBU
R 128 (through its Python binding `pyebur128`), fed a block at a time, so a
feature is measured in the same memory as a short.  Normalising is a gain to
the target followed by a true-peak limiter; docs/assembly.md says how it
behaves and how it was checked against another meter.

Pure functions over wav paths; nothing here knows the plan or the cache.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyebur128
import soundfile

# The delivery targets a user names with --loudness, in LUFS (None: as mixed).
TARGETS: dict[str, float | None] = {"-14": -14.0, "-23": -23.0, "-24": -24.0, "off": None}
DEFAULT_TARGET = "-14"  # streaming services' reference level
TRUE_PEAK_DBTP = -1.0  # the ceiling EBU R 128 and the streaming services ask for
# The limiter aims 0.5 dB under the ceiling: its detector is a 48-tap
# interpolator, not the meter's, and AAC and Opus move peaks a little.
LIMITER_CEILING_DBTP = TRUE_PEAK_DBTP - 0.5
_LOOKAHEAD_S = 0.0015  # the gain reaches its depth this long before a peak
_RELEASE_S = 0.1
_BLOCK_S = 10
_TOLERANCE_LU = 0.1  # a limited mix is measured again and its gain corrected beyond this
_PASSES = 3
_OVERSAMPLE = 4  # BS.1770-4 Annex 2: true peak from 4x oversampling at 48 kHz
_TAPS_PER_PHASE = 12


@dataclass(frozen=True)
class Loudness:
    """A measurement: integrated loudness (LUFS, -inf for silence) and true peak (dBTP)."""

    integrated: float
    true_peak: float

    def as_dict(self) -> dict[str, float | None]:
        return {
            "integrated_lufs": _finite(self.integrated),
            "true_peak_dbtp": _finite(self.true_peak),
        }


@dataclass(frozen=True)
class Normalised:
    """What normalising did: the mix as made, the gain applied, and the result."""

    target: float | None  # LUFS; None: left as mixed
    mixed: Loudness
    gain_db: float
    delivered: Loudness

    def as_dict(self) -> dict:
        return {
            "target_lufs": self.target,
            "true_peak_ceiling_dbtp": TRUE_PEAK_DBTP,
            "mixed": self.mixed.as_dict(),
            "gain_db": round(self.gain_db, 3),
            "delivered": self.delivered.as_dict(),
        }


def measure(sources: list[Path]) -> Loudness:
    """The loudness and true peak of the sum of `sources` (wavs alike in rate and length)."""
    rate = soundfile.info(str(sources[0])).samplerate
    meter = _Meter(rate)
    for block in _summed(sources, 0, None, rate * _BLOCK_S):
        meter.add(block)
    return meter.result()


def normalise(sources: list[Path], target: float | None, out: Path) -> Normalised:
    """The sum of `sources` brought to `target` LUFS and kept under TRUE_PEAK_DBTP, as a
    stereo float32 wav at `out`.  `target` None: the sum is only limited (the mix as
    made, kept under the ceiling).  Silence stays silence."""
    mixed = measure(sources)
    gain_db = 0.0
    if target is not None and math.isfinite(mixed.integrated):
        gain_db = target - mixed.integrated
    delivered = _limited(sources, gain_db, out)
    # Limiting takes a little loudness off peaky mixes: measure and correct.
    for _ in range(_PASSES - 1):
        if target is None or not math.isfinite(delivered.integrated):
            break
        short = target - delivered.integrated
        if abs(short) <= _TOLERANCE_LU:
            break
        gain_db += short
        delivered = _limited(sources, gain_db, out)
    return Normalised(target, mixed, gain_db, delivered)


def scale(source: Path, gain_db: float, out: Path) -> None:
    """`source` times `gain_db`, as float32 (a stem brought along with its master)."""
    gain = np.float32(10 ** (gain_db / 20))
    with soundfile.SoundFile(str(source)) as sound, _writer(out, sound) as target:
        for block in sound.blocks(sound.samplerate * _BLOCK_S, dtype="float32", always_2d=True):
            target.write(block * gain)


# ------------------------------------------------------------------ meter


class _Meter:
    """libebur128 fed a block at a time: integrated loudness and true peak."""

    def __init__(self, rate: int):
        mode = pyebur128.MeasurementMode
        self.state = pyebur128.R128State(2, rate, mode.MODE_I | mode.MODE_TRUE_PEAK)
        self.frames = 0

    def add(self, block: np.ndarray) -> None:
        if len(block):
            self.state.add_frames(np.ascontiguousarray(block, dtype=np.float64).ravel(), len(block))
            self.frames += len(block)

    def result(self) -> Loudness:
        if not self.frames:
            return Loudness(-math.inf, -math.inf)
        integrated = pyebur128.get_loudness_global(self.state)
        peak = max(pyebur128.get_true_peak(self.state, channel) for channel in (0, 1))
        return Loudness(integrated, 20 * math.log10(peak) if peak > 0 else -math.inf)


# ------------------------------------------------------------------ limiter


def _limited(sources: list[Path], gain_db: float, out: Path) -> Loudness:
    """Write the gained, true-peak-limited sum to `out`; returns its measurement."""
    info = soundfile.info(str(sources[0]))
    rate, total = info.samplerate, info.frames
    limiter = TruePeakLimiter(rate, LIMITER_CEILING_DBTP)
    gain = 10 ** (gain_db / 20)
    meter = _Meter(rate)
    block = rate * _BLOCK_S
    ahead = limiter.lookahead + limiter.history
    with soundfile.SoundFile(
        str(out), "w", samplerate=rate, channels=2, subtype="FLOAT", format=_format(total)
    ) as target:
        for start in range(0, total, block):
            stop = min(total, start + block)
            first = max(0, start - limiter.history)
            # The block with the samples around it the detector needs.
            context = next(_summed(sources, first, min(total, stop + ahead), None)) * gain
            result = limiter.process(context, start - first, stop - start)
            target.write(result)
            meter.add(result)
    return meter.result()


class TruePeakLimiter:
    """A look-ahead limiter on the true (inter-sample) peak.

    The detector is the 4x polyphase interpolation of BS.1770-4 Annex 2; a
    sample's level is the largest magnitude of the signal around it (itself
    and the interpolated points up to its neighbours).  The gain reaches the
    depth a peak needs over `lookahead` samples before it (a linear ramp, so
    the gain change does not itself ring above the ceiling), and lets go
    exponentially over `release`, as the mix's own limiter does; below the
    ceiling it does nothing.  Both sides share one gain.  Only
    multiplications, divisions and running maxima: the same bytes every run.
    """

    def __init__(self, rate: int, ceiling_db: float):
        self.ceiling = 10 ** (ceiling_db / 20)
        self.lookahead = max(1, round(_LOOKAHEAD_S * rate))
        self.history = _TAPS_PER_PHASE  # samples before a block the interpolator needs
        self.decay = math.exp(-1.0 / (_RELEASE_S * rate))
        self.envelope = 0.0  # at the last sample given out
        self.phases = _interpolator()
        # d^-n and d^n for n < span, from the C library's exp (numpy's SIMD
        # pow and exp can differ with an array's alignment); spans of 50
        # releases keep d^-n below e^50.
        self.span = max(1, int(50 * _RELEASE_S * rate))
        log_decay = -1.0 / (_RELEASE_S * rate)
        self.grow = np.array([math.exp(-k * log_decay) for k in range(self.span)])
        self.shrink = np.array([math.exp(k * log_decay) for k in range(self.span)])

    def process(self, context: np.ndarray, offset: int, count: int) -> np.ndarray:
        """Samples `offset` .. `offset + count` of `context`, limited.  `context`
        holds up to `history` samples before them and up to `lookahead +
        history` after (fewer at the film's ends)."""
        level = self._true_level(context)
        ramp = self._ramped(level, offset, count)
        envelope = np.empty(count)
        carried = self.envelope
        # Exponential release: env[n] = d^n * running max of level[k] * d^-k.
        for first in range(0, count, self.span):
            piece = ramp[first : first + self.span]
            scaled = piece * self.grow[: len(piece)]
            scaled[0] = max(scaled[0], carried * self.decay)
            envelope[first : first + len(piece)] = (
                np.maximum.accumulate(scaled) * self.shrink[: len(piece)]
            )
            carried = float(envelope[first + len(piece) - 1])
        self.envelope = carried
        gain = np.ones(count)
        loud = envelope > self.ceiling
        gain[loud] = self.ceiling / envelope[loud]
        return (context[offset : offset + count] * gain[:, None]).astype(np.float32)

    def _true_level(self, block: np.ndarray) -> np.ndarray:
        """Per sample, the largest magnitude from the previous sample to the next,
        the interpolated points between included."""
        count = len(block)
        taps = self.phases.shape[1]
        magnitude = np.zeros(count)
        between = np.zeros(count)  # peak of the points after each sample
        value, term = np.empty(count), np.empty(count)
        # One channel at a time, contiguous, into buffers reused: the filter is
        # 48 multiply-adds a sample, and a reduction across a (n, 2) array's
        # short axis is numpy's slowest path.
        for channel in range(block.shape[1]):
            signal = block[:, channel].astype(np.float64)
            np.maximum(magnitude, np.abs(signal), out=magnitude)
            padded = np.concatenate([np.zeros(taps - 1), signal])
            for phase in self.phases:
                value.fill(0.0)
                for k, tap in enumerate(phase):
                    np.multiply(padded[taps - 1 - k : taps - 1 - k + count], tap, out=term)
                    value += term
                np.maximum(between, np.abs(value, out=value), out=between)
        # The filter is centred between two of its taps, so every phase gives a
        # point between samples (at 1/8, 3/8, 5/8 and 7/8), and the points
        # computed at sample n lie between n - delay and n - delay + 1.
        delay = taps // 2
        between = np.concatenate([between[delay:], np.zeros(delay)])
        around = np.maximum(between, np.concatenate([[0.0], between[:-1]]))
        return np.maximum(magnitude, around)

    def _ramped(self, level: np.ndarray, offset: int, count: int) -> np.ndarray:
        """Each sample's level raised towards the peaks of the next `lookahead`
        samples, linearly: a peak of P ahead by k samples asks for
        ceiling + (P - ceiling) * (1 - k / (lookahead + 1))."""
        over = np.maximum(level - self.ceiling, 0.0)
        out = over[offset : offset + count].copy()
        steps = self.lookahead + 1
        for k in range(1, steps):
            ahead = over[offset + k : offset + k + count]
            weight = 1 - k / steps
            np.maximum(out[: len(ahead)], ahead * weight, out=out[: len(ahead)])
        return out + self.ceiling


def _interpolator() -> np.ndarray:
    """The 4x interpolation filter as (phases, taps): a windowed sinc (Hann), from
    the C library's sin and cos so the taps are the same bits everywhere."""
    size = _OVERSAMPLE * _TAPS_PER_PHASE
    centre = (size - 1) / 2
    taps = []
    for n in range(size):
        x = (n - centre) / _OVERSAMPLE
        sinc = 1.0 if x == 0 else math.sin(math.pi * x) / (math.pi * x)
        window = 0.5 - 0.5 * math.cos(2 * math.pi * (n + 0.5) / size)
        taps.append(sinc * window)
    phases = np.array(taps).reshape(_TAPS_PER_PHASE, _OVERSAMPLE).T
    return phases / phases.sum(axis=1, keepdims=True)  # each phase passes DC at unity


# ------------------------------------------------------------------ files


def _summed(
    sources: list[Path], start: int, stop: int | None, block: int | None
) -> Iterator[np.ndarray]:
    """The sum of `sources` (stereo float32) from `start` to `stop`, `block`
    samples at a time (None: in one piece)."""
    files = [soundfile.SoundFile(str(path)) for path in sources]
    try:
        stop = files[0].frames if stop is None else stop
        for sound in files:
            sound.seek(start)
        step = block or max(1, stop - start)
        for first in range(start, stop, step):
            count = min(step, stop - first)
            total = np.zeros((count, 2), np.float32)
            for sound in files:
                part = sound.read(count, dtype="float32", always_2d=True)
                total[: len(part)] += part if part.shape[1] == 2 else part[:, :1]
            yield total
        if start >= stop:
            yield np.zeros((0, 2), np.float32)
    finally:
        for sound in files:
            sound.close()


def _format(samples: int) -> str:
    return "WAV" if samples * 8 < 2**32 - 2**16 else "RF64"


def _writer(out: Path, like: soundfile.SoundFile) -> soundfile.SoundFile:
    return soundfile.SoundFile(
        str(out), "w", samplerate=like.samplerate, channels=like.channels, subtype="FLOAT",
        format=_format(like.frames),
    )  # fmt: skip


def _finite(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


__all__ = [
    "DEFAULT_TARGET",
    "Loudness",
    "Normalised",
    "TARGETS",
    "TRUE_PEAK_DBTP",
    "TruePeakLimiter",
    "measure",
    "normalise",
    "scale",
]
