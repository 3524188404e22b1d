"""The preview backend's animatic: real rendering of small shots, measured.

Screen directions are the viewer's; y grows downwards.  See docs/preview.md
for the camera convention these tests pin down.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from backends.animatic import BurnIn, camera_poses
from backends.base import CharacterRefs, GeneratedShot, ShotRequest
from backends.preview import PreviewBackend
from director.clips import read_frames, write_clip
from director.source import Span
from director.spec import CameraMove

W, H = 160, 90
SPAN = Span(file="test.shot", line=1, column=1, end_line=1, end_column=1)


def move(kind: str, start: int = 0, frames: int = 24, **fields) -> CameraMove:
    return CameraMove(move=kind, start=start, frames=frames, span=SPAN, **fields)


def request(**fields) -> ShotRequest:
    values = dict(
        shot_id="1A",
        size="WIDE",
        prompt="1A · wide shot on Mara\n\nMARA polishes the great brass lens.",
        negative="",
        seed=7,
        width=W,
        height=H,
        fps=24.0,
        frames=24,
    )
    values.update(fields)
    return ShotRequest(**values)


def render(burn_in: bool = False, **fields) -> list[np.ndarray]:
    shot = PreviewBackend(burn_in=burn_in).generate(request(**fields))
    return list(shot.frames)


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("refs")
    # A dark graded location with one yellow square, up and left of centre.
    x, y = np.meshgrid(np.linspace(0, 1, 800), np.linspace(0, 1, 450))
    pixels = np.stack([30 + 50 * x, 40 + 40 * y, 52 + 0 * x], axis=2).astype(np.uint8)
    plate = Image.fromarray(pixels)
    ImageDraw.Draw(plate).rectangle((330, 160, 370, 200), fill=(255, 255, 0))
    plate.save(folder / "plate.png")
    # A character: a red figure on a flat green background (keyed out).
    figure = Image.new("RGB", (200, 400), (0, 200, 0))
    draw = ImageDraw.Draw(figure)
    draw.ellipse((60, 30, 140, 110), fill=(220, 30, 30))
    draw.rectangle((50, 120, 150, 400), fill=(220, 30, 30))
    figure.save(folder / "mara.png")
    # A second character: blue, on a busy background (kept on a card).
    rng = np.random.default_rng(1)
    busy = rng.integers(0, 60, (300, 200, 3), dtype=np.uint8)
    busy[:, :, 2] = 230
    Image.fromarray(busy).save(folder / "tom.png")
    (folder / "broken.png").write_bytes(b"not a png")
    return {p.stem: p for p in folder.iterdir()}


def mask_yellow(frame: np.ndarray) -> np.ndarray:
    r, g, b = (frame[:, :, i].astype(int) for i in range(3))
    return (r > 180) & (g > 180) & (b < 90)


def mask_red(frame: np.ndarray) -> np.ndarray:
    r, g, b = (frame[:, :, i].astype(int) for i in range(3))
    return (r > 150) & (g < 90) & (b < 90)


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    assert xs.size, "the feature is not in the frame"
    return np.array([xs.mean(), ys.mean()])


def shift(frames: list[np.ndarray], mask, a: int = 0, b: int = -1) -> np.ndarray:
    """How far a feature moved between frames a and b: (dx, dy) in pixels."""
    return centroid(mask(frames[b])) - centroid(mask(frames[a]))


# -- the basics ---------------------------------------------------------------------------------


def test_frame_count_shape_and_no_audio(assets):
    shot = PreviewBackend().generate(request(frames=13, plate=assets["plate"]))
    assert isinstance(shot, GeneratedShot)
    assert shot.audio is None
    frames = list(shot.frames)
    assert len(frames) == 13
    for frame in frames:
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
    assert render(frames=0) == []


def test_frames_are_drawn_lazily():
    frames = PreviewBackend().generate(request(frames=10_000, width=64, height=36)).frames
    first = next(iter(frames))  # a list of 10,000 frames would take a while
    assert first.shape == (36, 64, 3)


def test_odd_sizes_and_rates_work(assets):
    frames = render(width=101, height=57, fps=23.976, frames=5, plate=assets["plate"], burn_in=True)
    assert [f.shape for f in frames] == [(57, 101, 3)] * 5


def test_same_request_same_frames(assets):
    fields = dict(
        plate=assets["plate"],
        characters=(CharacterRefs("MARA", (assets["mara"],)), CharacterRefs("TOM", ())),
        camera=(move("handheld", 0, 12), move("dolly", 12, 12, direction="in")),
        burn_in=True,
    )
    first, second = render(**fields), render(**fields)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_card_when_there_are_no_pictures():
    frames = render(prompt="7B · close-up on Tom\n\nTOM stares at the sea for a long time.")
    frame = frames[0]
    assert frame.std() > 5  # not a flat colour
    bright = (frame.min(axis=2) > 200).sum()
    assert bright > 20  # the id and action text
    assert frame.mean() < 80  # a dark card


def test_unreadable_pictures_fall_back_to_the_card(assets):
    card = render()
    broken = render(plate=assets["broken"])
    assert np.array_equal(card[0], broken[0])


def test_plate_is_drawn_to_cover_the_frame(assets):
    frame = render(plate=assets["plate"], frames=1)[0]
    assert mask_yellow(frame).sum() > 20
    # Every pixel is the plate's: no black bars.
    assert frame.max(axis=2).min() >= 30


def test_characters_are_composited(assets):
    characters = (CharacterRefs("MARA", (assets["mara"],)), CharacterRefs("TOM", (assets["tom"],)))
    frame = render(plate=assets["plate"], characters=characters, frames=1)[0]
    red = mask_red(frame)
    assert red.sum() > 30
    green = (frame[:, :, 1] > 170) & (frame[:, :, 0] < 60) & (frame[:, :, 2] < 60)
    assert green.sum() < 5  # the flat background was keyed out
    blue = (frame[:, :, 2] > 180) & (frame[:, :, 0] < 90)
    assert blue.sum() > 30
    # Spread across the frame: MARA left of TOM.
    assert centroid(red)[0] < centroid(blue)[0]


def test_shot_size_sets_the_characters_size(assets):
    mara = (CharacterRefs("MARA", (assets["mara"],)),)
    areas = {}
    for size in ("EXTREME WIDE", "WIDE", "MEDIUM"):
        frame = render(plate=assets["plate"], characters=mara, size=size, frames=1)[0]
        areas[size] = mask_red(frame).sum()
    assert areas["EXTREME WIDE"] < areas["WIDE"] < areas["MEDIUM"]


def test_close_up_on_one_character_fills_the_frame(assets):
    mara = (CharacterRefs("MARA", (assets["mara"],)),)
    wide = render(plate=assets["plate"], characters=mara, frames=1)[0]
    close = render(plate=assets["plate"], characters=mara, size="CLOSE-UP", frames=1)[0]
    red = mask_red(close)
    assert red.mean() > 0.1 and red.mean() > 5 * mask_red(wide).mean()
    assert centroid(red)[0] == pytest.approx(W / 2, abs=W * 0.1)
    green = (close[:, :, 1] > 170) & (close[:, :, 0] < 60)
    assert green.sum() == 0  # her flat background is keyed out; the location is behind her


def test_character_without_a_picture_is_a_silhouette(assets):
    empty = render(plate=assets["plate"], frames=1)[0]
    stand_in = render(plate=assets["plate"], characters=(CharacterRefs("TOM", ()),), frames=1)[0]
    changed = np.abs(empty.astype(int) - stand_in.astype(int)).max(axis=2) > 10
    assert changed.sum() > 100
    assert centroid(changed)[0] == pytest.approx(W / 2, abs=W * 0.1)


def test_plate_sources_in_order(assets, tmp_path):
    previous = np.zeros((H, W, 3), np.uint8)
    previous[:, :, 0] = np.linspace(0, 255, W, dtype=np.uint8)
    # The previous shot's last frame opens a continuous shot exactly.
    frames = render(previous_frame=previous, frames=2)
    assert np.array_equal(frames[0], previous)
    # ... even when the location has a picture (a continuous shot is no hard cut).
    frames = render(previous_frame=previous, plate=assets["plate"], frames=1)
    assert np.array_equal(frames[0], previous)
    # A pinned first keyframe comes before both.
    pinned = tmp_path / "pinned.png"
    Image.new("RGB", (W, H), (10, 200, 30)).save(pinned)
    frame = render(keyframe_first=pinned, previous_frame=previous, plate=assets["plate"])[0]
    assert np.array_equal(frame, np.asarray(Image.open(pinned)))
    # Without either, the location plate.
    assert mask_yellow(render(plate=assets["plate"], frames=1)[0]).sum() > 0
    # A reference video's first frame, when nothing else is given.
    clip = tmp_path / "ref.mp4"
    write_clip(clip, iter([previous] * 3), Fraction(24))
    frame = render(reference_video=(clip,), frames=1)[0]
    first = next(read_frames(clip))
    assert np.abs(frame.astype(int) - first.astype(int)).mean() < 4


def test_keyframe_last_is_reached(assets, tmp_path):
    target = np.zeros((H, W, 3), np.uint8)
    target[:, :, 2] = 200
    path = tmp_path / "last.png"
    Image.fromarray(target).save(path)
    frames = render(plate=assets["plate"], keyframe_last=path, frames=24)
    assert np.array_equal(frames[-1], target)
    plain = render(plate=assets["plate"], frames=24)
    assert np.array_equal(frames[0], plain[0])  # the fade only takes the last half second
    assert not np.array_equal(frames[-6], plain[-6])


# -- the camera ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "direction", "axis", "sign"),
    [
        ("pan", "left", 0, +1),  # the camera turns left: the picture moves right
        ("pan", "right", 0, -1),
        ("tilt", "up", 1, +1),  # the camera tilts up: the picture moves down
        ("tilt", "down", 1, -1),
        ("truck", "left", 0, +1),
        ("truck", "right", 0, -1),
        ("pedestal", "up", 1, +1),
        ("crane", "down", 1, -1),
    ],
)
def test_screen_direction_of_moves(assets, kind, direction, axis, sign):
    degrees = 10 if kind in ("pan", "tilt") else None
    frames = render(
        plate=assets["plate"], camera=(move(kind, direction=direction, degrees=degrees),)
    )
    moved = shift(frames, mask_yellow)
    assert moved[axis] * sign > 2
    assert abs(moved[1 - axis]) < 1


def test_pan_amount_follows_its_angle(assets):
    # 60 degrees of pan is one frame width; the plate here is not magnified.
    frames = render(plate=assets["plate"], camera=(move("pan", direction="left", degrees=12),))
    assert shift(frames, mask_yellow)[0] == pytest.approx(W * 12 / 60, abs=1.0)
    dx = []
    for speed in ("slow", None, "fast"):
        camera = (move("pan", direction="left", degrees=6, speed=speed),)
        dx.append(shift(render(plate=assets["plate"], camera=camera), mask_yellow)[0])
    assert dx[1] == pytest.approx(2 * dx[0], rel=0.1)
    assert dx[2] == pytest.approx(2 * dx[1], rel=0.1)


@pytest.mark.parametrize(("direction", "grows"), [("in", True), ("out", False)])
def test_zoom_scales_the_picture(assets, direction, grows):
    frames = render(plate=assets["plate"], camera=(move("zoom", direction=direction),))
    before, after = mask_yellow(frames[0]).sum(), mask_yellow(frames[-1]).sum()
    assert (after > before * 1.3) if grows else (after < before / 1.3)


def test_zoom_factor_sets_the_scale(assets):
    frames = render(plate=assets["plate"], camera=(move("zoom", direction="in", factor=2.0),))
    ratio = mask_yellow(frames[-1]).sum() / mask_yellow(frames[0]).sum()
    assert ratio == pytest.approx(4.0, rel=0.2)  # area goes as the square


def test_truck_has_parallax(assets):
    mara = (CharacterRefs("MARA", (assets["mara"],)),)
    frames = render(
        plate=assets["plate"], characters=mara, camera=(move("truck", direction="left"),)
    )
    plate_dx = shift(frames, mask_yellow)[0]
    mara_dx = shift(frames, mask_red)[0]
    assert plate_dx > 1 and mara_dx > 2 * plate_dx


def test_dolly_has_parallax(assets):
    mara = (CharacterRefs("MARA", (assets["mara"],)),)
    frames = render(plate=assets["plate"], characters=mara, camera=(move("dolly", direction="in"),))
    plate = mask_yellow(frames[-1]).sum() / mask_yellow(frames[0]).sum()
    figure = mask_red(frames[-1]).sum() / mask_red(frames[0]).sum()
    assert plate > 1.05 and figure > plate * 1.2


@pytest.mark.parametrize(("direction", "sign"), [("left", 1), ("right", -1)])
def test_orbit_moves_plate_and_characters_apart(assets, direction, sign):
    mara = (CharacterRefs("MARA", (assets["mara"],)),)
    camera = (move("orbit", direction=direction, degrees=60),)
    frames = render(plate=assets["plate"], characters=mara, camera=camera)
    plate_dx = shift(frames, mask_yellow)[0]
    mara_dx = shift(frames, mask_red)[0]
    assert plate_dx * sign < -2  # orbit left: the plate slides left
    assert mara_dx * sign > 1  # and the characters the other way


def test_track_keeps_its_character_centred(assets):
    characters = (CharacterRefs("MARA", (assets["mara"],)), CharacterRefs("TOM", (assets["tom"],)))
    camera = (move("track", target="MARA", start=0, frames=24),)
    frames = render(plate=assets["plate"], characters=characters, camera=camera)
    for frame in frames[6:]:  # after a short glide to the centre
        assert centroid(mask_red(frame))[0] == pytest.approx(W / 2, abs=1.5)
    assert shift(frames, mask_yellow)[0] < -2  # the world drifts past


def test_handheld_is_smooth_small_and_seeded(assets):
    camera = (move("handheld"),)
    frames = render(plate=assets["plate"], camera=camera)
    positions = np.array([centroid(mask_yellow(f)) for f in frames])
    steps = np.abs(np.diff(positions, axis=0))
    assert positions.std(axis=0).max() > 0.2  # it moves
    assert steps.max() < 2.5  # smoothly
    assert np.abs(positions - positions[0]).max() < W * 0.05  # and not far
    other = render(plate=assets["plate"], camera=camera, seed=8)
    assert any(not np.array_equal(a, b) for a, b in zip(frames, other, strict=True))


def test_static_holds_still(assets):
    mara = (CharacterRefs("MARA", (assets["mara"],)),)
    frames = render(plate=assets["plate"], characters=mara, camera=(move("static"),))
    assert all(np.array_equal(frames[0], f) for f in frames[1:])
    still = render(plate=assets["plate"], characters=mara)
    assert np.array_equal(still[0], frames[0])


@pytest.mark.parametrize(("ease", "first_half_smaller"), [("in", True), ("out", False)])
def test_easing(assets, ease, first_half_smaller):
    camera = (move("pan", direction="left", degrees=10, frames=25, ease=ease),)
    frames = render(plate=assets["plate"], camera=camera, frames=25)
    first = shift(frames, mask_yellow, 0, 12)[0]
    second = shift(frames, mask_yellow, 12, 24)[0]
    assert (first < second * 0.7) if first_half_smaller else (second < first * 0.7)


def test_linear_by_default(assets):
    frames = render(plate=assets["plate"], frames=25, camera=(move("pan", frames=25, degrees=10),))
    first = shift(frames, mask_yellow, 0, 12)[0]
    second = shift(frames, mask_yellow, 12, 24)[0]
    assert first == pytest.approx(second, abs=1.0)


def test_then_runs_moves_in_sequence(assets):
    camera = (
        move("pan", 0, 12, direction="left", degrees=10),
        move("tilt", 12, 12, direction="up", degrees=10),
    )
    frames = render(plate=assets["plate"], camera=camera)
    pan = shift(frames, mask_yellow, 0, 11)
    tilt = shift(frames, mask_yellow, 12, 23)
    assert pan[0] > 2 and abs(pan[1]) < 0.5  # first the pan, alone
    assert tilt[1] > 2 and abs(tilt[0]) < 0.5  # then the tilt, alone


def test_over_sets_the_moves_time(assets):
    camera = (move("pan", 0, 6, direction="right"),)  # `over 0.25s` at 24 fps
    frames = render(plate=assets["plate"], camera=camera)
    assert all(not np.array_equal(frames[i], frames[i + 1]) for i in range(5))
    assert all(np.array_equal(frames[5], f) for f in frames[6:])  # then holds its end


def test_poses_follow_the_convention():
    poses = camera_poses([move("pan", direction="left")], 24, 1200, 675, 24.0, 0)
    assert poses.plate[0, 1] == 0 and poses.plate[-1, 1] == pytest.approx(1200 * 30 / 60)
    poses = camera_poses([move("zoom", direction="in")], 24, 1200, 675, 24.0, 0)
    assert poses.plate[-1, 0] == pytest.approx(1.3)
    poses = camera_poses(
        [move("dolly", direction="in")], 24, 1200, 675, 24.0, 0, homes=[(0.0, 0.0)], names=["A"]
    )
    assert poses.characters[-1, 0, 0] > poses.plate[-1, 0] > 1


# -- burn-in ------------------------------------------------------------------------------------


def test_burn_in_marks_id_and_timecode(assets):
    plain = render(plate=assets["plate"], camera=(move("static"),))
    burnt = render(plate=assets["plate"], camera=(move("static"),), burn_in=True)
    corner = (slice(0, H // 4), slice(0, W // 3))
    timecode = (slice(H * 3 // 4, H), slice(W // 2, W))
    assert not np.array_equal(plain[0][corner], burnt[0][corner])
    assert not np.array_equal(plain[0][timecode], burnt[0][timecode])
    # The timecode counts; the rest of the picture does not change.
    assert not np.array_equal(burnt[0][timecode], burnt[1][timecode])
    assert np.array_equal(burnt[0][corner], burnt[1][corner])
    middle = (slice(H // 4, H * 3 // 4), slice(W // 4, W * 3 // 4))
    assert np.array_equal(plain[0][middle], burnt[0][middle])


def test_timecode_is_shot_relative_and_nominal():
    burn = BurnIn("1A", 1280, 720, 24000 / 1001)
    assert burn.timecode(0) == "00:00:00:00"
    assert burn.timecode(23) == "00:00:00:23"
    assert burn.timecode(24) == "00:00:01:00"
    assert burn.timecode(24 * 3661 + 5) == "01:01:01:05"


# -- subtitles ----------------------------------------------------------------------------------


def test_dialogue_is_subtitled_while_it_is_spoken(assets):
    base = dict(request(plate=assets["plate"], width=320, height=180).__dict__)
    base.pop("dialogue")
    said = {"speaker": "MARA", "text": "Another night, old friend.", "start": 6, "frames": 12}
    quiet = list(PreviewBackend(burn_in=False).generate(ShotRequest(**base)).frames)
    spoken = list(
        PreviewBackend(burn_in=False).generate(ShotRequest(**base, dialogue=(said,))).frames
    )
    differs = [not np.array_equal(a, b) for a, b in zip(quiet, spoken, strict=True)]
    assert differs == [6 <= i < 18 for i in range(24)]
    changed = np.abs(quiet[10].astype(int) - spoken[10].astype(int)).max(axis=2) > 0
    ys, xs = np.nonzero(changed)
    assert ys.min() > 180 / 2  # in the lower half
    assert xs.mean() == pytest.approx(320 / 2, abs=10)  # centred
    off = PreviewBackend(burn_in=False, subtitles=False)
    silent = list(off.generate(ShotRequest(**base, dialogue=(said,))).frames)
    assert all(np.array_equal(a, b) for a, b in zip(quiet, silent, strict=True))


def test_a_lines_parenthetical_is_subtitled_before_its_words(assets):
    from backends.animatic import NOTE

    base = dict(request(plate=assets["plate"], width=640, height=360, frames=1).__dict__)
    base.pop("dialogue")
    plain = {"speaker": "MARA", "text": "Another night.", "start": 0, "frames": 1}
    directed = plain | {"direction": "whispering"}
    frames = [
        next(
            iter(PreviewBackend(burn_in=False).generate(ShotRequest(**base, dialogue=(d,))).frames)
        )
        for d in (plain, directed, plain | {"direction": None})
    ]
    assert np.array_equal(frames[0], frames[2])  # no direction: as before
    # The direction widens the subtitle and is drawn in its own, dimmer colour.
    widths = [np.nonzero((f != frames[0]).any(axis=2).any(axis=0))[0] for f in frames[:2]]
    assert widths[0].size == 0 and widths[1].size > 40

    def in_note(frame: np.ndarray) -> int:
        return int((np.abs(frame.astype(int) - np.array(NOTE)).max(axis=2) < 12).sum())

    assert in_note(frames[1]) > 20 and in_note(frames[0]) < 5


# -- where it draws each character (placements, for consistency scoring) -----------------------

MARK = (0.4, 0.125, 0.6, 0.225)  # a magenta square on each marked picture, as fractions


@pytest.fixture(scope="module")
def marked(tmp_path_factory) -> dict[str, Path]:
    """Character pictures with a magenta square at MARK: one keyed (a grey figure on
    flat green, the square on its head), one kept on a card (a busy background)."""
    folder = tmp_path_factory.mktemp("marked")
    keyed = Image.new("RGB", (200, 400), (0, 200, 0))
    draw = ImageDraw.Draw(keyed)
    draw.ellipse((50, 20, 150, 120), fill=(120, 120, 120))
    draw.rectangle((40, 125, 160, 400), fill=(120, 120, 120))
    rng = np.random.default_rng(2)
    card = Image.fromarray(rng.integers(0, 60, (400, 240, 3), dtype=np.uint8))
    for name, picture in (("keyed", keyed), ("card", card)):
        w, h = picture.size
        box = (MARK[0] * w, MARK[1] * h, MARK[2] * w - 1, MARK[3] * h - 1)
        ImageDraw.Draw(picture).rectangle(box, fill=(255, 0, 255))
        picture.save(folder / f"{name}.png")
    return {p.stem: p for p in folder.iterdir()}


def magenta(frame: np.ndarray) -> np.ndarray:
    r, g, b = (frame[:, :, i].astype(int) for i in range(3))
    return (r > 170) & (g < 90) & (b > 170)


def mark_in(box) -> tuple[float, float, float, float]:
    """Where MARK lands in the frame, given where the whole picture was drawn."""
    x0, y0, x1, y1 = box
    return (x0 + MARK[0] * (x1 - x0), y0 + MARK[1] * (y1 - y0),
            x0 + MARK[2] * (x1 - x0), y0 + MARK[3] * (y1 - y0))  # fmt: skip


def clipped(box, width: int, height: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    return (max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1))


@pytest.mark.parametrize(
    "size, who, camera",
    [
        ("MEDIUM", ("keyed", "card"), ()),
        ("MEDIUM", ("keyed", "card"), (move("zoom", direction="in", frames=48),)),
        ("WIDE", ("card", "keyed"), (move("truck", direction="right", frames=48),)),
        ("MEDIUM CLOSE-UP", ("keyed",), (move("handheld", frames=48),)),
        ("CLOSE-UP", ("keyed",), (move("dolly", direction="in", frames=48),)),
        ("CLOSE-UP", ("card",), (move("pan", direction="left", degrees=10, frames=48),)),
    ],
)
def test_placements_say_where_each_picture_is_drawn(assets, marked, size, who, camera):
    characters = tuple(CharacterRefs(name.upper(), (marked[name],)) for name in who)
    shot = PreviewBackend(burn_in=False).generate(
        request(size=size, plate=assets["plate"], characters=characters, camera=camera,
                frames=48, width=320, height=180)
    )  # fmt: skip
    frames = list(shot.frames)
    asked = [0, 17, 47]
    placed = shot.placements(asked + [48, -1])  # frames outside the shot are left out
    assert sorted({p.frame for p in placed}) == asked
    assert {(p.character, p.ref) for p in placed} == {(c.name, c.refs[0]) for c in characters}
    for index in asked:
        seen = magenta(frames[index])
        marks = [clipped(mark_in(p.box), 320, 180) for p in placed if p.frame == index]
        inside = np.zeros_like(seen)
        for x0, y0, x1, y1 in marks:
            # The square is where its placement puts it, to a pixel or two...
            ys, xs = np.nonzero(
                seen[max(0, int(y0) - 4) : int(y1) + 5, max(0, int(x0) - 4) : int(x1) + 5]
            )
            assert xs.size > 10, f"frame {index}: no mark near {(x0, y0, x1, y1)}"
            left, top = max(0, int(x0) - 4), max(0, int(y0) - 4)
            found = (xs.min() + left, ys.min() + top, xs.max() + 1 + left, ys.max() + 1 + top)
            assert found == pytest.approx((x0, y0, x1, y1), abs=2.5)
            inside[max(0, int(y0) - 4) : int(y1) + 5, max(0, int(x0) - 4) : int(x1) + 5] = True
        # ...and nowhere else.
        assert not (seen & ~inside).any()


@pytest.mark.parametrize("framing", [{"angle": "dutch", "angle_degrees": 20.0}, {"angle": "low"}])
def test_placements_follow_the_angle(assets, marked, framing):
    """Under a dutch angle the placement is the turned picture's bounding box; under a
    low angle, the loomed picture's: the mark is inside it, where it is drawn."""
    characters = (CharacterRefs("KEYED", (marked["keyed"],)),)
    shot = PreviewBackend(burn_in=False).generate(
        request(size="MEDIUM", plate=assets["plate"], characters=characters, frames=1,
                width=320, height=180, **framing)
    )  # fmt: skip
    seen = magenta(next(iter(shot.frames)))
    (placed,) = shot.placements([0])
    ys, xs = np.nonzero(seen)
    assert xs.size > 10
    x0, y0, x1, y1 = placed.box
    assert x0 - 1 <= xs.min() and xs.max() <= x1 + 1 and y0 - 1 <= ys.min() and ys.max() <= y1 + 1
    if "angle_degrees" not in framing:  # not turned: the mark where MARK puts it, near enough
        mx0, my0, mx1, my1 = mark_in(placed.box)
        found = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert found == pytest.approx((mx0, my0, mx1, my1), abs=4)


def test_no_placements_for_silhouettes_or_pinned_plates(assets, marked, tmp_path):
    nobody = PreviewBackend().generate(request(characters=(CharacterRefs("TOM", ()),)))
    assert nobody.placements(range(24)) == []
    keyframe = tmp_path / "first.png"
    Image.new("RGB", (W, H), (10, 20, 30)).save(keyframe)
    pinned = PreviewBackend().generate(
        request(keyframe_first=keyframe, characters=(CharacterRefs("K", (marked["keyed"],)),))
    )
    assert pinned.placements(range(24)) == []  # the keyframe is drawn, not the character
