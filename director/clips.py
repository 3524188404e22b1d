"""Clips on disk: encoding frames to video files and reading them back, with PyAV.

Every picture the runtime caches is a clip: generated shots, conformed
takes, segments of the cut, transitions.  Frames are HxWx3 uint8 RGB arrays
and move through as iterators, one at a time, so memory does not grow with
a clip's length.  A clip cut from another clip keeps its frames as decoded
(`PlanarFrame`, read by `read_planar`), since the codecs store YUV: going
through RGB and back would cost a fifth of a segment's time and blur colour.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import av
import numpy as np


@dataclass(frozen=True)
class VideoCodec:
    """How a clip is encoded: PyAV codec name, pixel format, options, file suffix."""

    name: str
    pix_fmt: str
    options: tuple[tuple[str, str], ...]
    suffix: str


@dataclass(frozen=True)
class ColorSpace:
    """How RGB pictures become YUV, and what the file says about it.

    `matrix` is swscale's conversion matrix; `primaries`, `transfer` and
    `space` are the ISO/IEC 23091-2 code points that go into the H.264 VUI,
    the VP9 and ProRes headers and the container (mp4/mov `colr`, webm
    `Colour`).  The range is always limited ("tv", 16-235), as broadcast and
    every player expect of YUV video."""

    name: str
    matrix: str  # av.video.reformatter.Colorspace's name
    primaries: int
    transfer: int
    space: int


BT709 = ColorSpace("bt709", "ITU709", primaries=1, transfer=1, space=1)
# SD, as FFmpeg's colorspace filter names them: bt601-6-525 (NTSC, and every
# other SD size) and bt601-6-625 (576 lines, PAL).
BT601 = ColorSpace("bt601", "ITU601", primaries=6, transfer=6, space=6)
BT601_625 = ColorSpace("bt601-625", "ITU601", primaries=5, transfer=6, space=5)
COLOR_SPACES = {c.name: c for c in (BT709, BT601, BT601_625)}
LIMITED_RANGE, FULL_RANGE = 1, 2  # AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG


def color_space_for(width: int, height: int) -> ColorSpace:
    """The colour space a picture of this size is delivered in: BT.709 from 720
    lines or 1280 columns up (HD), BT.601 below (SD), as HandBrake and x264's
    own guidance draw the line."""
    if width >= 1280 or height >= 720:
        return BT709
    return BT601_625 if height == 576 else BT601


def decoded_matrix(frame: av.VideoFrame) -> str:
    """The matrix a decoded frame was coded with: BT.709 when it says so, else
    BT.601, which is what swscale used for every clip coded without tags."""
    return "ITU709" if frame.colorspace == BT709.space else "ITU601"


@dataclass(frozen=True)
class PlanarFrame:
    """A decoded yuv420p frame as PyAV's `to_ndarray` gives it: the Y plane's rows,
    then U's and V's, (height * 3 / 2, width) uint8, tightly packed, and the
    matrix its YUV was made with (`decoded_matrix`)."""

    planes: np.ndarray
    matrix: str = "ITU601"

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width), as an RGB frame's shape starts."""
        rows, width = self.planes.shape
        return rows * 2 // 3, width


Frame = np.ndarray | PlanarFrame

# swscale splits a conversion across threads by default, and the rows where
# the slices meet (chroma is filtered across them) came out differently now
# and then: about one 96x54 clip in 1,500 differed by a few levels in ~60
# pixels, which broke "same frames, same bytes".  One thread is exact.
SWSCALE_THREADS = 1

# Cached intermediates favour speed and fidelity; delivery codecs favour size.
INTERMEDIATE = VideoCodec("libx264", "yuv420p", (("preset", "ultrafast"), ("crf", "10")), ".mp4")
DELIVERY = {
    "h264": VideoCodec("libx264", "yuv420p", (("preset", "veryfast"), ("crf", "18")), ".mp4"),
    "prores": VideoCodec("prores_ks", "yuv422p10le", (("profile", "2"),), ".mov"),
    "vp9": VideoCodec(
        "libvpx-vp9",
        "yuv420p",
        (("crf", "32"), ("b", "0"), ("deadline", "realtime"), ("cpu-used", "8")),
        ".webm",
    ),  # noqa: E501
    "png": VideoCodec("png", "rgb24", (), ".mov"),
}


# x264 codes a clip on one thread: its output depends on its thread count, and a
# clip must be the same bytes whatever the machine or executor (the cache and the
# executors' equality rely on it).  Clip work runs in parallel instead by encoding
# behind the frames' maker (`use_threads`), which leaves the bytes alone.
X264_THREADS = "1"


@cache
def x264_asm() -> str | None:
    """The instruction sets x264 may use: its AVX2 level where the CPU also has
    AVX-512, else x264's own choice.  Read on first use, not at import (the CLI
    imports this module for every command).

    On an AVX-512 machine (AMD EPYC here) about one process in 60 coded one
    clip of a compile differently from identical frames and options (6 in 376
    two-compile runs); capped at AVX2, none in 270, and the bytes are otherwise
    the same as uncapped.  Valgrind emulates no AVX-512, so the cause inside
    x264 is not pinned down: this is a measured workaround, not a proof."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return None
    return "AVX2" if "avx512f" in flags and "avx2" in flags else None


_threads = min(2, os.cpu_count() or 1)
_QUEUE_FRAMES = 4  # frames made ahead of the encoder; a 4K frame is 25 MB
_POLL_S = 0.1


def use_threads(count: int) -> None:
    """How many threads clip work may keep busy in this process.  With two or more,
    `write_clip` encodes on a thread of its own while the caller makes the next
    frames, and decoders slice their work across threads; with one, everything
    runs on the caller's thread (a Ray worker that reserved one CPU keeps to it).
    The bytes written are the same either way."""
    global _threads
    _threads = max(1, int(count))


def write_clip(
    path: Path,
    frames: Iterable[Frame],
    fps: Fraction,
    codec: VideoCodec = INTERMEDIATE,
    keyframes: Collection[int] = (),
    color: ColorSpace | None = None,
) -> int:
    """Encode `frames` to `path`; returns how many were written.

    The size comes from the first frame, and so does the colour space unless
    `color` is given (`color_space_for`): RGB frames are converted with its
    matrix and the file is tagged with it.  Encoding is deterministic (same
    frames, same bytes), which the cache and resumable compiles rely on.
    The frames numbered in `keyframes` are coded as keyframes, so that a
    reader wanting only those seeks to each and decodes nothing else
    (`consistency.sampled_frames`).
    A frame is coded while the next ones are made (`use_threads`): the
    caller must not change a frame once it has handed it over.
    """
    with av.open(str(path), "w", options={"fflags": "+bitexact"}) as container:
        encoder = _Encoder(container, codec, fps, keyframes, color)
        if _threads >= 2:
            _encode_behind(encoder, frames)
        else:
            for frame in frames:
                encoder.add(frame)
        encoder.finish()
    return encoder.count


class _Encoder:
    """One clip's video stream, fed a frame at a time."""

    def __init__(
        self,
        container,
        codec: VideoCodec,
        fps: Fraction,
        keyframes: Collection[int],
        color: ColorSpace | None,
    ):
        self.container, self.codec, self.fps, self.keyframes = container, codec, fps, keyframes
        self.asked = color
        # Both made with the first frame, which gives the size (and with it the
        # colour space when none was asked for); read only once it has come.
        self.stream: Any = None
        self.color: ColorSpace
        self.count = 0

    def add(self, frame: Frame) -> None:
        if self.stream is None:
            height, width = frame.shape[:2]
            self.color = self.asked or color_space_for(width, height)
            self.stream = _add_stream(self.container, self.codec, self.fps, width, height)
            if self.codec.pix_fmt != "rgb24":
                _tag(self.stream.codec_context, self.color)
        if isinstance(frame, PlanarFrame):
            video = av.VideoFrame.from_ndarray(frame.planes, format="yuv420p")
            if self.codec.pix_fmt == "yuv420p" and frame.matrix == self.color.matrix:
                self._encode(video)
                return
            # Another layout (prores' 4:2:2, png's RGB) or another matrix: through
            # RGB, which keeps more of the colour than swscale's own 4:2:0 to 4:2:2.
            frame = _planar_to_rgb(video, frame.matrix)
        video = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        # Converted here, not by the encoder: the conversion PyAV does inside
        # encode() leaves row padding uninitialised at some widths (96x54: the
        # chroma rows), and x264 read it, so the first clip a process encoded
        # could differ from the next.  A plain reformat gives tight planes.
        # The matrix is named: swscale's default is BT.601 whatever the size.
        self._encode(
            video.reformat(
                format=self.codec.pix_fmt,
                dst_colorspace=self.color.matrix,
                dst_color_range=LIMITED_RANGE,
                threads=SWSCALE_THREADS,
            )
        )

    def _encode(self, video: av.VideoFrame) -> None:
        video.pts = self.count
        if self.codec.pix_fmt != "rgb24":  # prores_ks reads the tags off each frame
            _tag(video, self.color)
        if self.count in self.keyframes:
            video.pict_type = av.video.frame.PictureType.I
        for packet in self.stream.encode(video):
            self.container.mux(packet)
        self.count += 1

    def finish(self) -> None:
        if self.stream is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)


def _encode_behind(encoder: _Encoder, frames: Iterable[Frame]) -> None:
    """Feed `encoder` on a thread of its own while this thread makes the frames.

    PyAV lets go of the GIL while it converts and encodes, so drawing (or
    decoding) the next frames and encoding the last ones overlap.  An error on
    either side stops both and is raised here as it was raised (a full disk
    stays an OSError with its errno)."""
    pending: queue.Queue = queue.Queue(maxsize=_QUEUE_FRAMES)
    stop, finished = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def work() -> None:
        try:
            while (frame := pending.get()) is not None and not stop.is_set():
                encoder.add(frame)
        except BaseException as error:  # handed to the caller's thread
            failure.append(error)
            stop.set()
        finally:
            finished.set()

    worker = threading.Thread(target=work, name="clip-encoder", daemon=True)
    worker.start()
    try:
        for frame in frames:
            while not _offer(pending, frame) and not stop.is_set():
                pass
            if stop.is_set():
                break
    except BaseException:
        stop.set()  # the frames' maker failed (or Ctrl-C): the encoder need not finish
        raise
    finally:
        _wait_for(finished, pending, stop)
        worker.join()
    if failure:
        raise failure[0]


def _wait_for(finished: threading.Event, pending: queue.Queue, stop: threading.Event) -> None:
    """Return once the encoder thread has stopped coding.

    The caller closes the container next, and closing it under an encoder still
    coding a frame crashes the process (SIGSEGV).  So a Ctrl-C that lands while
    waiting here stops the encoder early and is raised again once it is done.
    The wait is on an event of our own: on Python 3.11 a Thread.join() cut short
    by Ctrl-C can mark a running thread as ended."""
    interrupted = handed_the_end = False
    while not finished.is_set():
        try:
            handed_the_end = handed_the_end or _offer(pending, None)
            if handed_the_end:
                finished.wait()
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
    if interrupted:
        raise KeyboardInterrupt


def _offer(pending: queue.Queue, item) -> bool:
    try:
        pending.put(item, timeout=_POLL_S)
    except queue.Full:
        return False
    return True


def _add_stream(container, codec: VideoCodec, fps: Fraction, width: int, height: int):
    stream = container.add_stream(codec.name, rate=fps)
    stream.width, stream.height = width, height
    stream.pix_fmt = codec.pix_fmt
    stream.time_base = 1 / fps
    stream.codec_context.time_base = 1 / fps
    stream.options = dict(codec.options)
    stream.codec_context.flags |= av.codec.context.Flags.bitexact
    if codec.name == "libx264":
        stream.options["threads"] = X264_THREADS
        if asm := x264_asm():
            stream.options["x264-params"] = f"asm={asm}"
    return stream


def _tag(context, color: ColorSpace) -> None:
    """What the codec writes into its headers (H.264 VUI, VP9's colour space,
    ProRes' frame header) and the muxer into the container: a codec context's
    settings, or a frame's."""
    context.color_primaries = color.primaries
    context.color_trc = color.transfer
    context.colorspace = color.space
    context.color_range = LIMITED_RANGE


def configure_decoder(stream) -> None:
    """Decode on as many threads as clip work may use here (decoded frames are
    the same whatever the count)."""
    if _threads >= 2:
        stream.thread_type = "AUTO"
    else:
        stream.codec_context.thread_count = 1


def frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as HxWx3 uint8 RGB, converted the same way every time, with
    the matrix the frame was coded with (`decoded_matrix`)."""
    return _planar_to_rgb(frame, decoded_matrix(frame), frame.color_range or LIMITED_RANGE)


def _planar_to_rgb(frame: av.VideoFrame, matrix: str, color_range: int = LIMITED_RANGE):
    """RGB from YUV made with `matrix` in `color_range` (both ignored for RGB sources)."""
    rgb = frame.reformat(
        format="rgb24", src_colorspace=matrix, src_color_range=color_range, threads=SWSCALE_THREADS
    )
    return rgb.to_ndarray()


def read_frames(path: Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Frames `start` to `stop` (exclusive) of a clip, decoded one at a time."""
    return map(frame_to_rgb, _decoded(path, start, stop))


def read_planar(path: Path, start: int = 0, stop: int | None = None) -> Iterator[Frame]:
    """Like `read_frames`, but yuv420p frames (every clip the runtime codes for
    itself) come as they were decoded, for `write_clip` to code again in yuv420p
    without a detour through RGB (in another codec's layout they go through RGB
    there, exactly as `read_frames` would have given them); frames of other
    formats (or odd sizes) come as RGB."""
    for frame in _decoded(path, start, stop):
        planar = (
            frame.format.name == "yuv420p"
            and frame.color_range != FULL_RANGE
            and not (frame.width | frame.height) & 1
        )
        yield (
            PlanarFrame(frame.to_ndarray(), decoded_matrix(frame))
            if planar
            else frame_to_rgb(frame)
        )


def _decoded(path: Path, start: int, stop: int | None) -> Iterator[av.VideoFrame]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        configure_decoder(stream)
        for index, frame in enumerate(container.decode(stream)):
            if stop is not None and index >= stop:
                break
            if index >= start:
                yield frame


def count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.frames:
            return stream.frames
        return sum(1 for _ in container.demux(stream) if _.size)


def last_frame(path: Path) -> np.ndarray:
    frame = None
    for frame in read_frames(path):  # noqa: B007 - the loop is how we reach the end
        pass
    if frame is None:
        raise ValueError(f"{path} has no frames")
    return frame
