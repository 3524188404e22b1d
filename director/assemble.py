"""Assembly: the cut's pieces, the mix, the film file and its sidecars.

Plain functions over paths and numbers, with no knowledge of the cache; the
runtime calls them once per plan node (`segment`, `transition`, `assemble`,
`mix`, `mux`) and for the sidecars.  docs/assembly.md says what each one
does to the picture and the sound.

Nothing here holds a whole film in memory: pictures move one frame at a
time, encoded packets one packet at a time, and the mix is made in blocks
of a few seconds, so peak memory depends on the frame size and the block
length, never on the film's length.
"""

from __future__ import annotations

import contextlib
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import chain
from pathlib import Path

import av
import numpy as np
import soundfile

from .clips import DELIVERY, VideoCodec, count_frames, read_frames, read_planar, write_clip
from .plan import Timeline

AUDIO_RATE = 48000
STEMS = ("music", "sfx", "ambience", "dialogue")
CEILING = 0.98  # the limiter keeps every sample of the master within ±CEILING
RELEASE_S = 0.1  # how fast the limiter lets go after a peak
DUCK_RAMP_S = 0.05  # ducking reaches full depth this long before a line, and lets go as long after
BLOCK_S = 10  # the mix is made this many seconds at a time
CUT_KINDS = ("cut", "smash cut", "match cut")  # edits without frames of their own

# Sound files soundfile (libsndfile) reads; everything else goes through PyAV.
_SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff"}
_AUDIO_CODECS = {"h264": "aac", "prores": "pcm_s16le", "vp9": "libopus"}
_AAC_BIT_RATE = 160_000
_OPUS_BIT_RATE = 160_000


# ------------------------------------------------------------------ time


def frame_to_sample(frame: int, fps_num: int, fps_den: int, rate: int = AUDIO_RATE) -> int:
    """The sample at which film frame `frame` starts, rounded half up (exact integer maths)."""
    n = frame * fps_den * rate
    return (2 * n + fps_num) // (2 * fps_num)


def _timeline_samples(timeline: Timeline, frame: int, rate: int) -> int:
    return frame_to_sample(frame, timeline.fps_num, timeline.fps_den, rate)


# ------------------------------------------------------------------ picture


def render_segment(
    shot_clip: Path, start: int, end: int, out: Path, fps: Fraction, codec: VideoCodec
) -> int:
    """Frames [start, end) of a conformed shot clip, encoded in `codec`; returns the count.

    An empty range writes an empty file, which `concat` skips: a shot wholly
    covered by its transitions has no segment of its own.
    """
    if end <= start:
        out.write_bytes(b"")
        return 0
    written = write_clip(out, read_planar(shot_clip, start, end), fps, codec)
    if written != end - start:
        raise ValueError(f"{shot_clip} has {written + start} frames; frames to {end} were asked")
    return written


def render_transition(
    kind: str,
    frames: int,
    before: Path | None,
    after: Path | None,
    out: Path,
    fps: Fraction,
    codec: VideoCodec,
) -> int:
    """A transition's frames (its timeline `covers`), encoded in `codec`; returns the count.

    `before` and `after` are the conformed clips of the shots on each side
    (None at the film's ends).  A dissolve or wipe mixes the last `frames`
    of `before` with the first `frames` of `after`; "fade out" takes the
    last `frames` of `before` to black and, when there is a shot after,
    brings its first `frames` up from black; "fade in" brings the first
    `frames` of `after` up from black.  Cuts (plain, smash, match) have no
    frames: they write an empty file and return 0.
    """
    if kind in CUT_KINDS or frames <= 0:
        out.write_bytes(b"")
        return 0
    pictures = _transition_frames(kind, frames, before, after)
    written = write_clip(out, pictures, fps, codec)
    wanted = 2 * frames if kind == "fade out" and before and after else frames
    if written != wanted:
        raise ValueError(f"{kind} wrote {written} frames instead of {wanted}")
    return written


def _transition_frames(
    kind: str, frames: int, before: Path | None, after: Path | None
) -> Iterator[np.ndarray]:
    if kind in ("dissolve", "wipe"):
        if before is None or after is None:
            raise ValueError(f"a {kind} needs a shot on each side")
        blend = _dissolve if kind == "dissolve" else _wipe
        pairs = zip(_tail(before, frames), _head(after, frames), strict=True)
        return (blend(a, b, (i + 1) / (frames + 1)) for i, (a, b) in enumerate(pairs))
    if kind == "fade out":
        if before is None:
            raise ValueError("a fade out needs a shot before it")
        # Down to black, ending on a black frame ...
        tail = enumerate(_tail(before, frames))
        down = (_scale(frame, (frames - 1 - i) / frames) for i, frame in tail)
        return chain(down, _from_black(after, frames)) if after is not None else down
    if kind == "fade in":
        if after is None:
            raise ValueError("a fade in needs a shot after it")
        return _from_black(after, frames)
    raise ValueError(f"unknown transition {kind!r}")


def _from_black(clip: Path, frames: int) -> Iterator[np.ndarray]:
    # ... and up from black, starting on a black frame, so the frame at the
    # cut is black and each ramp is linear over its `frames`.
    return (_scale(frame, i / frames) for i, frame in enumerate(_head(clip, frames)))


def _head(clip: Path, frames: int) -> Iterator[np.ndarray]:
    if count_frames(clip) < frames:
        raise ValueError(f"{clip} is shorter than the {frames} frames of its transition")
    return read_frames(clip, 0, frames)


def _tail(clip: Path, frames: int) -> Iterator[np.ndarray]:
    total = count_frames(clip)
    if total < frames:
        raise ValueError(f"{clip} is shorter than the {frames} frames of its transition")
    return read_frames(clip, total - frames, total)


def _scale(frame: np.ndarray, level: float) -> np.ndarray:
    return np.rint(frame.astype(np.float32) * level).astype(np.uint8)


def _dissolve(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    mixed = a.astype(np.float32) * (1 - alpha) + b.astype(np.float32) * alpha
    return np.rint(mixed).astype(np.uint8)


def _wipe(a: np.ndarray, b: np.ndarray, progress: float) -> np.ndarray:
    """`b` revealed from the left up to `progress` of the width, behind a soft edge."""
    width = a.shape[1]
    soft = max(1.0, width / 100)  # a 1 % edge: hard to the eye, without stair-stepping
    edge = progress * (width + soft) - soft / 2
    columns = np.arange(width, dtype=np.float32) + 0.5
    mask = np.clip((edge - columns) / soft + 0.5, 0.0, 1.0)[None, :, None]
    mixed = a.astype(np.float32) * (1 - mask) + b.astype(np.float32) * mask
    return np.rint(mixed).astype(np.uint8)


def concat(
    pieces: list[Path],
    out: Path,
    fps: Fraction | None = None,
    codec: VideoCodec | None = None,
    *,
    verify: bool = False,
) -> int:
    """Join clips encoded alike into one, copying their packets; returns the frame count.

    No frame is decoded or encoded again: each piece's packets are copied
    with their timestamps moved along by the frames before it.  That holds
    for every delivery codec (each piece starts on a keyframe, and H.264
    pieces from the same settings share their SPS/PPS).  Pieces whose
    stream parameters differ (H.264 headers from other settings) cannot
    share one stream: then, and only then, the pieces are
    decoded and encoded again in `codec` (by default the delivery codec of
    the pieces' codec).  `fps` defaults to the first piece's frame rate.
    Empty files (empty segments, cuts) are skipped.  The output's frame
    count is checked against the pieces'; `verify` also decodes the result
    and counts its frames.
    """
    pieces = [p for p in pieces if p.stat().st_size > 0]
    if not pieces:
        raise ValueError("nothing to concatenate: every piece is empty")
    fps = fps or _frame_rate(pieces[0])
    parameters = [_parameters(p) for p in pieces]
    if len({p[1:3] for p in parameters}) > 1:
        raise ValueError(f"the pieces differ in size: {sorted({p[1:3] for p in parameters})}")
    if all(p == parameters[0] for p in parameters):
        total = _copy_packets(pieces, out, fps)
    else:
        # The delivery codecs' streams decode as h264, prores, vp9 and png: their names.
        codec = codec or DELIVERY[parameters[0][0]]
        total = write_clip(out, chain.from_iterable(read_frames(p) for p in pieces), fps, codec)
    if count_frames(out) != total:
        raise RuntimeError(f"{out} has {count_frames(out)} frames, its pieces {total}")
    if verify:
        decoded = sum(1 for _ in read_frames(out))
        if decoded != total:
            raise RuntimeError(f"{out} decodes to {decoded} frames, its pieces hold {total}")
    return total


def _copy_of(output, stream):
    """An output stream for `stream`'s packets, keeping its codec tag: without it the
    mov muxer labels every ProRes stream `apch` (HQ), whatever its profile."""
    copy = output.add_stream_from_template(stream)
    if stream.codec_context.name == "prores":
        copy.codec_tag = stream.codec_tag
    return copy


def _frame_rate(path: Path) -> Fraction:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.guessed_rate or stream.average_rate
        if not rate:
            raise ValueError(f"{path} does not say its frame rate: pass fps")
        return Fraction(rate)


def _parameters(path: Path) -> tuple:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        return (ctx.name, ctx.width, ctx.height, ctx.format.name, bytes(ctx.extradata or b""))


def _copy_packets(pieces: list[Path], out: Path, fps: Fraction) -> int:
    frame = 1 / fps
    offset = 0
    with av.open(str(out), "w", options={"fflags": "+bitexact"}) as output:
        target = None
        for piece in pieces:
            with av.open(str(piece)) as source:
                stream = source.streams.video[0]
                if target is None:
                    target = _copy_of(output, stream)
                    target.time_base = frame
                count = 0
                for packet in source.demux(stream):
                    if not packet.size:
                        continue  # the demuxer's end-of-stream marker
                    # Timestamps in frames: exact for mp4/mov, and the nearest
                    # frame for webm's milliseconds.
                    base = packet.time_base
                    packet.pts = round(packet.pts * base / frame) + offset
                    if packet.dts is not None:
                        packet.dts = round(packet.dts * base / frame) + offset
                    packet.duration = 1
                    packet.time_base = frame
                    packet.stream = target
                    output.mux(packet)
                    count += 1
                offset += count
    return offset


# ------------------------------------------------------------------ sound


@dataclass(frozen=True)
class Mix:
    """The mixed sound, on disk: a stereo float32 master wav, and stems when asked."""

    master: Path
    sample_rate: int
    samples: int
    peak: float  # the loudest sample before the limiter; above CEILING it was limited
    stems: dict[str, Path] = field(default_factory=dict)  # music, sfx, ambience, dialogue


class _Reader:
    """A sound file decoded and resampled to stereo float32 at `rate`, read forward:
    from `skip` samples in, and when `loop`, again from there each time it ends."""

    def __init__(self, path: Path, rate: int, skip: int = 0, loop: bool = False):
        self.rate = rate
        self._chunks = self._played(path, skip, loop)
        self._pending: list[np.ndarray] = []
        self._pending_len = 0
        self.exhausted = False

    def read(self, count: int) -> np.ndarray:
        """The next `count` samples, (count, 2); silence past the file's end."""
        while self._pending_len < count and not self.exhausted:
            chunk = next(self._chunks, None)
            if chunk is None:
                self.exhausted = True
            elif len(chunk):
                self._pending.append(chunk)
                self._pending_len += len(chunk)
        out = np.zeros((count, 2), np.float32)
        filled = 0
        while filled < count and self._pending:
            chunk = self._pending[0]
            take = min(len(chunk), count - filled)
            out[filled : filled + take] = chunk[:take]
            filled += take
            if take == len(chunk):
                self._pending.pop(0)
            else:
                self._pending[0] = chunk[take:]
        self._pending_len -= filled
        return out

    @property
    def done(self) -> bool:
        return self.exhausted and not self._pending

    def close(self) -> None:
        self._chunks.close()

    def _played(self, path: Path, skip: int, loop: bool) -> Iterator[np.ndarray]:
        while True:
            played = 0
            with contextlib.closing(self._decode(path)) as chunks:
                for chunk in _skipped(chunks, skip):
                    played += len(chunk)
                    yield chunk
            if not loop or not played:  # a file with nothing after `skip` is not looped
                return

    def _decode(self, path: Path) -> Iterator[np.ndarray]:
        if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
            return self._soundfile(path)
        return self._pyav(path)

    def _soundfile(self, path: Path) -> Iterator[np.ndarray]:
        with soundfile.SoundFile(str(path)) as sound:
            if sound.samplerate == self.rate and sound.channels <= 2:
                for block in sound.blocks(self.rate, dtype="float32", always_2d=True):
                    yield _stereo(block)
                return
            resampler = _resampler(sound.channels, self.rate)
            layout = _layout(sound.channels)
            position = 0
            for block in sound.blocks(sound.samplerate, dtype="float32", always_2d=True):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(block.T), format="fltp", layout=layout
                )
                frame.sample_rate = sound.samplerate
                frame.time_base = Fraction(1, sound.samplerate)
                frame.pts = position
                position += len(block)
                yield from _resampled(resampler, frame)
            yield from _resampled(resampler, None)

    def _pyav(self, path: Path) -> Iterator[np.ndarray]:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            resampler = _resampler(stream.codec_context.channels, self.rate)
            for frame in container.decode(stream):
                yield from _resampled(resampler, frame)
            yield from _resampled(resampler, None)


def _skipped(chunks: Iterator[np.ndarray], skip: int) -> Iterator[np.ndarray]:
    """The samples of `chunks` after the first `skip`."""
    for chunk in chunks:
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        yield chunk[skip:]
        skip = 0


def _layout(channels: int) -> str | av.AudioLayout:
    return {1: "mono", 2: "stereo"}.get(channels) or av.AudioLayout(channels)


def _resampler(channels: int, rate: int) -> av.AudioResampler:
    # Mono stays mono through FFmpeg's resampler (whose upmix would lower it
    # by 3 dB) and is copied to both sides after; more channels are folded
    # down to stereo by FFmpeg's standard downmix.
    layout = "mono" if channels == 1 else "stereo"
    return av.AudioResampler(format="fltp", layout=layout, rate=rate)


def _resampled(resampler: av.AudioResampler, frame: av.AudioFrame | None) -> Iterator[np.ndarray]:
    for out in resampler.resample(frame):
        yield _stereo(out.to_ndarray().T.astype(np.float32, copy=False))


def _stereo(block: np.ndarray) -> np.ndarray:
    if block.shape[1] == 1:
        return np.repeat(block, 2, axis=1)
    return np.ascontiguousarray(block[:, :2])


@dataclass
class _Source:
    """One sound placed in the film: where it starts, how long, how loud, into which stem."""

    path: Path
    stem: str
    onset: int  # first sample in the film
    length: int | None  # samples it may play; None: until its file ends
    gain: float = 1.0
    fade_in: int = 0
    fade_out: int = 0
    duck: bool = False
    skip: int = 0  # samples of its file not played: the cue's in-point
    loop: bool = False
    reader: _Reader | None = None

    @property
    def end(self) -> int | None:
        return None if self.length is None else self.onset + self.length

    def envelope(self, first: int, count: int) -> np.ndarray:
        """Gain and fades for samples `first` .. `first + count` of this source."""
        at = np.arange(first, first + count, dtype=np.float64)
        env = np.full(count, self.gain, np.float64)
        if self.fade_in:
            env *= np.minimum(1.0, at / self.fade_in)
        if self.fade_out and self.length is not None:
            env *= np.clip((self.length - 1 - at) / self.fade_out, 0.0, 1.0)
        return env


def mix(
    timeline: Timeline,
    cue_files: dict[str, Path],
    voices: list[tuple[int, Path]],
    shot_audio: list[tuple[int, Path]],
    duck_db: float,
    out: Path,
    *,
    sample_rate: int = AUDIO_RATE,
    stems: Path | None = None,
    block_seconds: float = BLOCK_S,
) -> Mix:
    """Mix the film's sound into `out`, a stereo float32 wav; stems into `stems` when given.

    `cue_files` maps each cue's `path` (as in the timeline) to the file to
    read; `voices` and `shot_audio` are (film frame where it starts, wav):
    scratch dialogue tracks, and the sound of shots whose backend makes its
    own.  Cues marked to duck drop by `duck_db` (negative) under dialogue.
    The rules (placement, fades, gain, ducking, limiter) are in
    docs/assembly.md.  The result is exactly as long as the picture.
    """
    total = _timeline_samples(timeline, timeline.frames, sample_rate)
    sources = _sources(timeline, cue_files, voices, shot_audio, sample_rate)
    lines = [
        (
            _timeline_samples(timeline, line.start, sample_rate),
            _timeline_samples(timeline, line.end, sample_rate),
        )
        for line in timeline.dialogue
        if line.end > line.start
    ]
    ducker = _Ducker(lines, duck_db, round(DUCK_RAMP_S * sample_rate))
    limiter = _Limiter(CEILING, RELEASE_S * sample_rate)
    block = max(1, round(block_seconds * sample_rate))

    if stems is not None:
        stems.mkdir(parents=True, exist_ok=True)
    stem_paths = {name: stems / f"{name}.wav" for name in STEMS} if stems is not None else {}
    writers = {name: _wav_writer(path, sample_rate, total) for name, path in stem_paths.items()}
    master = _wav_writer(out, sample_rate, total)
    pending = sorted(sources, key=lambda s: s.onset)
    active: list[_Source] = []
    peak = 0.0
    try:
        for start in range(0, total, block):
            stop = min(total, start + block)
            while pending and pending[0].onset < stop:
                source = pending.pop(0)
                source.reader = _Reader(source.path, sample_rate, source.skip, source.loop)
                active.append(source)
            buffers = {name: np.zeros((stop - start, 2), np.float32) for name in STEMS}
            duck = None
            for source in active:
                if source.duck and duck is None:
                    duck = ducker.gains(start, stop)
                _add(source, buffers[source.stem], start, stop, duck)
            for source in [s for s in active if _finished(s, stop)]:
                source.reader.close()
                active.remove(source)
            mixed = sum(buffers.values())
            peak = max(peak, float(np.abs(mixed).max(initial=0.0)))
            master.write(limiter.process(mixed))
            for name, writer in writers.items():
                writer.write(buffers[name])
    finally:
        for source in active:
            source.reader.close()
        master.close()
        for writer in writers.values():
            writer.close()
    return Mix(out, sample_rate, total, peak, stem_paths)


def _sources(
    timeline: Timeline,
    cue_files: dict[str, Path],
    voices: list[tuple[int, Path]],
    shot_audio: list[tuple[int, Path]],
    rate: int,
) -> list[_Source]:
    def at(frame: int) -> int:
        return _timeline_samples(timeline, frame, rate)

    sources = []
    for cue in timeline.cues:
        if cue.path not in cue_files:
            raise ValueError(f"no file given for the cue {cue.asset} ({cue.path})")
        onset = at(cue.start)
        sources.append(
            _Source(
                path=cue_files[cue.path],
                stem=cue.kind,
                onset=onset,
                length=at(cue.start + cue.frames) - onset,
                gain=10 ** (cue.gain_db / 20),
                fade_in=at(cue.start + cue.fade_in) - onset,
                fade_out=at(cue.start + cue.fade_out) - onset,
                duck=cue.duck,
                skip=at(cue.in_point),
                loop=cue.loop,
            )
        )
    for frame, path in voices:
        sources.append(_Source(path=path, stem="dialogue", onset=at(frame), length=None))
    # A shot's own sound is cut with its picture: trimmed to the shot, and
    # faded over the frames it shares with a transition, so a dissolve
    # crossfades the two shots' sound and a fade takes it to silence.
    placed = {shot.start: shot for shot in timeline.shots}
    for frame, path in shot_audio:
        shot = placed.get(frame)
        onset = at(frame)
        if shot is None:
            sources.append(_Source(path=path, stem="dialogue", onset=onset, length=None))
            continue
        sources.append(
            _Source(
                path=path,
                stem="dialogue",
                onset=onset,
                length=at(shot.end) - onset,
                fade_in=at(shot.start + shot.head) - onset,
                fade_out=at(shot.start + shot.tail) - onset,
            )
        )
    return sources


def _add(source: _Source, into: np.ndarray, start: int, stop: int, duck: np.ndarray | None) -> None:
    first = max(start, source.onset)
    last = stop if source.end is None else min(stop, source.end)
    if last <= first:
        return
    samples = source.reader.read(last - first)
    env = source.envelope(first - source.onset, last - first)
    if source.duck:
        env *= duck[first - start : last - start]
    into[first - start : last - start] += samples * env[:, None].astype(np.float32)


def _finished(source: _Source, stop: int) -> bool:
    if source.end is not None and source.end <= stop:
        return True
    return source.reader.done


def _wav_writer(path: Path, rate: int, samples: int) -> soundfile.SoundFile:
    # Plain WAV holds 4 GiB; longer mixes (over 3 hours) go to RF64.
    form = "WAV" if samples * 8 < 2**32 - 2**16 else "RF64"
    return soundfile.SoundFile(
        str(path), "w", samplerate=rate, channels=2, subtype="FLOAT", format=form
    )


class _Ducker:
    """The gain of ducked cues: `duck_db` while anyone speaks, 0 dB otherwise.

    The depth ramps linearly in dB over `ramp` samples, reaching full depth
    as a line starts and letting go after it ends, so the first syllable is
    never masked; lines closer together than two ramps stay ducked between.
    """

    def __init__(self, lines: list[tuple[int, int]], duck_db: float, ramp: int):
        self.lines = np.array(sorted(lines), dtype=np.int64).reshape(-1, 2)
        self.duck_db = duck_db
        self.ramp = max(1, ramp)

    def gains(self, start: int, stop: int) -> np.ndarray:
        depth = np.zeros(stop - start, np.float64)
        if len(self.lines) and self.duck_db:
            ramp = self.ramp
            near = (self.lines[:, 0] - ramp < stop) & (self.lines[:, 1] + ramp > start)
            at = np.arange(start, stop, dtype=np.float64)
            for begin, end in self.lines[near]:
                rise = (at - (begin - ramp)) / ramp
                fall = ((end + ramp) - at) / ramp
                np.maximum(depth, np.clip(np.minimum(rise, fall), 0.0, 1.0), out=depth)
        return 10 ** (self.duck_db * depth / 20)


class _Limiter:
    """A peak limiter without look-ahead: instant attack, exponential release.

    Its envelope follows the louder side's magnitude up at once and decays
    by e every `release` samples; the gain is CEILING / envelope wherever the
    envelope is above CEILING, and 1 elsewhere.  Since the envelope is never
    below the sample it scales, no output sample exceeds the ceiling; below
    it the limiter does nothing.  State carries across blocks, so the result
    does not depend on the block size.
    """

    def __init__(self, ceiling: float, release: float):
        self.ceiling = ceiling
        self.log_decay = -1.0 / release
        self.decay = math.exp(self.log_decay)
        self.envelope = 0.0  # at the last sample processed
        # d^-n grows as e^(n / release); spans of 50 releases keep it below e^50.
        self.span = max(1, int(50 * release))
        self._table: tuple[np.ndarray, np.ndarray] | None = None

    def process(self, block: np.ndarray) -> np.ndarray:
        level = np.abs(block).max(axis=1).astype(np.float64)
        if not len(level):
            return block
        if level.max() <= self.ceiling and self.envelope <= self.ceiling:
            self.envelope = 0.0  # below the ceiling its value no longer matters
            return block
        envelope = np.empty_like(level)
        for first in range(0, len(level), self.span):
            envelope[first : first + self.span] = self._envelope(level[first : first + self.span])
        gain = np.ones_like(envelope)
        loud = envelope > self.ceiling
        gain[loud] = self.ceiling / envelope[loud]
        return (block * gain[:, None]).astype(np.float32)

    def _envelope(self, level: np.ndarray) -> np.ndarray:
        # env[n] = max(env0 * d^(n+1), max_k<=n level[k] * d^(n-k))
        #        = d^n * running max of (level[k] * d^-k), with env0 * d folded into k = 0.
        # Only multiplications and a running max: numpy's SIMD exp and log give
        # results that depend on an array's memory alignment, and the mix must be
        # the same bytes every time it is made.
        decay, grow = self._powers(len(level))
        scaled = level * grow
        scaled[0] = max(scaled[0], self.envelope * self.decay)
        envelope = np.maximum.accumulate(scaled) * decay
        self.envelope = float(envelope[-1])
        return envelope

    def _powers(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """d^n and d^-n for n < count, from the C library's exp: the same bits every run."""
        if self._table is None or len(self._table[0]) < count:
            n = range(self.span)
            self._table = (
                np.array([math.exp(k * self.log_decay) for k in n]),
                np.array([math.exp(-k * self.log_decay) for k in n]),
            )
        return self._table[0][:count], self._table[1][:count]


def write_stems(result: Mix, folder: Path, name: str = "film") -> list[Path]:
    """Copy the mix's stems into `folder` as `<name>.<stem>.wav`; returns their paths."""
    if not result.stems:
        raise ValueError("the mix was made without stems: pass `stems=` to mix()")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, path in result.stems.items():
        target = folder / f"{name}.{stem}.wav"
        shutil.copyfile(path, target)
        written.append(target)
    return written


def to_wav(source: Path, out: Path, rate: int = AUDIO_RATE) -> None:
    """Any sound file the mix reads, as a 24-bit stereo WAV at `rate` (what every
    editor imports), decoded and resampled as the mix does it."""
    reader = _Reader(source, rate)
    try:
        with soundfile.SoundFile(
            str(out), "w", samplerate=rate, channels=2, subtype="PCM_24", format="WAV"
        ) as target:
            for chunk in reader._chunks:  # the decoded file, without the reader's padding
                target.write(np.clip(chunk, -1.0, 1.0))
    finally:
        reader.close()


# ------------------------------------------------------------------ the film file


def encode_sound(audio_wav: Path, out: Path, codec_name: str) -> None:
    """The mix coded for the film (`codec_name`'s sound: AAC, PCM or Opus) in a file of
    the film's container, for `mux` to copy.  Deterministic, as the mux is."""
    options = {"fflags": "+bitexact"}
    with (
        av.open(str(out), "w", options=options) as output,
        soundfile.SoundFile(str(audio_wav)) as sound,
    ):
        stream = _audio_stream(output, _AUDIO_CODECS[codec_name], sound.samplerate)
        for packet in _encoded(stream, sound):
            output.mux(packet)


@dataclass(frozen=True)
class Chapter:
    """A named stretch of the film, in film frames [start, end)."""

    start: int
    end: int
    title: str


@dataclass(frozen=True)
class FilmTags:
    """What the film file says about itself besides picture and sound."""

    fps: Fraction
    title: str = ""
    timecode: str | None = None  # the first frame's, HH:MM:SS:FF; a tmcd track in mp4/mov
    chapters: tuple[Chapter, ...] = ()


def mux(
    video: Path,
    audio_wav: Path,
    coded: Path | None,
    out: Path,
    codec_name: str,
    tags: FilmTags | None = None,
) -> int:
    """The film file: the cut's picture (copied, not re-encoded) with the mix; returns frames.

    h264: an mp4 with AAC; prores: a mov with 16-bit PCM; vp9: a webm with
    Opus; png: `out` is a folder of numbered PNGs (`000000.png`, one per
    frame) with the sound beside them as `audio.wav` (24-bit PCM).  The sound
    is copied from `coded` (see `encode_sound`) when given, else coded here
    from the wav.  `tags` adds a title, chapters and (mp4/mov) a timecode
    track.  Bytes are deterministic: the same inputs give the same file.
    """
    if codec_name == "png":
        return _png_sequence(video, audio_wav, out)
    options = {"fflags": "+bitexact"}
    if codec_name in ("h264", "prores"):
        options["movflags"] = "+faststart"  # the index first, so players start before the end
    with contextlib.ExitStack() as files:
        source = files.enter_context(av.open(str(video)))
        output = files.enter_context(av.open(str(out), "w", options=options))
        video_in = source.streams.video[0]
        video_out = _copy_of(output, video_in)
        video_out.time_base = video_in.time_base
        if tags is not None:
            _tag_film(output, video_out, tags)
        if coded is not None:
            sound_source = files.enter_context(av.open(str(coded)))
            sound_in = sound_source.streams.audio[0]
            audio_out = output.add_stream_from_template(sound_in)
            audio_out.time_base = sound_in.time_base
            audio = _copied(sound_source, sound_in, audio_out)
        else:
            sound = files.enter_context(soundfile.SoundFile(str(audio_wav)))
            audio_out = _audio_stream(output, _AUDIO_CODECS[codec_name], sound.samplerate)
            audio = _encoded(audio_out, sound)
        waiting = next(audio, None)
        frames = 0
        # Interleave by time ourselves: the muxer would otherwise buffer
        # one stream entirely while waiting for the other.
        for packet in source.demux(video_in):
            if not packet.size:
                continue
            now = packet.dts if packet.dts is not None else packet.pts
            now = now * packet.time_base
            while waiting is not None and _time(waiting) <= now:
                output.mux(waiting)
                waiting = next(audio, None)
            packet.stream = video_out
            output.mux(packet)
            frames += 1
        while waiting is not None:
            output.mux(waiting)
            waiting = next(audio, None)
    return frames


def _tag_film(output, video, tags: FilmTags) -> None:
    if tags.title:
        output.metadata["title"] = tags.title
    if tags.timecode is not None:
        # FFmpeg's mov/mp4 muxer turns a video stream's timecode into a tmcd
        # track (";" before the frames marks drop-frame).
        video.metadata["timecode"] = tags.timecode
        # It counts the timecode's frames at the stream's average rate, which
        # PyAV takes from the codec context (unset for a copied ProRes stream).
        video.codec_context.framerate = tags.fps
    frame = Fraction(1) / tags.fps
    output.set_chapters(
        [
            {
                "id": number,
                "start": chapter.start,
                "end": chapter.end,
                "time_base": frame,
                "metadata": {"title": chapter.title},
            }
            for number, chapter in enumerate(tags.chapters, start=1)
        ]
    )


def _copied(container, stream, target) -> Iterator[av.Packet]:
    """A coded stream's packets, readdressed to `target` in another container."""
    for packet in container.demux(stream):
        if packet.size:
            packet.stream = target
            yield packet


def _time(packet: av.Packet) -> Fraction:
    stamp = packet.dts if packet.dts is not None else packet.pts
    return stamp * packet.time_base


def _audio_stream(output, codec_name: str, rate: int):
    codec = av.Codec(codec_name, "w")
    formats = [f.name for f in codec.audio_formats]
    # Feed each encoder a format it takes (libopus: s16 or flt; aac: fltp),
    # preferring float so nothing is lost before the encoder.
    chosen = next(f for f in ("fltp", "flt", "s16", "s16p") if f in formats)
    stream = output.add_stream(codec_name, rate=rate)
    stream.layout = "stereo"
    stream.format = chosen
    stream.time_base = Fraction(1, rate)
    stream.codec_context.time_base = Fraction(1, rate)
    if codec_name == "aac":
        stream.bit_rate = _AAC_BIT_RATE
    elif codec_name == "libopus":
        stream.bit_rate = _OPUS_BIT_RATE
    stream.codec_context.flags |= av.codec.context.Flags.bitexact
    return stream


def _encoded(stream, sound: soundfile.SoundFile) -> Iterator[av.Packet]:
    """The wav's samples through the stream's encoder, a second at a time."""
    fmt = stream.format.name
    position = 0
    for block in sound.blocks(sound.samplerate, dtype="float32", always_2d=True):
        block = _stereo(block)
        if fmt.startswith("s16"):
            block = np.rint(np.clip(block, -1.0, 1.0) * 32767).astype(np.int16)
        planar = stream.format.is_planar
        array = np.ascontiguousarray(block.T) if planar else block.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(array, format=fmt, layout="stereo")
        frame.sample_rate = sound.samplerate
        frame.time_base = Fraction(1, sound.samplerate)
        frame.pts = position
        position += len(block)
        yield from stream.encode(frame)
    yield from stream.encode(None)


def _png_sequence(video: Path, audio_wav: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.png"):
        if stale.stem.isdigit():
            stale.unlink()  # frames of an earlier, longer cut
    frames = 0
    with av.open(str(video)) as source:
        stream = source.streams.video[0]
        if stream.codec_context.name != "png":
            raise ValueError(f"{video} holds {stream.codec_context.name}, not PNG frames")
        # Each packet of a PNG stream is a whole PNG file: written out as is.
        for packet in source.demux(stream):
            if packet.size:
                (out / f"{frames:06d}.png").write_bytes(bytes(packet))
                frames += 1
    with (
        soundfile.SoundFile(str(audio_wav)) as sound,
        soundfile.SoundFile(
            str(out / "audio.wav"), "w", samplerate=sound.samplerate, channels=2,
            subtype="PCM_24", format="WAV",
        ) as target,
    ):  # fmt: skip
        for block in sound.blocks(sound.samplerate, dtype="float32", always_2d=True):
            target.write(np.clip(_stereo(block), -1.0, 1.0))
    return frames


# ------------------------------------------------------------------ subtitles


def write_srt(timeline: Timeline, path: Path, *, speakers: bool = False) -> None:
    """SubRip subtitles of the dialogue; `speakers` prefixes each line with "NAME: ".

    SubRip shows one cue at a time, and strict readers reject cues that
    overlap: where a line is still running when the next begins (under a
    dissolve or wipe, or overlapping speech) it ends where the next begins,
    and lines that begin together share one cue, a line each."""
    cues = _one_at_a_time(_subtitle_times(timeline, speakers))
    blocks = [
        f"{n}\n{_ms_clock(start, ',')} --> {_ms_clock(end, ',')}\n{text}\n"
        for n, (start, end, text) in enumerate(cues, 1)
    ]
    path.write_text("\n".join(blocks), encoding="utf-8")


def _one_at_a_time(cues: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Cues (ms, ms, text) in time order, none overlapping the next."""
    merged: list[tuple[int, int, str]] = []
    for start, end, text in cues:
        if merged and merged[-1][0] == start:
            _, last_end, last_text = merged.pop()
            merged.append((start, max(end, last_end), f"{last_text}\n{text}"))
        else:
            merged.append((start, end, text))
    return [
        (start, min(end, merged[i + 1][0]) if i + 1 < len(merged) else end, text)
        for i, (start, end, text) in enumerate(merged)
    ]


def write_vtt(timeline: Timeline, path: Path, *, speakers: bool = False) -> None:
    """WebVTT subtitles of the dialogue; `speakers` marks each line with a `<v NAME>` voice."""
    blocks = ["WEBVTT\n"]
    for line, (start, end, text) in zip(
        _spoken(timeline), _subtitles(timeline, False, "."), strict=True
    ):
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if speakers:
            text = f"<v {line.speaker}>{text}"
        blocks.append(f"{start} --> {end}\n{text}\n")
    path.write_text("\n".join(blocks), encoding="utf-8")


def _spoken(timeline: Timeline) -> list:
    lines = [line for line in timeline.dialogue if min(line.end, timeline.frames) > line.start]
    return sorted(lines, key=lambda line: (line.start, line.end))


def _subtitles(timeline: Timeline, speakers: bool, comma: str) -> list[tuple[str, str, str]]:
    return [
        (_ms_clock(start, comma), _ms_clock(end, comma), text)
        for start, end, text in _subtitle_times(timeline, speakers)
    ]


def _subtitle_times(timeline: Timeline, speakers: bool) -> list[tuple[int, int, str]]:
    """Each spoken line as (start ms, end ms, text), in time order."""
    cues = []
    for line in _spoken(timeline):
        start = _timeline_samples(timeline, line.start, 1000)
        end = _timeline_samples(timeline, min(line.end, timeline.frames), 1000)
        # A blank line would end the subtitle early; "-->" would start a new one.
        text = "\n".join(part.strip() for part in line.text.splitlines() if part.strip())
        text = text.replace("-->", "->")
        if speakers:
            text = f"{line.speaker}: {text}"
        cues.append((start, end, text))
    return cues


def _ms_clock(ms: int, comma: str) -> str:
    """HH:MM:SS,mmm of a time in milliseconds (a frame's start, rounded to the nearest)."""
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    seconds, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{comma}{ms:03d}"


__all__ = [
    "AUDIO_RATE",
    "CEILING",
    "Chapter",
    "FilmTags",
    "Mix",
    "STEMS",
    "concat",
    "frame_to_sample",
    "mix",
    "mux",
    "render_segment",
    "render_transition",
    "write_srt",
    "write_stems",
    "write_vtt",
]
