"""Probing the media files a script names: kind, size or length, content hash.

Part of the check stage: the checker needs to know how long a music file is
and how big a reference image is before it can judge the script, and the
planner keys its cache on the file's content rather than its name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

KIND_BY_SUFFIX = {
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"), "image"),
    **dict.fromkeys((".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".aac", ".opus"), "audio"),
    **dict.fromkeys((".mp4", ".mov", ".webm", ".mkv", ".m4v", ".avi"), "video"),
}


class UnreadableMedia(Exception):
    """The file exists but cannot be read as the kind it claims to be."""


class ImageTooLarge(UnreadableMedia):
    """An image with more pixels than `MAX_IMAGE_PIXELS`, found from its header alone."""


MAX_IMAGE_PIXELS = 64_000_000
"""The most pixels a reference image may have (a 61 MP camera's, 8K's 33): decoding
one costs 3-4 bytes a pixel before it can be scaled down."""


@dataclass(frozen=True)
class MediaInfo:
    kind: str
    sha256: str
    width: int | None = None
    height: int | None = None
    seconds: float | None = None


def kind_of(path: str) -> str | None:
    return KIND_BY_SUFFIX.get(Path(path).suffix.lower())


def probe(path: Path, kind: str) -> MediaInfo:
    """Read just enough of `path` to know its size or length; raises UnreadableMedia."""
    stat = path.stat()
    return _probe_cached(path, kind, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4096)
def _probe_cached(path: Path, kind: str, _mtime_ns: int, _size: int) -> MediaInfo:
    # mtime and size are part of the key so an edited file is probed again.
    digest = _sha256(path)
    try:
        if kind == "image":
            return MediaInfo(kind, digest, *_image_size(path))
        if kind == "audio":
            return MediaInfo(kind, digest, seconds=_audio_seconds(path))
        return MediaInfo(kind, digest, *_video_size_and_seconds(path))
    except UnreadableMedia:
        raise
    except Exception as error:  # each decoder raises its own types
        raise UnreadableMedia(str(error)) from None


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        _check_pixels(path, *image.size)
        return image.size


def _check_pixels(path: Path, width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageTooLarge(
            f"{path.name} is {width}x{height}, {width * height / 1e6:.0f} megapixels; "
            f"a reference may have at most {MAX_IMAGE_PIXELS / 1e6:.0f}"
        )


def open_image(path: Path, max_side: int):
    """An image decoded at no more than `max_side` pixels on its long side, in its
    own mode; the pixel count is checked from the header before anything is decoded
    (raises ImageTooLarge), and a JPEG is decoded already reduced."""
    from PIL import Image

    with Image.open(path) as image:
        _check_pixels(path, *image.size)
        image.draft(image.mode, (max_side, max_side))  # JPEG only: scale while decoding
        image.load()
        if max(image.size) > max_side:
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            return image
        return image.copy()


def _audio_seconds(path: Path) -> float:
    import soundfile

    try:
        info = soundfile.info(str(path))
        return info.frames / info.samplerate
    except Exception:
        return _container_seconds(path, "audio")  # mp3, m4a: through FFmpeg


def _video_size_and_seconds(path: Path) -> tuple[int, int, float]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise UnreadableMedia("it has no video stream")
        stream = container.streams.video[0]
        return stream.width, stream.height, _seconds(container, stream)


def _container_seconds(path: Path, kind: str) -> float:
    import av

    with av.open(str(path)) as container:
        streams = container.streams.audio if kind == "audio" else container.streams.video
        if not streams:
            raise UnreadableMedia(f"it has no {kind} stream")
        return _seconds(container, streams[0])


def _seconds(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    raise UnreadableMedia("its length is not recorded")
