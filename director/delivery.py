"""Delivery: the film file as it is handed over, from the plan's picture and mix.

The plan's `mux` node makes the film as the cut and the mix made it.  What
only concerns the copy handed to someone (its loudness target, the record
timecode its timecode track starts at, an odd colour space, its chapters and
title) is settled here, after the run, so none of it enters the plan or its
node hashes.  The slow part (`prepare`: loudness, the sound's coding, a
recoloured picture) is kept in the cache under a key of its own (`key`);
the film is then muxed from it in seconds (`deliver`).  docs/assembly.md
says what each setting does.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from . import assemble, burn_in, loudness
from .cache import Entry
from .clips import COLOR_SPACES, DELIVERY, ColorSpace, read_frames, write_clip
from .plan import Plan
from .timecode import Timecode

COLOR_CHOICES = ("auto", *COLOR_SPACES)
VERSION = 1  # part of the cache key of what `prepare` makes: bump when that changes


@dataclass(frozen=True)
class Delivery:
    """The settings of the delivered copy (the CLI's --loudness, --start-timecode,
    --color-space, --burn-in)."""

    timecode: Timecode
    loudness: float | None = -14.0  # LUFS; None: the mix as made (still true-peak limited)
    color_space: str = "auto"  # or a name in clips.COLOR_SPACES
    burn_in: tuple[str, ...] = ()  # of burn_in.KINDS: "timecode", the record timecode


@dataclass(frozen=True)
class Delivered:
    """What delivering measured and wrote."""

    film: Path
    sound: dict  # loudness.Normalised.as_dict(): target, the mix as made, gain, result


def key(picture_hash: str, mix_hash: str, codec: str, settings: Delivery) -> str:
    """The cache key of what `prepare` makes: the picture and mix nodes it starts from,
    the codec, and the settings it depends on (the timecode only with a burn-in: without
    one only the mux uses it, and the keys of deliveries without one stay as they were)."""
    fields = ["delivery", VERSION, picture_hash, mix_hash, codec, settings.loudness,
              settings.color_space]  # fmt: skip
    if settings.burn_in:
        fields += [list(settings.burn_in), settings.timecode.label(0)]
    payload = json.dumps(fields, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def prepare(
    picture: Path,
    mix_folder: Path,
    codec: str,
    settings: Delivery,
    fps: Fraction,
    folder: Path,
    scratch: Path,
) -> dict:
    """Make the slow part of a delivery into `folder` (a cache entry's): the mix brought
    to the loudness target under the true-peak ceiling and coded for the film, and the
    picture coded again when another colour space is asked for.  The float master is
    made in `scratch` and kept only for PNG (whose folder's audio.wav comes from it).
    Returns the entry's meta: `sound` (the measurements), then `coded` (the sound
    coded for the film) or, for PNG, `audio` (the master wav), and `picture` (the
    picture coded again: recoloured, or with a burn-in) when one was made."""
    scratch.mkdir(parents=True, exist_ok=True)
    master = (folder if codec == "png" else scratch) / "master.wav"
    sound = loudness.normalise(mix_sources(mix_folder), settings.loudness, master)
    meta: dict = {"sound": sound.as_dict()}
    if codec == "png":
        meta["audio"] = master.name
    else:
        coded = folder / f"sound{DELIVERY[codec].suffix}"
        assemble.encode_sound(master, coded, codec)
        meta["coded"] = coded.name
        master.unlink()
    coded_again = _delivered_picture(picture, settings, fps, codec, folder)
    if coded_again != picture:
        meta["picture"] = coded_again.name
    return meta


def deliver(
    plan: Plan, picture: Path, prepared: Entry, codec: str, settings: Delivery, work: Path
) -> Delivered:
    """Write the delivered film into the folder `work` (as `film<suffix>`, or the
    folder `film` for PNG) from the picture and what `prepare` made: packets copied,
    with chapters per scene, the title and the timecode track."""
    work.mkdir(parents=True, exist_ok=True)
    meta = prepared.meta
    if "picture" in meta:
        picture = prepared.file(meta["picture"])
    coded = prepared.file(meta["coded"]) if "coded" in meta else None
    film = work / ("film" if codec == "png" else f"film{DELIVERY[codec].suffix}")
    tags = assemble.FilmTags(
        fps=Fraction(plan.fps_num, plan.fps_den),
        title=plan.title,
        timecode=settings.timecode.label(0),
        chapters=chapters(plan),
    )
    master = prepared.file(meta.get("audio", "master.wav"))  # read only when coded is None
    assemble.mux(picture, master, coded, film, codec, tags)
    return Delivered(film, meta["sound"])


def mix_sources(mix_folder: Path) -> list[Path]:
    """The wavs whose sum is the mix before its limiter: the stems (the mix node
    keeps them), or the master itself where they are missing."""
    stems = [mix_folder / "stems" / f"{name}.wav" for name in assemble.STEMS]
    if all(path.is_file() for path in stems):
        return stems
    return [mix_folder / "mix.wav"]


def write_stems(mix_folder: Path, sound: dict, folder: Path) -> list[Path]:
    """The stems brought along with the master (the same gain, so they still sum to
    it before its limiter), and `loudness.json` with each one's measurement and
    the master's."""
    folder.mkdir(parents=True, exist_ok=True)
    report = {"master": sound, "stems": {}}
    written = []
    for name in assemble.STEMS:
        source = mix_folder / "stems" / f"{name}.wav"
        if not source.is_file():
            continue
        target = folder / f"{name}.wav"
        loudness.scale(source, sound["gain_db"], target)
        report["stems"][name] = loudness.measure([target]).as_dict()
        written.append(target)
    (folder / "loudness.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return written


def chapters(plan: Plan) -> tuple[assemble.Chapter, ...]:
    """One chapter per scene, from its first shot's first frame in the cut to the next
    scene's."""
    starts: dict[int, int] = {}
    for shot in plan.timeline.shots:
        starts.setdefault(shot.scene, shot.start)
    ordered = sorted(starts.items(), key=lambda item: item[1])
    ends = [start for _, start in ordered[1:]] + [plan.timeline.frames]
    return tuple(
        assemble.Chapter(start, end, f"Scene {scene + 1}")
        for (scene, start), end in zip(ordered, ends, strict=True)
        if end > start
    )


def _delivered_picture(
    picture: Path, settings: Delivery, fps: Fraction, codec: str, work: Path
) -> Path:
    """The picture, or a copy coded again: in another colour space than it was coded
    in, or with the burn-ins drawn over the cut."""
    color = _other_color_space(picture, settings.color_space, codec)
    if color is None and not settings.burn_in:
        return picture
    frames = read_frames(picture)
    if "timecode" in settings.burn_in:
        frames = burn_in.record_timecode(frames, settings.timecode)
    target = work / f"picture{DELIVERY[codec].suffix}"
    write_clip(target, frames, fps, DELIVERY[codec], color=color)  # None: as for its size
    return target


def _other_color_space(picture: Path, name: str, codec: str) -> ColorSpace | None:
    """The colour space `name` when the picture is coded in another one (the plan's
    pieces use the one for their size); None when it is already, or for PNG (RGB)."""
    if name == "auto" or codec == "png":
        return None
    wanted = COLOR_SPACES[name]
    with av.open(str(picture)) as container:
        coded_space = container.streams.video[0].codec_context.colorspace
    return None if coded_space == wanted.space else wanted


def remove(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)


__all__ = [
    "COLOR_CHOICES",
    "Delivered",
    "Delivery",
    "chapters",
    "deliver",
    "key",
    "mix_sources",
    "prepare",
    "remove",
    "write_stems",
]
