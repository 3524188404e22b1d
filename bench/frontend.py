"""Front-end benchmark: the CPU cost of checking and planning a feature-length script.

What it measures, all in one process:

* It generates (seeded, deterministic) a valid feature-length `.shot` project into a
  temporary directory: header, ~20 characters, ~15 locations, audio/image/video assets,
  ~60 scenes and `--shots` shots (default 1,500; at least 15,000 lines), with the small
  real reference files the script names (PNG via Pillow, WAV via soundfile, MP4 via av).
* It times, with `time.process_time()` and best of `--repeat` runs after a warm-up:
  (a) parse only (`director.parse.parse_source`), (b) check (`director.check.check_file`,
  which reads, parses, resolves and validates), (c) plan (`director.plan.plan_film`) and
  check + plan together.  The warm-up (first run, including the grammar load) is
  reported on its own line.
* Peak Python memory of one check + plan run (tracemalloc) and the process's peak RSS.
* The same screenplay written as Fountain, cut to the same number of lines, parsed by
  jouvence (a benchmark-only dependency: `pip install -e .[bench]`; `--fountain
  screenplain` uses screenplain instead), best of the same number of runs, and the
  ratio (check + plan) / Fountain parse.

Targets: check + plan under 1 s of CPU, and no slower than the Fountain parser.

Run from the repository root:

    .venv/bin/python bench/frontend.py [--shots 1500] [--repeat 5] [--seed N] [--json]
        [--keep DIR] [--fountain jouvence|screenplain]

Exit status 0 (whatever the verdicts), 2 if the generated script does not check.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import io
import json
import platform
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SEED = 20240607
FPS = 24
TARGET_CPU_S = 1.0
WORDS_PER_SECOND = 2.0  # the checker allows 2.5; keep a margin
AUDIO_SECONDS = 40.0

# ------------------------------------------------------------------ the material

CHARACTERS = {
    "MARA": "a lighthouse keeper in her sixties, grey braid, yellow oilskin coat",
    "TOM": "a boy of ten in a red knitted jumper and muddy boots",
    "ELSPETH": "a woman in her thirties, long dark coat, silver brooch",
    "CALLUM": "a fisherman in his forties, tweed cap pulled low, weathered hands",
    "ISLA": "a girl of twelve, bright waterproof jacket, hair tied back",
    "RORY": "a man in his seventies, navy peacoat, beard flecked with salt",
    "FINLAY": "a young deckhand, thick jumper, rope-burnt palms",
    "AGNES": "the retired schoolteacher, thick glasses and a patched cardigan",
    "DUNCAN": "the harbour master, peaked cap, clipboard under one arm",
    "MORAG": "the postmistress, wellingtons and a faded headscarf",
    "EWAN": "a coastguard officer, orange life vest, radio on his chest",
    "KIRSTY": "a nurse in her twenties, navy tunic under a rain cape",
    "HAMISH": "the publican, rolled sleeves, towel over one shoulder",
    "NESSA": "a painter in her fifties, paint on her cuffs, straw hat",
    "ANGUS": "the minister, black coat, white collar, kind eyes",
    "FIONA": "a ferry pilot, windburnt cheeks, cropped fair hair",
    "GREGOR": "a surveyor from the mainland, city suit, wrong shoes",
    "AILSA": "a teenage girl with headphones and a battered bicycle",
    "LACHLAN": "a boat builder in his sixties, sawdust in his beard",
    "BRIDIE": "an old woman who keeps hens, shawl and walking stick",
}
VOICES = ["low and calm, slight Scottish lilt", "quick and bright, a little breathless",
          "gravelly, slow, every word weighed", "warm, amused, prone to sighing",
          "clipped and precise", "soft, almost a whisper"]  # fmt: skip

LOCATIONS = [
    ("LAMP_ROOM", "INT.", "cramped lamp room atop a lighthouse, brass lens, rain on the glass"),
    ("LIGHTHOUSE", "EXT.", "white tower on a black headland, beam sweeping the sea"),
    ("HARBOUR", "EXT.", "small stone harbour, fishing boats knocking against the wall"),
    ("KEEPERS_COTTAGE", "INT.", "low-ceilinged kitchen, peat fire, oilcloth on the table"),
    ("CLIFF_PATH", "EXT.", "narrow path above the surf, gorse bent flat by the wind"),
    ("VILLAGE_PUB", "INT.", "smoky bar, low beams, a dartboard and a dozing dog"),
    ("CHURCH", "INT.", "cold granite church, candles guttering in the draught"),
    ("BEACH", "EXT.", "wide pale beach, kelp lines and a wrecked rowing boat"),
    ("FISHING_BOAT", "EXT.", "deck of a small trawler pitching in a grey swell"),
    ("POST_OFFICE", "INT.", "village post office and shop, jars of sweets, a brass bell"),
    ("SCHOOLROOM", "INT.", "one-room school, chalk dust, maps curling on the walls"),
    ("FERRY_DECK", "EXT.", "open deck of the island ferry, spray across the rail"),
    ("STORE_ROOM", "INT.", "lighthouse store room, paraffin drums and coiled rope"),
    ("GRAVEYARD", "EXT.", "windswept graveyard above the bay, leaning stones"),
    ("MOOR_ROAD", "EXT.", "single-track road across the moor, a lone phone box"),
]  # fmt: skip
TIMES_OF_DAY = ["NIGHT", "DAY", "DAWN", "DUSK", "MORNING", "LATER", "CONTINUOUS"]

AUDIO = ["STORM", "THEME", "SEA_WASH", "BELL", "GULLS", "ENGINE_HUM"]
IMAGES = ["BOARD_1", "BOARD_2", "BOARD_3", "BOARD_4"]
VIDEOS = ["WAVES_PLATE", "FERRY_PLATE"]

ONE = [
    "{a} polishes the great brass lens while rain hammers the windows.",
    "{a} climbs the spiral stair, one hand on the cold iron rail.",
    "{a} lights a storm lantern and sets it on the sill.",
    "{a} stares out at the black water, jaw set.",
    "{a} pulls on an oilskin and fastens every toggle.",
    "{a} counts the seconds between flashes, lips moving.",
    "{a} wipes salt from the glass with a folded rag.",
    "{a} winds the clockwork, slow turn after slow turn.",
    "{a} reads a damp letter twice, then folds it away.",
    "{a} hesitates at the door, listening to the wind.",
    "{a} pours tea from a dented pot into two chipped mugs.",
    "{a} drags a crate of paraffin across the flagstones.",
    "{a} kneels by the hearth and feeds it driftwood.",
    "{a} scans the horizon through an old brass telescope.",
    "{a} writes in the logbook, the pen scratching loudly.",
    "{a} laughs despite the weather, hair whipping about.",
    "{a} steps out onto the gallery and into the gale.",
    "{a} ties a bowline with practised hands.",
    "{a} freezes as a distant horn sounds across the bay.",
    "{a} pockets the key and glances back at the tower.",
]
TWO = [
    "{a} hands {b} a steaming mug without a word.",
    "{b} watches {a} from the foot of the stairs.",
    "{a} and {b} haul the boat above the tide line.",
    "{a} catches {b} by the sleeve before the wave breaks.",
    "{b} turns away as {a} opens the letter.",
    "{a} shows {b} how to trim the wick.",
    "{a} and {b} share a look across the table.",
    "{b} follows {a} along the slick path.",
    "{a} shouts something to {b} that the wind steals.",
    "{b} steadies the ladder while {a} climbs.",
]
AMBIENT = [
    "The beam sweeps across a black, heaving sea.",
    "Rain streaks the glass in long silver threads.",
    "Gulls wheel and scream above the harbour wall.",
    "A shutter bangs somewhere below.",
    "Spray bursts over the rocks in white sheets.",
    "The lamp turns, patient and enormous.",
    "Fog rolls in, swallowing the far headland.",
    "A kettle begins to whistle on the stove.",
    "Waves suck at the shingle and retreat.",
    "Thunder rolls far out over the water.",
    "Somewhere a bell tolls once across the water.",
    "Dawn light creeps grey across the floorboards.",
]
SPEECH = [
    "Another night, old friend.", "You should not be up here.", "The glass is falling fast.",
    "Bring the lantern, and mind the steps.", "She always comes back on the tide.",
    "Nobody reads the log but me.", "It was never about the light.",
    "Tell me the truth this time.", "The ferry will not run tomorrow.", "Keep your voice down.",
    "We used to swim off those rocks.", "That boat should have been in hours ago.",
    "Your father knew every reef by name.", "Leave it. It will keep till morning.",
    "How long have you known?", "Light the lamp. Now.",
    "There is nothing out there but weather.", "The sea gives back what it takes.",
    "Just hold the ladder steady.", "Come inside before you catch your death.",
    "Do you hear that?", "Not tonight.",
]  # fmt: skip
PARENTHETICALS = ["(softly)", "(beat)", "(shouting over the wind)", "(not looking up)",
                  "(a wry smile)", "(reading)", "(turning)", "(half asleep)"]  # fmt: skip

SIZES = ["EXTREME WIDE", "WIDE", "FULL", "MEDIUM WIDE", "MEDIUM", "MEDIUM CLOSE-UP",
         "CLOSE-UP", "EXTREME CLOSE-UP", "OVER-THE-SHOULDER", "POV", "INSERT", "TWO-SHOT",
         "WS", "MS", "MCU", "CU", "ECU", "OTS"]  # fmt: skip
FRAMED = {"MEDIUM", "MEDIUM CLOSE-UP", "CLOSE-UP", "EXTREME CLOSE-UP", "OVER-THE-SHOULDER",
          "TWO-SHOT", "MS", "MCU", "CU", "ECU", "OTS"}  # fmt: skip
MOVES = ["static", "handheld", "pan left 30deg", "pan right 45deg", "tilt up 10deg",
         "tilt down 15deg", "zoom in 1.5x", "zoom out 2x", "dolly in", "dolly out",
         "truck left", "truck right", "pedestal up", "crane up", "crane down",
         "orbit left 90deg", "orbit right 45deg", "track {a}"]  # fmt: skip
MODIFIERS = ["", "", " slow", " fast", " ease in", " ease out", " ease in-out"]
VERBS = {"static": "holds", "handheld": "goes handheld", "pan": "pans", "tilt": "tilts",
         "zoom": "zooms", "dolly": "dollies", "truck": "trucks", "pedestal": "rises",
         "crane": "cranes", "orbit": "orbits", "track": "tracks"}  # fmt: skip
OVERRIDES = ["takes: 3", "seed: 77", "consistency: 0.8", "negative: blurry, text, extra limbs"]
DURATIONS = [2, 2.5, 3, 3, 3.5, 4, 4, 4.5, 5, 6, 7, 8]
IN_SCENE_CUTS = [None] * 14 + ["CUT TO:"] * 4 + ["SMASH CUT TO:", "MATCH CUT TO:"]
SCENE_CUTS = ["CUT TO:", "DISSOLVE TO: 12f", "DISSOLVE TO: 0.5s", "WIPE TO: 250ms",
              "FADE OUT: 1s", None]  # fmt: skip

# ------------------------------------------------------------------ the model


@dataclass
class Speech:
    speaker: str
    extension: str | None
    parenthetical: str | None
    lines: list[str]

    @property
    def words(self) -> int:
        return sum(len(line.split()) for line in self.lines)


@dataclass
class Shot:
    id: str
    size: str
    subjects: list[str]
    seconds: float
    duration: str
    camera: str
    actions: list[str]
    speeches: list[Speech] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)  # angle, lens, cue, ref, overrides
    sounds: list[str] = field(default_factory=list)  # the cue, told as Fountain action
    continuous: bool = False
    transition: str | None = None  # after this shot


@dataclass
class Scene:
    prefix: str
    location: str
    time_of_day: str
    shots: list[Shot] = field(default_factory=list)


@dataclass
class Screenplay:
    title: str
    characters: dict[str, int]  # name -> number of ref images
    scenes: list[Scene]


# ------------------------------------------------------------------ generation


class Writer:
    """Writes a seeded, valid screenplay: every name declared and used, times in range."""

    def __init__(self, rng: random.Random, shots: int):
        self.rng = rng
        self.shots = shots
        self.uses = Counter()

    def screenplay(self) -> Screenplay:
        refs = {name: 1 + (i % 2) for i, name in enumerate(CHARACTERS)}
        scenes = [self.scene(i, n) for i, n in enumerate(self.scene_sizes())]
        scenes[-1].shots[-1].transition = "FADE OUT: 1s"
        return Screenplay("The Lighthouse Keeper", refs, scenes)

    def scene_sizes(self) -> list[int]:
        count = max(1, self.shots // 25)
        weights = [self.rng.uniform(0.5, 1.5) for _ in range(count)]
        sizes = [max(1, int(self.shots * w / sum(weights))) for w in weights]
        sizes[-1] += self.shots - sum(sizes)
        return sizes

    def scene(self, index: int, size: int) -> Scene:
        name, prefix, _ = LOCATIONS[index % len(LOCATIONS)]
        scene = Scene(prefix, name, self.rng.choice(TIMES_OF_DAY))
        start = (index * 3) % len(CHARACTERS)
        names = list(CHARACTERS)
        cast = [names[(start + k) % len(names)] for k in range(self.rng.randint(2, 4))]
        for k in range(size):
            scene.shots.append(self.shot(index + 1, k, cast))
            if k + 1 < size:
                scene.shots[-1].transition = self.rng.choice(IN_SCENE_CUTS)
        scene.shots[-1].transition = self.rng.choice(SCENE_CUTS)
        self.mark_continuous(scene)
        return scene

    def mark_continuous(self, scene: Scene) -> None:
        for before, shot in zip(scene.shots, scene.shots[1:], strict=False):
            if before.transition in (None, "CUT TO:") and self.rng.random() < 0.03:
                shot.continuous = True

    def shot(self, scene_no: int, k: int, cast: list[str]) -> Shot:
        rng = self.rng
        people = rng.sample(cast, min(len(cast), rng.choice([1, 1, 2, 2, 2, 3])))
        size = rng.choice(SIZES)
        subjects = people[: 2 if size == "TWO-SHOT" else 1] if size in FRAMED else []
        shot = Shot(
            id=f"{scene_no}{_letters(k)}",
            size=size,
            subjects=subjects,
            seconds=0,
            duration="",
            camera="",
            actions=self.actions(people),
        )
        shot.speeches = self.speeches(people)
        self.time(shot)
        shot.camera = self.camera(people, shot.seconds)
        self.extras(shot)
        return shot

    def actions(self, people: list[str]) -> list[str]:
        rng = self.rng
        lines = []
        for i, name in enumerate(people):
            if i + 1 < len(people) and rng.random() < 0.4:
                lines.append(rng.choice(TWO).format(a=name, b=people[i + 1]))
            else:
                lines.append(rng.choice(ONE).format(a=name))
        if rng.random() < 0.8:
            lines.insert(rng.randint(0, len(lines)), rng.choice(AMBIENT))
        return lines

    def speeches(self, people: list[str]) -> list[Speech]:
        rng = self.rng
        count = rng.choice([0, 1, 1, 1, 2])
        result = []
        for _ in range(count):
            speaker = rng.choice(people)
            extension = rng.choice([None] * 12 + ["V.O.", "O.S."])
            paren = rng.choice([None, None] + PARENTHETICALS)
            lines = [rng.choice(SPEECH) for _ in range(rng.choice([1, 1, 2]))]
            result.append(Speech(speaker, extension, paren, lines))
        return result

    def time(self, shot: Shot) -> None:
        words = sum(s.words for s in shot.speeches)
        while words / WORDS_PER_SECOND > 8:
            shot.speeches.pop()
            words = sum(s.words for s in shot.speeches)
        needed = words / WORDS_PER_SECOND
        seconds = max(self.rng.choice(DURATIONS), -(-needed * 2 // 1) / 2)
        shot.seconds = min(seconds, 8)
        shot.duration = self.duration_text(shot.seconds)

    def duration_text(self, seconds: float) -> str:
        style = self.rng.random()
        if style < 0.08:
            return f"{round(seconds * FPS)}f"
        if style < 0.12:
            return f"{round(seconds * 1000)}ms"
        if style < 0.15:
            whole = int(seconds)
            return f"00:00:{whole:02d}:{round((seconds - whole) * FPS):02d}"
        return f"{seconds:g}s"

    def camera(self, people: list[str], seconds: float) -> str:
        rng = self.rng
        moves = []
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            move = rng.choice(MOVES).format(a=rng.choice(people))
            if move not in ("static", "handheld"):
                move += rng.choice(MODIFIERS)
            moves.append(move)
        if len(moves) > 1 and rng.random() < 0.3:
            moves[0] += f" over {seconds / 2:g}s"
        return rng.choice([", then ", " then "]).join(moves)

    def extras(self, shot: Shot) -> None:
        rng = self.rng
        if rng.random() < 0.25:
            shot.extras.append(
                "angle: " + rng.choice(["eye level", "low", "high", "overhead", "dutch 15deg"])
            )
        if rng.random() < 0.2:
            shot.extras.append(f"lens: {rng.choice([18, 24, 35, 50, 85, 135])}mm")
        if rng.random() < 0.35:
            self.cue(shot)
        if rng.random() < 0.08:
            shot.extras.append("ref: " + self.next_asset(IMAGES + VIDEOS))
        elif rng.random() < 0.03:
            shot.extras.append("keyframe first: " + self.next_asset(IMAGES))
        elif rng.random() < 0.02:
            shot.extras.append(f"ref: refs/board_{rng.randint(0, 1)}.png")
        if rng.random() < 0.06:
            shot.extras.append(rng.choice(OVERRIDES))

    def cue(self, shot: Shot) -> None:
        rng = self.rng
        asset = self.next_asset(AUDIO)
        kind = {"THEME": "music", "BELL": "sfx", "ENGINE_HUM": "sfx"}.get(asset, "ambience")
        parts = [kind, asset, *self.cue_timing(shot.seconds)]
        if rng.random() < 0.5:
            parts.append(f"gain {rng.choice([-18, -12, -6])}dB")
        if kind == "music" and rng.random() < 0.6:
            parts.append("duck under dialogue")
        shot.extras.append(" ".join(parts))
        shot.sounds.append(f"We hear the {asset.lower().replace('_', ' ')}.")

    def cue_timing(self, seconds: float) -> list[str]:
        """`from`, `for` and fades that fit: the fades never outlast what the cue plays."""
        rng = self.rng
        start = rng.choice([0, 0, 0.5, 1])
        parts, plays = [f"from {start:g}s"], seconds - start
        if rng.random() < 0.2:
            plays = rng.choice([4, 6, 10])
            parts.append(f"for {plays}s")
        fade_in = rng.choice([0, 0, 0.5, 1])
        fade_out = rng.choice([0, 0, 0, 1])
        if fade_in and fade_in + fade_out <= plays:
            parts.append(f"fade in {fade_in:g}s")
        if fade_out and fade_in + fade_out <= plays:
            parts.append(f"fade out {fade_out:g}s")
        return parts

    def next_asset(self, names: list[str]) -> str:
        name = min(names, key=lambda n: (self.uses[n], names.index(n)))
        self.uses[name] += 1
        return name


def _letters(k: int) -> str:
    letters = ""
    k += 1
    while k:
        k, rest = divmod(k - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# ------------------------------------------------------------------ the .shot text


def render_shot_script(play: Screenplay) -> str:
    out = [
        "# A feature-length script generated by bench/frontend.py.",
        f"title: {play.title}",
        "format: 1280x720 @ 24fps",
        "style: 35mm film, muted teal and orange grade, soft haze",
        "negative: text, watermark, extra fingers",
        f"seed: {SEED % 10000}",
        "",
    ]
    out += _declarations(play)
    out += ["FADE IN: 1s", ""]
    for scene in play.scenes:
        out += [f"{scene.prefix} {scene.location} - {scene.time_of_day}", ""]
        for shot in scene.shots:
            out += _shot_lines(shot)
    return "\n".join(out) + "\n"


def _declarations(play: Screenplay) -> list[str]:
    out = []
    for i, (name, refs) in enumerate(play.characters.items()):
        out += [
            f"character {name}",
            f"  description: {CHARACTERS[name]}",
            *[f"  ref: refs/face_{(i + r) % 6}.png" for r in range(refs)],
            f"  voice: {VOICES[i % len(VOICES)]}",
            "",
        ]
    for i, (name, _, description) in enumerate(LOCATIONS):
        out += [f"location {name}", f"  description: {description}"]
        out += [f"  ref: refs/place_{i % 5}.png", ""]
    out += [f"audio {name}: refs/{'score' if i % 2 else 'sea'}.wav" for i, name in enumerate(AUDIO)]
    out += [f"image {name}: refs/board_{i % 2}.png" for i, name in enumerate(IMAGES)]
    out += [f"video {name}: refs/plate.mp4" for name in VIDEOS]
    return out + [""]


def _shot_lines(shot: Shot) -> list[str]:
    subjects = f" on {', '.join(shot.subjects)}" if shot.subjects else ""
    flag = " continuous" if shot.continuous else ""
    out = [f"SHOT {shot.id} {shot.size}{subjects} {shot.duration}{flag}"]
    out.append(f"  camera: {shot.camera}")
    out += [f"  {line}" for line in shot.extras if line.startswith(("angle", "lens"))]
    out += [f"  {line}" for line in shot.actions]
    for speech in shot.speeches:
        extension = f" ({speech.extension})" if speech.extension else ""
        out.append(f"  {speech.speaker}{extension}")
        out += [f"    {speech.parenthetical}"] if speech.parenthetical else []
        out += [f"    {line}" for line in speech.lines]
    out += [f"  {line}" for line in shot.extras if not line.startswith(("angle", "lens"))]
    out.append("")
    return out + ([shot.transition, ""] if shot.transition else [])


# ------------------------------------------------------------------ the Fountain text


def render_fountain(play: Screenplay, lines: int) -> tuple[str, Counter]:
    """The screenplay as Fountain, exactly `lines` long (repeating scenes if it runs short)."""
    title = [f"Title: {play.title}", "Credit: Written by", "Author: bench/frontend.py",
             "Draft date: 1 June 2024", ""]  # fmt: skip
    paragraphs = [("title", title), ("action", ["FADE IN:", ""])]
    while sum(len(p) for _, p in paragraphs) < lines:
        for scene in play.scenes:
            paragraphs += _fountain_scene(scene)
    kept, count, expected = [], 0, Counter()
    for kind, block in paragraphs:
        if count + len(block) > lines:
            break
        kept += block
        count += len(block)
        expected[kind] += 1
    kept += [""] * (lines - count)
    return "\n".join(kept) + "\n", expected


def _fountain_scene(scene: Scene) -> list[tuple[str, list[str]]]:
    place = scene.location.replace("_", " ")
    out = [("scene", [f"{scene.prefix} {place} - {scene.time_of_day}", ""])]
    for shot in scene.shots:
        out += _fountain_shot(shot)
    return out


def _fountain_shot(shot: Shot) -> list[tuple[str, list[str]]]:
    on = f" ON {' AND '.join(shot.subjects)}" if shot.subjects else ""
    moves = [m.strip() for m in shot.camera.replace(", then ", " then ").split(" then ")]
    told = ", then ".join(VERBS[m.split()[0]] + m[len(m.split()[0]) :] for m in moves)
    body = [*shot.actions, f"The camera {told}.", *shot.sounds]
    out = [("action", [f"{shot.size}{on}", ""]), ("action", [*body, ""])]
    for speech in shot.speeches:
        extension = f" ({speech.extension})" if speech.extension else ""
        block = [f"{speech.speaker}{extension}"]
        block += [speech.parenthetical] if speech.parenthetical else []
        kind = "dialogue+paren" if speech.parenthetical else "dialogue"
        out.append((kind, [*block, *speech.lines, ""]))
    if shot.transition:
        fountain = shot.transition.split(":")[0] + ":"
        text = "> FADE OUT." if fountain.startswith("FADE") else fountain
        out.append(("transition", [text, ""]))
    return out


# ------------------------------------------------------------------ reference files


def write_refs(root: Path) -> None:
    """Small real files: PNG portraits/places/boards, WAV beds, an MP4 plate."""
    refs = root / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    for i in range(6):
        _png(refs / f"face_{i}.png", (768, 432), i)
    for i in range(5):
        _png(refs / f"place_{i}.png", (768, 432), 10 + i)
    for i in range(2):
        _png(refs / f"board_{i}.png", (1280, 720), 20 + i)
    _wav(refs / "sea.wav", 110.0)
    _wav(refs / "score.wav", 220.0)
    _mp4(refs / "plate.mp4")


def _gradient(size: tuple[int, int], tint: int):
    import numpy as np

    width, height = size
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    base = np.array([(tint * 37) % 255, (tint * 91) % 255, (tint * 53) % 255]) / 255
    image = 255 * (0.35 + 0.4 * x * base + 0.25 * y * (1 - base))
    return image.clip(0, 255).astype("uint8")


def _png(path: Path, size: tuple[int, int], tint: int) -> None:
    from PIL import Image, ImageDraw

    image = Image.fromarray(_gradient(size, tint))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w // 3, h // 5, 2 * w // 3, 4 * h // 5), outline=(20, 20, 20), width=6)
    image.save(path, optimize=True)


def _wav(path: Path, hz: float) -> None:
    import numpy as np
    import soundfile

    rate = 8000
    t = np.arange(int(AUDIO_SECONDS * rate)) / rate
    soundfile.write(path, 0.2 * np.sin(2 * np.pi * hz * t), rate, subtype="PCM_16")


def _mp4(path: Path, seconds: int = 2) -> None:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(seconds * FPS):
            frame = av.VideoFrame.from_ndarray(_gradient((640, 360), i), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


# ------------------------------------------------------------------ measuring


def best_cpu(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best CPU seconds of `repeat` calls, and the last result.

    The previous result is dropped and garbage collected before each call, so no run
    pays for collecting (or carrying) another run's objects.
    """
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.process_time()
        result = run()
        best = min(best, time.process_time() - start)
    return best, result


def once_cpu(run: Callable[[], Any]) -> tuple[float, Any]:
    return best_cpu(run, 1)


def peak_memory(run: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@dataclass
class FrontEnd:
    """The stages under test, bound to one generated script.

    Each check starts with the media probe cache cleared, as a fresh `director check`
    would; plan includes writing the plan's JSON text, as `director plan` does.
    """

    path: Path

    def parse(self):
        from director.parse import parse_source
        from director.source import SourceFile

        text = self.path.read_text(encoding="utf-8")
        return parse_source(SourceFile(self.path, self.path.name, text))

    def lark_alone(self):
        """lark by itself: the same grammar, lexer and indenter, building a bare parse
        tree with no transformer - the floor of any front end built on lark."""
        text = self.path.read_text(encoding="utf-8")
        return _bare_lark().parse(text)

    def check(self):
        from director import media
        from director.check import check_file

        probe_cache = getattr(media, "_probe_cached", None)
        if probe_cache is not None:
            probe_cache.cache_clear()
        return check_file(self.path)

    def plan(self, film):
        from director.plan import plan_film

        planned = plan_film(film)
        if planned.plan is not None:
            planned.plan.to_json()
        return planned

    def check_and_plan(self):
        checked = self.check()
        return checked, self.plan(checked.film) if checked.film is not None else None


@functools.cache
def _bare_lark():
    from importlib import resources

    from lark import Lark

    from director.parse import ShotIndenter

    grammar = resources.files("grammar").joinpath("shot.lark").read_text(encoding="utf-8")
    return Lark(
        grammar, parser="lalr", lexer="contextual", postlex=ShotIndenter(), maybe_placeholders=False
    )


def fountain_parser(name: str) -> tuple[str, Callable[[str], Any], Callable[[Any], Counter]]:
    """The parser's label, its parse function (text -> document) and an element counter."""
    from importlib.metadata import version

    if name == "screenplain":
        from screenplain.parsers import fountain

        def parse(text: str):
            return fountain.parse(io.StringIO(text))

        return f"screenplain {version('screenplain')}", parse, _screenplain_counts
    from jouvence.parser import JouvenceParser

    return f"jouvence {version('jouvence')}", JouvenceParser().parseString, _jouvence_counts


def _jouvence_counts(document) -> Counter:
    from jouvence import document as jd

    kinds = Counter(p.type for scene in document.scenes for p in scene.paragraphs)
    return Counter(
        scene=sum(1 for s in document.scenes if s.header),
        character=kinds[jd.TYPE_CHARACTER],
        parenthetical=kinds[jd.TYPE_PARENTHETICAL],
        transition=kinds[jd.TYPE_TRANSITION],
    )


def _screenplain_counts(screenplay) -> Counter:
    kinds = Counter(type(p).__name__ for p in screenplay.paragraphs)
    dialogues = [p for p in screenplay.paragraphs if type(p).__name__ == "Dialog"]
    return Counter(
        scene=kinds["Slug"],
        character=kinds["Dialog"],
        parenthetical=sum(1 for d in dialogues for is_paren, _ in d.blocks if is_paren),
        transition=kinds["Transition"],
    )


def expected_counts(paragraphs: Counter) -> Counter:
    return Counter(
        scene=paragraphs["scene"],
        character=paragraphs["dialogue"] + paragraphs["dialogue+paren"],
        parenthetical=paragraphs["dialogue+paren"],
        transition=paragraphs["transition"],
    )


def errors_of(diagnostics) -> list:
    return [d for d in diagnostics if d.severity == "error"]


def _print_diagnostics(diagnostics, limit: int = 20) -> None:
    for d in diagnostics[:limit]:
        print(f"  {d.span} {d.severity} {d.code} {d.name}: {d.message}", file=sys.stderr)
    if len(diagnostics) > limit:
        print(f"  … and {len(diagnostics) - limit} more", file=sys.stderr)


# ------------------------------------------------------------------ the run


def generate(root: Path, shots: int, seed: int) -> dict:
    """Write the project and the Fountain twin; return only what the report needs.

    The screenplay model is dropped here, so the timed runs do not carry (or garbage
    collect) the generator's objects.
    """
    play = Writer(random.Random(seed), shots).screenplay()
    text = render_shot_script(play)
    write_refs(root)
    (root / "feature.shot").write_text(text, encoding="utf-8")
    lines = len(text.splitlines())
    fountain, paragraphs = render_fountain(play, lines)
    (root / "feature.fountain").write_text(fountain, encoding="utf-8")
    return {
        "path": root / "feature.shot",
        "fountain": fountain,
        "lines": lines,
        "fountain_lines": len(fountain.splitlines()),
        "shots": sum(len(scene.shots) for scene in play.scenes),
        "scenes": len(play.scenes),
        "fountain_expected": expected_counts(paragraphs),
    }


def measure(path: Path, fountain: str, repeat: int, which: str) -> dict:
    stages = FrontEnd(path)
    result: dict[str, Any] = {}
    result["first_run_s"], warnings = once_cpu(lambda: _validated(stages.check_and_plan()))
    result["warnings"] = warnings
    result["parse_s"], _ = best_cpu(stages.parse, repeat)
    stages.lark_alone()  # warm-up: builds the bare parser
    result["lark_alone_s"], _ = best_cpu(stages.lark_alone, repeat)
    result["plan_s"] = _time_plan(stages, repeat)
    result["check_s"], _ = best_cpu(stages.check, repeat)
    result["check_plan_s"], _ = best_cpu(stages.check_and_plan, repeat)
    result["peak_tracemalloc_bytes"] = peak_memory(stages.check_and_plan)
    result.update(measure_fountain(fountain, repeat, which))
    result["max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def _time_plan(stages: FrontEnd, repeat: int) -> float:
    film = stages.check().film
    return best_cpu(lambda: stages.plan(film), repeat)[0]


def _validated(outcome) -> Counter:
    """The warnings of a check + plan run; exits if it has errors (the generator's fault)."""
    checked, planned = outcome
    diagnostics = checked.diagnostics + (planned.diagnostics if planned else [])
    bad = errors_of(diagnostics)
    if bad or planned is None or planned.plan is None:
        print(f"the generated script has {len(bad)} errors:", file=sys.stderr)
        _print_diagnostics(bad)
        raise SystemExit(2)
    return Counter(d.name for d in diagnostics)


def measure_fountain(fountain: str, repeat: int, which: str) -> dict:
    label, parse, count = fountain_parser(which)
    parse(fountain)  # warm-up
    seconds, document = best_cpu(lambda: parse(fountain), repeat)
    return {"fountain_parser": label, "fountain_s": seconds, "fountain_counts": count(document)}


def run(args: argparse.Namespace, root: Path) -> dict:
    project = generate(root, args.shots, args.seed)
    gc.collect()
    figures = measure(project.pop("path"), project.pop("fountain"), args.repeat, args.fountain)
    figures.update(project, repeat=args.repeat, seed=args.seed, machine=machine())
    figures["ratio"] = figures["check_plan_s"] / figures["fountain_s"]
    figures["lark_ratio"] = figures["lark_alone_s"] / figures["fountain_s"]
    figures["pass_cpu"] = figures["check_plan_s"] < TARGET_CPU_S
    figures["pass_ratio"] = figures["ratio"] <= 1.0
    return figures


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {"cpu": model, "cpus": os.cpu_count(), "python": platform.python_version()}


# ------------------------------------------------------------------ the report


def _row(label: str, seconds: float, lines: int | None) -> str:
    rate = f"{lines / seconds:>12,.0f}" if lines and seconds > 0 else " " * 12
    return f"  {label:<44}{seconds:>9.3f}{rate}"


def report(f: dict) -> str:
    m = f["machine"]
    mib = 1024 * 1024
    verdict = {True: "PASS", False: "FAIL"}
    out = [
        f"Front-end benchmark: {f['shots']:,} shots in {f['scenes']} scenes, "
        f"{f['lines']:,} lines (.shot), {f['fountain_lines']:,} lines (Fountain)",
        f"machine: {m['cpu']}, {m['cpus']} CPUs, Python {m['python']}; "
        f"best of {f['repeat']} runs, CPU seconds (time.process_time)",
        "",
        f"  {'stage':<44}{'CPU s':>9}{'lines/s':>12}",
        _row("first check + plan (incl. grammar load)", f["first_run_s"], f["lines"]),
        _row("parse only", f["parse_s"], f["lines"]),
        _row("  lark alone (same grammar, bare tree)", f["lark_alone_s"], f["lines"]),
        _row("check (read, parse, resolve, validate)", f["check_s"], f["lines"]),
        _row("plan", f["plan_s"], f["lines"]),
        _row("check + plan", f["check_plan_s"], f["lines"]),
        _row(f"Fountain parse ({f['fountain_parser']})", f["fountain_s"], f["fountain_lines"]),
        "",
        f"  ratio (check + plan) / Fountain parse:  {f['ratio']:.2f}",
        f"  ratio lark alone / Fountain parse:      {f['lark_ratio']:.2f}",
        f"  peak traced memory, check + plan:       {f['peak_tracemalloc_bytes'] / mib:.1f} MiB",
        f"  peak RSS of the whole process:          {f['max_rss_bytes'] / mib:.1f} MiB",
        f"  checker warnings on the script:         {dict(f['warnings']) or 'none'}",
        "",
        f"  target: check + plan under {TARGET_CPU_S:g} s of CPU:        {verdict[f['pass_cpu']]}",
        f"  target: check + plan no slower than Fountain: {verdict[f['pass_ratio']]}",
    ]
    if f["fountain_counts"] != f["fountain_expected"]:
        out.append(
            f"  note: Fountain parser found {dict(f['fountain_counts'])}, "
            f"expected {dict(f['fountain_expected'])}"
        )
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shots", type=int, default=1500, help="shots to generate (1500)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per stage (5)")
    parser.add_argument("--seed", type=int, default=SEED, help="generator seed")
    parser.add_argument(
        "--fountain",
        choices=["jouvence", "screenplain"],
        default="jouvence",
        help="the Fountain parser to compare with (jouvence)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", type=Path, help="write the project into DIR and keep it")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.shots < 1:
        parser.error("--shots and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for module in ("director.parse", "director.check", "director.plan"):
        importlib.import_module(module)  # imports are not measured

    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = run(args, args.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="shot-bench-") as tmp:
            figures = run(args, Path(tmp).resolve())
    print(json.dumps(figures, indent=2, default=dict) if args.json else report(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
