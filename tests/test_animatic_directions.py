"""The animatic follows the directions a viewer checks: a `continuous` shot opens on the
previous shot's last frame, an over-the-shoulder pair keeps screen direction, close-ups
keep the chin and the mouth clear of subtitles, and `angle:` and `lens:` change the
framing.  Drawn by the preview backend (some compiled end to end, decoded) and read on
pixels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

CONTINUOUS = """
title: Join
format: 320x180 @ 24fps
location DOCK
  description: a dock at dusk
  ref: refs/dock.png

EXT. DOCK - DUSK

SHOT 1 WIDE 1s
  camera: pan right 40deg
  The water is still.

SHOT 2 WIDE 1s continuous
  camera: static
  The water is still.
"""


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def compile_film(project, text: str) -> list[np.ndarray]:
    return decode(project.compile_film(text))


def dock_plate(folder: Path) -> None:
    """A plate whose every part differs: a gradient with a bright square left of centre."""
    x, y = np.meshgrid(np.linspace(0, 1, 640), np.linspace(0, 1, 360))
    pixels = np.stack([40 + 180 * x, 50 + 120 * y, 90 + 0 * x], axis=2).astype(np.uint8)
    plate = Image.fromarray(pixels)
    ImageDraw.Draw(plate).rectangle((250, 140, 300, 190), fill=(255, 255, 0))
    plate.save(folder / "dock.png")


def picture_only(frame: np.ndarray) -> np.ndarray:
    """The frame without the burn-in's corners (shot id, timecode)."""
    return frame[30:150, 20:300].astype(int)


def test_a_continuous_shot_opens_on_the_previous_shots_last_frame(project):
    dock_plate(project.root / "refs")
    frames = compile_film(project, CONTINUOUS)
    assert len(frames) == 48
    last, first = picture_only(frames[23]), picture_only(frames[24])
    assert np.abs(last - first).mean() < 3  # the same picture, through the codec twice
    # The location's own picture at rest (a hard cut) is far from it: the pan moved it.
    rest = frames[0]
    assert np.abs(picture_only(rest) - first).mean() > 15


# -- over the shoulder, and the 180° rule ------------------------------------------------------

W, H = 320, 180


def figure(folder: Path, name: str, colour: tuple[int, int, int]) -> Path:
    """A figure in `colour` on flat green (keyed out): a head and a body."""
    picture = Image.new("RGB", (200, 400), (0, 200, 0))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((60, 30, 140, 110), fill=colour)
    draw.rectangle((50, 120, 150, 400), fill=colour)
    path = folder / f"{name}.png"
    picture.save(path)
    return path


def shot(tmp_path: Path, size: str, names: list[str]) -> np.ndarray:
    from backends.base import CharacterRefs, ShotRequest
    from backends.preview import PreviewBackend

    pictures = {"MARA": (220, 30, 30), "ELI": (30, 60, 220)}
    x, y = np.meshgrid(np.linspace(0, 1, 640), np.linspace(0, 1, 360))
    plate = np.stack([120 + 60 * x, 130 + 40 * y, 140 + 0 * x], axis=2).astype(np.uint8)
    Image.fromarray(plate).save(tmp_path / "room.png")
    characters = tuple(CharacterRefs(n, (figure(tmp_path, n.lower(), pictures[n]),)) for n in names)
    request = ShotRequest(
        shot_id="1", size=size, prompt="1", negative="", seed=1, width=W, height=H,
        fps=24.0, frames=1, plate=tmp_path / "room.png", characters=characters,
    )  # fmt: skip
    return next(iter(PreviewBackend(burn_in=False).generate(request).frames))


def where(frame: np.ndarray, colour: str) -> tuple[float, float]:
    """(share of the frame, mean x as a share of the width) of a colour's pixels."""
    r, g, b = (frame[:, :, i].astype(int) for i in range(3))
    mask = {
        "red": (r > 150) & (g < 90) & (b < 90),
        "blue": (b > 150) & (r < 90) & (g < 120),
        "dark": (r < 45) & (g < 45) & (b < 50),
    }[colour]
    ys, xs = np.nonzero(mask)
    return mask.mean(), (xs.mean() / W if xs.size else float("nan"))


def test_over_the_shoulder_frames_past_a_dark_near_shoulder(tmp_path):
    frame = shot(tmp_path, "OVER-THE-SHOULDER", ["MARA", "ELI"])
    red, red_x = where(frame, "red")
    dark, dark_x = where(frame, "dark")
    assert where(frame, "blue")[0] == 0  # ELI has their back to us: a shape, no face
    assert dark > 0.05 and red > 0.03  # a large near shoulder, MARA seen beyond it
    assert dark_x < 0.3 and red_x > 0.55  # on opposite sides
    # The shoulder is cut by the frame's edge and the bottom: it is close to the camera.
    ys, xs = np.nonzero((frame.astype(int) < 45).all(axis=2))
    assert xs.min() == 0 and ys.max() == H - 1


def test_an_over_the_shoulder_pair_keeps_screen_direction(tmp_path):
    """Shot and reverse shot: MARA stays right and ELI left, whoever faces the camera."""
    on_mara = shot(tmp_path, "OVER-THE-SHOULDER", ["MARA", "ELI"])
    on_eli = shot(tmp_path, "OVER-THE-SHOULDER", ["ELI", "MARA"])
    assert where(on_mara, "red")[1] > 0.55 and where(on_mara, "dark")[1] < 0.45
    assert where(on_eli, "blue")[1] < 0.45 and where(on_eli, "dark")[1] > 0.55
    assert where(on_eli, "red")[0] == 0
    # A two-shot naming them in either order keeps the same sides.
    for names in (["MARA", "ELI"], ["ELI", "MARA"]):
        frame = shot(tmp_path, "TWO-SHOT", names)
        assert where(frame, "blue")[1] < 0.5 < where(frame, "red")[1]


# -- close-ups: the chin in frame, the mouth clear of the subtitles ----------------------------

MOUTH, CHIN = (250, 0, 250), (0, 250, 250)
LONG_LINE = "Another night, old friend, and the sea is loud again tonight, the whole long night."


def faces(folder: Path) -> dict[str, Path]:
    """Three kinds of character picture, each with a magenta mouth and a cyan chin:
    a whole figure and a head-and-shoulders bust on flat green (keyed), and an opaque
    portrait photograph on a busy background."""
    whole = Image.new("RGB", (200, 600), (0, 200, 0))
    draw = ImageDraw.Draw(whole)
    draw.ellipse((60, 20, 140, 120), fill=(230, 180, 150))
    draw.rectangle((85, 95, 115, 102), fill=MOUTH)
    draw.rectangle((80, 112, 120, 119), fill=CHIN)
    draw.rectangle((40, 125, 160, 600), fill=(60, 60, 160))
    bust = Image.new("RGB", (400, 500), (0, 200, 0))
    draw = ImageDraw.Draw(bust)
    draw.ellipse((120, 40, 280, 250), fill=(230, 180, 150))
    draw.rectangle((170, 195, 230, 210), fill=MOUTH)
    draw.rectangle((160, 235, 240, 248), fill=CHIN)
    draw.rectangle((60, 260, 340, 500), fill=(60, 60, 160))
    noise = np.random.default_rng(0).integers(0, 80, (800, 600, 3), dtype=np.uint8)
    photo = Image.fromarray(noise)
    draw = ImageDraw.Draw(photo)
    draw.ellipse((180, 130, 420, 480), fill=(230, 180, 150))
    draw.rectangle((250, 400, 350, 420), fill=MOUTH)
    draw.rectangle((240, 460, 360, 478), fill=CHIN)
    draw.rectangle((100, 480, 500, 800), fill=(60, 60, 160))
    paths = {}
    for name, picture in (("whole", whole), ("bust", bust), ("photo", photo)):
        paths[name] = folder / f"{name}.png"
        picture.save(paths[name])
    return paths


def quiet_and_spoken(folder: Path, kind: str, size: str) -> tuple[np.ndarray, np.ndarray]:
    """One frame of MARA (`kind` of picture) at shot `size`, without and with a long
    line subtitled: the same frame but for the subtitles."""
    from backends.base import CharacterRefs, ShotRequest
    from backends.preview import PreviewBackend

    said = {"speaker": "MARA", "text": LONG_LINE, "start": 0, "frames": 1}
    request = ShotRequest(
        shot_id="1", size=size, prompt="1", negative="", seed=1, width=W, height=H,
        fps=24.0, frames=1, characters=(CharacterRefs("MARA", (faces(folder)[kind],)),),
    )  # fmt: skip
    quiet = next(iter(PreviewBackend(burn_in=False).generate(request).frames))
    spoken = replace(request, dialogue=(said,))
    return quiet, next(iter(PreviewBackend(burn_in=False).generate(spoken).frames))


def rows_of(frame: np.ndarray, colour: tuple[int, int, int]) -> tuple[int, int] | None:
    near = np.abs(frame.astype(int) - np.array(colour)).max(axis=2) < 40
    ys = np.nonzero(near.any(axis=1))[0]
    return (int(ys.min()), int(ys.max())) if ys.size else None


@pytest.mark.parametrize("size", ["CLOSE-UP", "EXTREME CLOSE-UP"])
@pytest.mark.parametrize("kind", ["whole", "bust", "photo"])
def test_a_close_up_keeps_the_chin_and_the_subtitles_clear_of_the_mouth(tmp_path, kind, size):
    quiet, frame = quiet_and_spoken(tmp_path, kind, size)
    chin, mouth = rows_of(quiet, CHIN), rows_of(frame, MOUTH)
    assert chin is not None and chin[1] < H - 1  # the whole chin, above the frame's foot
    assert mouth is not None and rows_of(quiet, MOUTH) == mouth  # not covered
    subtitles = np.nonzero((frame != quiet).any(axis=2).any(axis=1))[0]
    assert subtitles.min() > mouth[1]  # the subtitles start below the mouth
    # A close-up is on the face: it is a large part of the frame.
    assert chin[0] > H * 0.5


@pytest.mark.parametrize("size", ["MEDIUM CLOSE-UP", "MEDIUM", "FULL"])
@pytest.mark.parametrize("kind", ["whole", "bust", "photo"])
def test_subtitles_leave_the_mouth_clear_in_wider_shots(tmp_path, kind, size):
    """Wider than a close-up the figure stands in the frame: a three-row subtitle still
    starts below the mouth, which it leaves as it was."""
    quiet, frame = quiet_and_spoken(tmp_path, kind, size)
    mouth = rows_of(quiet, MOUTH)
    assert mouth is not None and rows_of(frame, MOUTH) == mouth
    subtitles = np.nonzero((frame != quiet).any(axis=2).any(axis=1))[0]
    assert subtitles.min() > mouth[1]


# -- angle: and lens: -----------------------------------------------------------------------

SKY, GROUND, MARK = (90, 140, 220), (60, 120, 50), (255, 255, 0)


def horizon_plate(folder: Path) -> Path:
    """Sky over ground, the horizon across the middle, a yellow square on it."""
    plate = Image.new("RGB", (640, 360), SKY)
    draw = ImageDraw.Draw(plate)
    draw.rectangle((0, 180, 640, 360), fill=GROUND)
    draw.rectangle((300, 150, 340, 190), fill=MARK)
    path = folder / "horizon.png"
    plate.save(path)
    return path


def framed(tmp_path: Path, cast: bool = True, **framing) -> np.ndarray:
    """One frame: MARA (red, keyed) standing before the horizon plate, framed so."""
    from backends.base import CharacterRefs, ShotRequest
    from backends.preview import PreviewBackend

    mara = CharacterRefs("MARA", (figure(tmp_path, "mara", (220, 30, 30)),))
    request = ShotRequest(
        shot_id="1", size="FULL", prompt="1", negative="", seed=1, width=W, height=H,
        fps=24.0, frames=1, plate=horizon_plate(tmp_path), characters=(mara,) if cast else (),
        **framing,
    )  # fmt: skip
    return next(iter(PreviewBackend(burn_in=False).generate(request).frames))


def near(frame: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.abs(frame.astype(int) - np.array(colour)).max(axis=2) < 40


def horizon_row(frame: np.ndarray, column: int) -> float:
    """Where the sky meets the ground in one column: a share of the frame's height."""
    ground = np.nonzero(near(frame, GROUND)[:, column])[0]
    return (ground.min() if ground.size else H) / H


def red_box(frame: np.ndarray) -> tuple[int, int, int, int, float, float]:
    """MARA's rows and columns (top, foot, left, right), and her widths near the top
    and near the foot of her body."""
    red = near(frame, (220, 30, 30))
    ys, xs = np.nonzero(red)
    top, foot = int(ys.min()), int(ys.max())
    span = foot - top
    upper, lower = red[top + span // 3].sum(), red[foot - span // 10].sum()
    return top, foot, int(xs.min()), int(xs.max()), float(upper), float(lower)


def test_a_low_angle_drops_the_horizon_and_the_figure_looms(tmp_path):
    level = framed(tmp_path)
    low = framed(tmp_path, angle="low")
    assert abs(horizon_row(level, 5) - 0.5) < 0.03  # eye level: the horizon mid-frame
    assert horizon_row(low, 5) > 0.7  # looking up, the horizon falls low in the frame
    top, foot, *_, upper, lower = red_box(low)
    level_top, level_foot, *_, level_upper, level_lower = red_box(level)
    assert foot - top > 1.1 * (level_foot - level_top)  # taller
    assert top < level_top  # the head rises
    assert upper < 0.9 * lower and abs(level_upper - level_lower) <= 1  # narrowing upwards


def test_a_high_angle_raises_the_horizon_and_the_figure_shrinks(tmp_path):
    level = framed(tmp_path)
    high = framed(tmp_path, angle="high")
    overhead = framed(tmp_path, angle="overhead")
    assert horizon_row(high, 5) < 0.3  # looking down, the horizon climbs
    assert horizon_row(overhead, 5) == 0.0  # straight down: no sky at all
    top, foot, *_, upper, lower = red_box(high)
    level_top, level_foot, *_ = red_box(level)
    assert foot - top < 0.92 * (level_foot - level_top)  # smaller
    assert lower < 0.95 * upper  # narrowing to the feet
    o_top, o_foot, *_ = red_box(overhead)
    assert o_foot - o_top < 0.7 * (foot - top)  # foreshortened


def test_a_dutch_angle_tilts_the_picture(tmp_path):
    frame = framed(tmp_path, angle="dutch", angle_degrees=10.0)
    left, right = horizon_row(frame, 5), horizon_row(frame, W - 6)
    # Turned counter-clockwise: the horizon climbs to the right, by tan(10°) of the width.
    rise = (left - right) * H / (W - 11)
    assert abs(rise - np.tan(np.radians(10.0))) < 0.03
    back = framed(tmp_path, angle="dutch", angle_degrees=-10.0)
    assert horizon_row(back, 5) < horizon_row(back, W - 6)
    # No corner of the frame is left empty: every corner shows sky or ground.
    for y, x in ((0, 0), (0, W - 1), (H - 1, 0), (H - 1, W - 1)):
        assert near(frame, SKY)[y, x] or near(frame, GROUND)[y, x]


@pytest.mark.parametrize("lens", [50.0, 85.0, 200.0])
def test_a_longer_lens_frames_the_location_tighter(tmp_path, lens):
    """The subject keeps its shot size; the place behind it is magnified by the focal
    length over the location picture's (24mm), at most 4 times."""
    wide = framed(tmp_path, lens_mm=24.0)
    long = framed(tmp_path, lens_mm=lens)
    assert np.array_equal(wide, framed(tmp_path))  # 24mm shows the whole picture
    # The square (40 of the picture's 640 pixels, centred) grows with the focal length.
    for place, magnify in (
        (framed(tmp_path, False), 1),
        (framed(tmp_path, False, lens_mm=lens), min(4.0, lens / 24)),
    ):
        square = near(place, MARK)
        assert abs(square.any(axis=0).sum() - W * 40 / 640 * magnify) <= 2
        assert abs(square.any(axis=1).sum() - W * 40 / 640 * magnify) <= 2
    a, b = red_box(wide), red_box(long)
    assert abs((a[1] - a[0]) - (b[1] - b[0])) <= 1  # MARA is as tall


ANGLED = """
title: Angles
format: 320x180 @ 24fps
character MARA
  ref: refs/mara.png
location DOCK
  ref: refs/horizon.png

EXT. DOCK - DUSK

SHOT 1 FULL on MARA 1s
  MARA waits.

SHOT 2 FULL on MARA 1s
  angle: low
  lens: 50mm
  MARA waits.
"""


def test_angle_and_lens_reach_the_animatic_through_the_plan(project):
    refs = project.root / "refs"
    horizon_plate(refs)
    figure(refs, "mara", (220, 30, 30))
    frames = compile_film(project, ANGLED)
    assert len(frames) == 48
    level, low = frames[12], frames[36]
    assert abs(horizon_row(level, 5) - 0.5) < 0.04
    assert horizon_row(low, 5) > 0.7
    # Only a backend that draws them is asked: the plan of another keeps its bytes.
    preview = project.plan(ANGLED)
    ltx2 = project.plan(ANGLED, backend="ltx2")
    framing = {n.params.shot.id: n.params.shot.framing for n in _generates(preview)}
    assert framing["1"] is None and "framing" not in _direction_json(preview, "1")
    assert framing["2"] is not None and (framing["2"].angle, framing["2"].lens_mm) == ("low", 50)
    assert all(n.params.shot.framing is None for n in _generates(ltx2))


def _generates(plan):
    from director.plan_nodes import Generate

    return [n for n in plan.nodes if isinstance(n, Generate)]


def _direction_json(plan, shot_id: str) -> str:
    return next(n for n in _generates(plan) if n.params.shot.id == shot_id).model_dump_json()
