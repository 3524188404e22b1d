"""Shared by the runtime benchmarks: a seeded film project, and compiling it in a subprocess.

`write_project(root, ...)` writes a `.shot` script and the small, real
reference files it names into `root`:

* four location plates (960×540 PNG) and four characters (480×640 PNG), three
  of them figures on a flat background (which the animatic keys) and one a
  cut-out with transparency; two characters have a second, profile picture;
* a 30-second music bed, a 20-second sea ambience and a 1.5-second bell
  (WAV through soundfile, at 44.1 and 22.05 kHz, so the mix resamples them).

The script is 1280×720 @ 24 fps on the `preview` backend: scenes of four to
seven shots, each on a declared location; every shot has a size, a camera
move (statics, pans, tilts, zooms, dollies, trucks, orbits, handheld, `track`
and chained moves), one action line, and about two in five have dialogue;
scenes are joined by cuts, dissolves and fades, the film opens with a fade in
and ends with a fade out; music, ambience and sfx cues come in at scene
starts.  A film of a given length repeats one seeded "reel" of shots (same
mix, new ids), so a 2-minute and a 20-minute film cost the same per second.

`compile_film(...)` runs `python -m director compile` in a fresh process,
with its progress going to a file (not a terminal, so the runtime prints one
line per node it runs), and returns the wall time, the peak RSS from
`os.wait4` and the per-node timings parsed from those lines.
"""

from __future__ import annotations

import math
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FPS = 24
WIDTH, HEIGHT = 1280, 720
REPO = Path(__file__).resolve().parents[1]

CHARACTERS = {
    "MARA": ("a lighthouse keeper in her sixties, grey braid, yellow oilskin coat", "low and calm"),
    "TOM": ("a boy of ten in a red knitted jumper and muddy boots", "quick and bright, a boy"),
    "ELSPETH": ("a woman in her thirties, long dark coat, silver brooch", "warm, a woman"),
    "CALLUM": ("a fisherman in his forties, tweed cap pulled low", "deep and slow, a man"),
}
LOCATIONS = {
    "LAMP_ROOM": ("INT.", "cramped lamp room atop a lighthouse, brass lens, rain on the glass"),
    "HARBOUR": ("EXT.", "small stone harbour, fishing boats knocking against the wall"),
    "COTTAGE": ("INT.", "low-ceilinged kitchen, peat fire, oilcloth on the table"),
    "BEACH": ("EXT.", "wide pale beach, kelp lines and a wrecked rowing boat"),
}
TIMES = ["NIGHT", "DAY", "DAWN", "DUSK"]

# Sizes, with how many of the scene's characters the shot is "on".
SIZES = [
    ("EXTREME WIDE", 0), ("WIDE", 2), ("FULL", 1), ("MEDIUM WIDE", 2), ("MEDIUM", 1),
    ("MEDIUM CLOSE-UP", 1), ("CLOSE-UP", 1), ("TWO-SHOT", 2), ("OVER-THE-SHOULDER", 2),
    ("INSERT", 0),
]  # fmt: skip
MOVES = [
    "static", "static", "handheld", "pan left 20deg", "pan right 30deg slow", "tilt up 10deg",
    "tilt down 15deg ease out", "zoom in 1.3x ease in", "zoom out 1.2x", "dolly in slow",
    "dolly out", "truck right", "truck left slow", "orbit left 45deg slow", "pedestal up",
    "crane down slow, then dolly in ease out", "pan right 20deg, then static", "track {a}",
]  # fmt: skip
ONE = [
    "{a} polishes the great brass lens while rain hammers the windows.",
    "{a} climbs the spiral stair, one hand on the cold iron rail.",
    "{a} lights a storm lantern and sets it on the sill.",
    "{a} stares out at the black water, jaw set.",
    "{a} pulls on an oilskin and fastens every toggle.",
    "{a} reads a damp letter twice, then folds it away.",
    "{a} pours tea from a dented pot into two chipped mugs.",
    "{a} scans the horizon through an old brass telescope.",
]
TWO = [
    "{a} hands {b} a steaming mug without a word.",
    "{b} watches {a} from the foot of the stairs.",
    "{a} and {b} haul the boat above the tide line.",
    "{a} shows {b} how to trim the wick.",
]
EMPTY = [
    "The beam sweeps across a black, heaving sea.",
    "Rain streaks the glass in long silver threads.",
    "Gulls wheel and scream above the harbour wall.",
    "Spray bursts over the rocks in white sheets.",
]
SPEECH = [
    "Another night, old friend.", "You should not be up here.", "The glass is falling fast.",
    "Bring the lantern, and mind the steps.", "She always comes back on the tide.",
    "Tell me the truth this time.", "The ferry will not run tomorrow.", "Keep your voice down.",
    "That boat should have been in hours ago.", "Leave it. It will keep till morning.",
]  # fmt: skip
CUES = [
    "  music THEME from 0s for 24s fade in 2s fade out 3s gain -8dB duck under dialogue",
    "  ambience SEA from 0s for 16s fade in 1s fade out 2s gain -14dB",
    "  sfx BELL from 1s gain -6dB",
]
SCENE_CUTS = ["CUT TO:", "DISSOLVE TO: 12f", "FADE OUT: 1s", "DISSOLVE TO: 0.5s", "CUT TO:"]


@dataclass
class Shot:
    id: str
    lines: list[str]  # the shot's block, header first
    seconds: float
    action: str  # its action line (without indentation), the one an edit changes
    dialogue: bool


@dataclass
class Film:
    text: str
    shots: list[Shot]
    transitions: list[str] = field(default_factory=list)

    def shot(self, shot_id: str) -> Shot:
        return next(s for s in self.shots if s.id == shot_id)


# ------------------------------------------------------------------ the script


def _reel(rng: random.Random, count: int, seconds: tuple[float, float]) -> list[dict]:
    """`count` seeded shot designs, grouped into scenes; ids are given later."""
    lo, hi = seconds
    steps = [lo + 0.5 * k for k in range(int(round((hi - lo) / 0.5)) + 1)]
    designs = []
    names, places = list(CHARACTERS), list(LOCATIONS)
    scene = -1
    left = 0
    cast: list[str] = []
    for _ in range(count):
        new_scene = left == 0
        if new_scene:
            scene += 1
            left = rng.randint(4, 7)
            cast = rng.sample(names, 2)
        left -= 1
        size, on = rng.choice(SIZES)
        people = cast[: max(on, 1)] if size not in ("EXTREME WIDE", "INSERT") else []
        if size == "CLOSE-UP" and rng.random() < 0.5:
            people = [cast[1]]
        duration = rng.choice(steps)
        if len(people) == 2:  # both appear, so the shot is "on" them
            action = rng.choice(TWO).format(a=people[0], b=people[1])
        elif people:
            action = rng.choice(ONE).format(a=people[0])
        else:
            action = rng.choice(EMPTY)
        move = rng.choice(MOVES)
        if "{a}" in move:
            move = move.format(a=people[0]) if people else "pan left 20deg"
        speech = None
        if people and rng.random() < 0.4:
            speech = (rng.choice(people), rng.choice(SPEECH))
        designs.append(
            {
                "scene": scene,
                "new_scene": new_scene,
                "place": places[scene % len(places)],
                "time": TIMES[scene % len(TIMES)],
                "size": size,
                "on": people if on else [],
                "seconds": duration,
                "move": move,
                "action": action,
                "speech": speech,
                "cut": rng.choice(SCENE_CUTS),
            }
        )
    return designs


def film_script(
    *,
    shots: int | None = None,
    minutes: float | None = None,
    seconds: tuple[float, float] = (3.0, 6.0),
    seed: int = 7,
    reel: int = 24,
    title: str = "Bench Reel",
) -> Film:
    """A script of `shots` shots, or of about `minutes` of film, from a repeated reel."""
    rng = random.Random(seed)
    designs = _reel(rng, reel if shots is None else min(reel, shots), seconds)
    target = None if minutes is None else minutes * 60
    out: list[Shot] = []
    transitions: list[str] = []
    header = [
        f"title: {title}",
        f"format: {WIDTH}x{HEIGHT} @ {FPS}fps",
        "backend: preview",
        "style: 35mm film, muted teal and orange grade, soft haze",
        "negative: text, watermark",
        f"seed: {seed}",
        "",
    ]
    for name, (description, voice) in CHARACTERS.items():
        header += [f"character {name}", f"  description: {description}"]
        header += [f"  ref: refs/{name.lower()}_front.png"]
        if name in ("MARA", "TOM"):
            header += [f"  ref: refs/{name.lower()}_profile.png"]
        header += [f"  voice: {voice}", ""]
    for name, (_, description) in LOCATIONS.items():
        header += [f"location {name}", f"  description: {description}"]
        header += [f"  ref: refs/{name.lower()}.png", ""]
    header += ["audio THEME: refs/theme.wav", "audio SEA: refs/sea.wav"]
    header += ["audio BELL: refs/bell.wav", "", "FADE IN: 1s", ""]

    body: list[str] = []
    film_seconds = 0.0
    scene_no = -1
    previous: dict | None = None
    for index in range(1, 10**6):
        if shots is not None and index > shots:
            break
        if target is not None and film_seconds >= target - 0.25:
            break
        design = designs[(index - 1) % len(designs)]
        if design["new_scene"] or previous is None:
            scene_no += 1
            if previous is not None:  # the previous scene's way out
                cut = previous["cut"]
                transitions.append(cut)
                body += [cut, ""]
                if cut.startswith("DISSOLVE"):
                    film_seconds -= 0.5  # a dissolve overlaps its two shots
            body += [f"{LOCATIONS[design['place']][0]} {design['place']} - {design['time']}", ""]
        length = design["seconds"]
        if target is not None and target - film_seconds <= seconds[1]:
            # The last shot: land on the target length, within the range of lengths.
            length = max(seconds[0], round((target - film_seconds) * 2) / 2)
        sid = str(index)
        on = f" on {', '.join(design['on'])}" if design["on"] else ""
        lines = [f"SHOT {sid} {design['size']}{on} {length:g}s"]
        lines.append(f"  camera: {design['move']}")
        lines.append(f"  {design['action']}")
        if design["speech"]:
            speaker, text = design["speech"]
            lines += [f"  {speaker}", f"    {text}"]
        if design["new_scene"] or previous is None:
            lines.append(CUES[scene_no % len(CUES)])
        out.append(Shot(sid, lines, length, design["action"], design["speech"] is not None))
        body += lines + [""]
        film_seconds += length
        previous = design
    body += ["FADE OUT: 2s", ""]
    transitions.append("FADE OUT: 2s")
    return Film("\n".join(header + body), out, transitions)


# ------------------------------------------------------------------ the files


def write_refs(root: Path, seed: int = 7) -> None:
    """The pictures and sounds the script names, small and real, under root/refs."""
    from PIL import Image, ImageDraw, ImageFilter

    refs = root / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tints = [(40, 60, 90), (90, 110, 130), (120, 80, 50), (170, 160, 120)]
    for k, name in enumerate(LOCATIONS):
        w, h = 960, 540
        top, bottom = np.array(tints[k]), np.array(tints[(k + 2) % 4]) * 0.5
        ramp = np.linspace(0.0, 1.0, h)[:, None, None]
        pixels = (top * (1 - ramp) + bottom * ramp) * np.ones((h, w, 3))
        pixels += rng.normal(0, 6, (h, w, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        horizon = int(h * (0.45 + 0.1 * k / 4))
        draw.rectangle((0, horizon, w, h), fill=tuple(int(c * 0.6) for c in tints[(k + 1) % 4]))
        for _ in range(12):
            x, y = int(rng.integers(0, w)), int(rng.integers(horizon - 120, h))
            r = int(rng.integers(15, 70))
            colour = tuple(int(c) for c in rng.integers(30, 220, 3))
            draw.rectangle((x, y - r, x + r * 2, y + r), fill=colour)
        image.filter(ImageFilter.GaussianBlur(1.2)).save(refs / f"{name.lower()}.png")
    coats = [(220, 190, 40), (190, 40, 40), (40, 40, 50), (90, 80, 60)]
    for k, name in enumerate(CHARACTERS):
        for view in ("front", "profile") if name in ("MARA", "TOM") else ("front",):
            w, h = 480, 640
            transparent = name == "CALLUM"
            background = (0, 0, 0, 0) if transparent else (200, 205, 210, 255)
            image = Image.new("RGBA", (w, h), background)
            draw = ImageDraw.Draw(image)
            cx = w // 2 + (40 if view == "profile" else 0)
            draw.ellipse((cx - 70, 60, cx + 70, 230), fill=(225, 190, 160, 255))
            draw.polygon(
                [(cx - 150, h), (cx - 110, 260), (cx + 110, 260), (cx + 150, h)],
                fill=(*coats[k], 255),
            )
            draw.ellipse((cx - 30, 120, cx - 15, 135), fill=(30, 30, 30, 255))
            if view == "front":
                draw.ellipse((cx + 15, 120, cx + 30, 135), fill=(30, 30, 30, 255))
            draw.rectangle((cx - 75, 40, cx + 75, 90), fill=(120, 120, 120, 255))
            if not transparent:
                image = image.convert("RGB")
            image.save(refs / f"{name.lower()}_{view}.png")
    _wav(refs / "theme.wav", 30.0, 44100, _chords)
    _wav(refs / "sea.wav", 20.0, 22050, _surf)
    _wav(refs / "bell.wav", 1.5, 44100, _bell)


def _wav(path: Path, seconds: float, rate: int, make) -> None:
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(path, make(t).astype(np.float32), rate, subtype="PCM_16")


def _chords(t: np.ndarray) -> np.ndarray:
    roots = [220.0, 174.6, 261.6, 196.0]
    chord = (t // 2.5).astype(int) % len(roots)
    base = np.asarray(roots)[chord]
    wave = sum(np.sin(2 * math.pi * base * m * t) / m for m in (1.0, 1.25, 1.5, 2.0))
    swell = 0.6 + 0.4 * np.sin(2 * math.pi * t / 2.5 - math.pi / 2) ** 2
    return 0.18 * wave * swell


def _surf(t: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(3).normal(0, 1, len(t))
    smooth = np.convolve(noise, np.ones(32) / 32, mode="same")
    return 0.5 * smooth * (0.5 + 0.5 * np.sin(2 * math.pi * t / 6.0) ** 2)


def _bell(t: np.ndarray) -> np.ndarray:
    partials = np.sin(2 * math.pi * 880 * t) + 0.4 * np.sin(2 * math.pi * 2210 * t)
    return 0.5 * np.exp(-3 * t) * partials


def write_project(root: Path, film: Film, name: str = "film.shot", seed: int = 7) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "refs" / "bell.wav").exists():
        write_refs(root, seed)
    path = root / name
    path.write_text(film.text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ compiling


NODE_LINE = re.compile(r"^\[\s*\d+/\d+ shots\] (\S+)\s+(\S+)\s+([\d.]+)s$")
DONE_LINE = re.compile(r"done in ([\d.]+)s: ran (\d+) nodes, reused (\d+) from the cache")


@dataclass
class Compiled:
    returncode: int
    wall_s: float
    max_rss_kib: int  # ru_maxrss from wait4: the largest process of the tree
    user_s: float
    system_s: float
    nodes: list[tuple[str, str, float]]  # (op, id, seconds) of each node that ran
    execute_s: float | None  # the runtime's own "done in" figure
    ran: int | None
    reused: int | None
    log: str

    def by_op(self) -> dict[str, tuple[int, float]]:
        table: dict[str, tuple[int, float]] = {}
        for op, _, seconds in self.nodes:
            count, total = table.get(op, (0, 0.0))
            table[op] = (count + 1, total + seconds)
        return table


def compile_film(
    script: Path,
    output: Path,
    cache: Path,
    *,
    log: Path | None = None,
    extra: tuple[str, ...] = (),
    prefix: tuple[str, ...] = (),
    on_start=None,
) -> Compiled:
    """`python -m director compile SCRIPT -o OUTPUT --cache CACHE` in a fresh process.

    `prefix` goes between the interpreter and `-m director` (e.g. a profiler's
    `-m cProfile -o FILE`); `on_start(pid)` is called once the process runs.
    Wall time is taken around the whole process, interpreter start-up included.
    """
    log = log or output.with_suffix(".log")
    command = [sys.executable, *prefix, "-m", "director", "compile", str(script)]
    command += ["-o", str(output), "--cache", str(cache), *extra]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    with log.open("w", encoding="utf-8") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=REPO,  # `-m` puts the working directory first on sys.path
        )
        if on_start is not None:
            on_start(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(encoding="utf-8", errors="replace")
    nodes = []
    execute_s = ran = reused = None
    for line in text.splitlines():
        if match := NODE_LINE.match(line.strip()):
            nodes.append((match[1], match[2], float(match[3])))
        elif match := DONE_LINE.search(line):
            execute_s, ran, reused = float(match[1]), int(match[2]), int(match[3])
    return Compiled(
        returncode=process.returncode,
        wall_s=wall,
        max_rss_kib=usage.ru_maxrss,
        user_s=usage.ru_utime,
        system_s=usage.ru_stime,
        nodes=nodes,
        execute_s=execute_s,
        ran=ran,
        reused=reused,
        log=text,
    )


def film_seconds(plan_json: Path) -> tuple[int, float]:
    """The compiled film's frame count and length in seconds, from its plan sidecar."""
    import json

    plan = json.loads(plan_json.read_text(encoding="utf-8"))
    timeline = plan["timeline"]
    frames = timeline["frames"]
    return frames, frames * plan["fps_den"] / plan["fps_num"]


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    import platform

    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "commit": _commit(),
    }


def _commit() -> str:
    """The commit measured, with '+' when the working tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "director", "backends"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+" if dirty else "")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
