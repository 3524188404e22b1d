"""Clips on disk: encoding frames to video files and reading them back, with PyAV.

Every picture the runtime caches is a clip: generated shots, conformed
takes, segments of the cut, transitions.  Frames are HxWx3 uint8 RGB arrays
and move through as iterators, one at a time, so memory does not grow with
a clip's length.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class VideoCodec:
    """How a clip is encoded: PyAV codec name, pixel format, options, file suffix."""

    name: str
    pix_fmt: str
    options: tuple[tuple[str, str], ...]
    suffix: str


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


def write_clip(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: Fraction,
    codec: VideoCodec = INTERMEDIATE,
    keyframes: Collection[int] = (),
) -> int:
    """Encode `frames` to `path`; returns how many were written.

    The size comes from the first frame.  Encoding is deterministic (same
    frames, same bytes), which the cache and resumable compiles rely on.
    The frames numbered in `keyframes` are coded as keyframes, so that a
    reader wanting only those decodes nothing else (`read_keyframes`).
    """
    count = 0
    with av.open(str(path), "w", options={"fflags": "+bitexact"}) as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = _add_stream(container, codec, fps, frame.shape[1], frame.shape[0])
            video = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            # Converted here, not by the encoder: the conversion PyAV does inside
            # encode() leaves row padding uninitialised at some widths (96x54: the
            # chroma rows), and x264 read it, so the first clip a process encoded
            # could differ from the next.  A plain reformat gives tight planes.
            video = video.reformat(format=codec.pix_fmt, threads=SWSCALE_THREADS)
            video.pts = count
            if count in keyframes:
                video.pict_type = av.video.frame.PictureType.I
            for packet in stream.encode(video):
                container.mux(packet)
            count += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return count


def _add_stream(container, codec: VideoCodec, fps: Fraction, width: int, height: int):
    stream = container.add_stream(codec.name, rate=fps)
    stream.width, stream.height = width, height
    stream.pix_fmt = codec.pix_fmt
    stream.time_base = 1 / fps
    stream.codec_context.time_base = 1 / fps
    stream.options = dict(codec.options)
    stream.codec_context.flags |= av.codec.context.Flags.bitexact
    if codec.name == "libx264":
        stream.options["threads"] = "2"
    return stream


def frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as HxWx3 uint8 RGB, converted the same way every time."""
    return frame.to_ndarray(format="rgb24", threads=SWSCALE_THREADS)


def read_frames(path: Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Frames `start` to `stop` (exclusive) of a clip, decoded one at a time."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if stop is not None and index >= stop:
                break
            if index >= start:
                yield frame_to_rgb(frame)


def decode_keyframes(container, wanted: Collection[int]) -> dict[int, np.ndarray]:
    """From an open clip, the frames numbered in `wanted` that it holds as
    keyframes, decoding keyframes only: a few milliseconds each instead of
    every frame up to them."""
    found: dict[int, np.ndarray] = {}
    stream = container.streams.video[0]
    rate, base = stream.average_rate, stream.time_base
    if not rate or not base:
        return found
    stream.codec_context.skip_frame = "NONKEY"
    for frame in container.decode(stream):
        index = None if frame.pts is None else round(frame.pts * base * rate)
        if index in wanted:
            found[index] = frame_to_rgb(frame)
            if len(found) == len(wanted):
                break
    return found


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
