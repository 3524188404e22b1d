"""Reference media for the diagnostics cases and the fuzz test, made at test time.

No binary is committed: every image, sound and clip the cases in
`tests/check_cases/` name is written here, deterministically, once per session,
and copied into each case's temporary folder.
"""

from __future__ import annotations

import random
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

RATE = 48000


def _image(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    Image.new("RGB", size, colour).save(path)


def _tone(path: Path, seconds: float, fmt: str | None = None) -> None:
    samples = round(seconds * RATE)
    tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / RATE)
    soundfile.write(path, tone.astype(np.float32), RATE, format=fmt)


def _clip(path: Path, frames: int = 24, size: int = 64) -> None:
    """A tiny H.264 clip of `frames` frames at 24 fps."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            pixels = np.full((size, size, 3), index * 8 % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def huge_png(path: Path, width: int, height: int) -> Path:
    """A real, valid grey RGB PNG of any size, written row by row: a few MB of memory
    and a few hundred kB of file for an image that takes gigabytes to decode."""
    row = b"\x00" + b"\x80" * (3 * width)  # filter byte "none", then the pixels
    packer = zlib.compressobj(9)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        _chunk(out, b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        for _ in range(height):
            if data := packer.compress(row):
                _chunk(out, b"IDAT", data)
        _chunk(out, b"IDAT", packer.flush())
        _chunk(out, b"IEND", b"")
    return path


def _chunk(out, kind: bytes, data: bytes) -> None:
    out.write(struct.pack(">I", len(data)) + kind + data)
    out.write(struct.pack(">I", zlib.crc32(kind + data)))


def write_refs(folder: Path) -> Path:
    """Write every reference file the cases use into `folder/refs`; returns that folder."""
    refs = folder / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    # images: 640x360 is exactly half a 1280x720 frame's short side, so no warning
    _image(refs / "face.png", (640, 360), (200, 120, 90))
    _image(refs / "profile.png", (640, 360), (180, 110, 80))
    _image(refs / "room.png", (640, 360), (40, 60, 90))
    for index in range(1, 11):
        _image(refs / f"still_{index}.png", (640, 360), (index * 20, 40, 80))
    _image(refs / "small.png", (64, 64), (10, 200, 10))
    huge_png(refs / "huge.png", 9000, 9000)  # 81 megapixels: past the limit of 64
    # sounds: exactly 2.0 s at 48 kHz
    _tone(refs / "tone_2s.wav", 2.0)
    for index in range(1, 5):
        shutil.copy(refs / "tone_2s.wav", refs / f"sound_{index}.wav")
    # clips: one second of 64x64 H.264
    _clip(refs / "clip.mp4")
    for index in range(1, 5):
        shutil.copy(refs / "clip.mp4", refs / f"clip_{index}.mp4")
    # files that claim a kind and are not
    noise = random.Random(1234)
    (refs / "garbage.png").write_bytes(bytes(noise.randrange(256) for _ in range(2048)))
    (refs / "garbage.wav").write_bytes(bytes(noise.randrange(256) for _ in range(2048)))
    (refs / "garbage.mp4").write_bytes(bytes(noise.randrange(256) for _ in range(2048)))
    # the files LANGUAGE.md's example script names
    _image(refs / "mara_front.png", (640, 360), (150, 150, 150))
    _image(refs / "mara_profile.png", (640, 360), (140, 140, 140))
    _image(refs / "tom.png", (640, 360), (200, 30, 30))
    _image(refs / "lamp_room.png", (1280, 720), (90, 80, 20))
    _image(refs / "storyboard_03.png", (1280, 720), (255, 255, 255))
    _tone(refs / "storm_loop.wav", 8.0)
    _tone(refs / "theme.ogg", 6.0, fmt="OGG")
    _clip(refs / "waves.mp4", frames=48)
    return refs


def copy_refs(source: Path, project: Path) -> None:
    """Copy a folder made by `write_refs` into a project folder."""
    shutil.copytree(source, project / "refs", dirs_exist_ok=True)
