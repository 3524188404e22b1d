"""What a compile decided, and why: the run record and `film.report.html`.

`build_record` gathers, from the plan and the cache entries a run produced,
one record per shot: its prompt, its characters and their references, every
candidate take (planned or retried) with its seed and scores per character,
the chosen take and the decision in words, and how long each part took.
`compile` writes it beside the film as `film.run.json`.

`render_report` turns a record into one self-contained HTML page (every
image inlined as a data URI, no script, no network): a row per shot with
reference thumbnails, keyframes of each take with the characters' regions
outlined, scores per character, the chosen take and why, the prompt and
timings.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from .cache import Cache, Entry
from .plan import Plan
from .plan_nodes import Consistency as ConsistencyNode
from .plan_nodes import Generate, Join, Prompt, shot_node, take_node

RECORD_VERSION = 1
THUMB_HEIGHT = 96


def build_record(
    plan: Plan,
    entry: Callable[[str], Entry | None],
    *,
    seconds: dict[str, float] | None = None,
    reused: set[str] | None = None,
) -> dict:
    """The run record of a compiled plan.  `entry` finds a node's cache entry by id;
    `seconds` is how long each node took in this run (reused nodes took none)."""
    seconds, reused = seconds or {}, reused or set()
    nodes = {node.id: node for node in plan.nodes}
    scoring = next((n.params for n in plan.of_class(ConsistencyNode)), None)
    shots: list[dict[str, Any]] = []
    for placed in plan.timeline.shots:
        shot = placed.shot
        select_id = shot_node(shot, "select")
        select = entry(select_id)
        prompt = plan.get(shot_node(shot, "prompt"))
        take0 = plan.get(take_node(shot, 0, "window0"))
        direction = take0.params.shot if isinstance(take0, Generate) else None
        meta = dict(select.meta) if select is not None else {}
        meta.pop("appearances", None)  # vectors: in the cache, not for people
        timing = {"generate": 0.0, "consistency": 0.0, "select": seconds.get(select_id, 0.0)}
        for node_id, took in seconds.items():
            node = nodes.get(node_id)
            if (
                node is not None
                and node.shot == shot
                and isinstance(node, Generate | Join | ConsistencyNode)
            ):
                key = "consistency" if isinstance(node, ConsistencyNode) else "generate"
                timing[key] += took
        shots.append(
            {
                "shot": shot,
                "size": direction.size if direction else None,
                "frames": placed.frames,
                "backend": take0.params.backend if isinstance(take0, Generate) else None,
                "prompt": prompt.params.text if isinstance(prompt, Prompt) else "",
                "characters": {c.name: c.refs for c in direction.characters} if direction else {},
                "select": meta,
                # only where the plan makes some: records of other plans are as before
                **({"keyframes": made} if (made := _keyframes_of(shot, entry)) else {}),
                "reused": select_id in reused,
                "seconds": {k: round(v, 3) for k, v in timing.items()},
            }
        )
    below = [s["shot"] for s in shots if s["select"].get("reached") is False]
    return {
        "record": RECORD_VERSION,
        "title": plan.title,
        "plan": nodes[plan.output].hash,
        "fps": [plan.fps_num, plan.fps_den],
        "consistency": None
        if scoring is None
        else {
            "embedder": scoring.embedder,
            "scoring": scoring.scoring,
            "model": scoring.model,
        },  # fmt: skip
        "shots": shots,
        "below_minimum": below,
        "seconds": round(sum(seconds.values()), 3),
    }


def _keyframes_of(shot: str, entry: Callable[[str], Entry | None]) -> list[dict]:
    """The shot's generated keyframes: each try with its seed and score, which was
    accepted, and the cache entry that holds the pictures."""
    made = []
    for end in ("first", "last"):
        found = entry(shot_node(shot, f"keyframe_{end}"))
        if found is not None:
            made.append({**found.meta, "entry": found.folder.name})
    return made


def keyframe_warnings(record: dict) -> list[str]:
    """One line per generated keyframe none of whose tries reached its minimum."""
    return [
        keyframe_problem(shot["shot"], made)
        for shot in record["shots"]
        for made in shot.get("keyframes", [])
        if made.get("reached") is False
    ]


def keyframe_problem(shot: str, made: dict) -> str:
    """What is wrong with a keyframe below its minimum (`made`: its entry's meta)."""
    tries = ", ".join(f"try {t['try']}: {t['score']:.2f}" for t in made["tries"])
    return (
        f"shot {shot}: no try of its {made['end']} keyframe reached consistency "
        f"{made['minimum']:.2f} ({tries})"
    )


def warnings(record: dict) -> list[str]:
    """One line per shot whose kept take, or a generated keyframe, is below its minimum."""
    lines = keyframe_warnings(record)
    for shot in record["shots"]:
        chosen = shot["select"]
        if chosen.get("reached") is False:
            lines.append(f"shot {shot['shot']}: no take reached consistency "
                         f"{chosen['minimum']:.2f}: {chosen['decision']}")  # fmt: skip
    return lines


# ------------------------------------------------------------------- HTML


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#15171a;color:#e8e8e8}
header{padding:16px 24px;background:#202328;border-bottom:1px solid #333}
h1{margin:0 0 4px;font-size:22px} .muted{color:#9aa0a6}
table{border-collapse:collapse;width:100%}
th,td{vertical-align:top;text-align:left;padding:10px 12px;border-bottom:1px solid #2c2f34}
th{background:#1b1d21;font-weight:600;position:sticky;top:0}
.shot{font-size:18px;font-weight:700} .refs img,.frames img{height:72px;margin:0 4px 4px 0;
border-radius:3px} .take{display:inline-block;margin:0 10px 10px 0;padding:6px;
border:2px solid #30343a;border-radius:6px;background:#1c1f23}
.take.chosen{border-color:#3fb950;background:#17261b} .take.retry .label::after{content:" retry";
color:#d29922} .label{font-weight:600} table.scores td,table.scores th{padding:1px 6px;border:0;
font-size:12px;background:none;position:static}
.bad{color:#f85149} .good{color:#3fb950} .why{max-width:360px}
.prompt{max-width:320px;white-space:pre-wrap;font-size:12px;color:#c9d1d9}
.status{display:inline-block;padding:1px 8px;border-radius:9px;font-size:12px}
.note{font-size:12px;max-width:380px}
.status.ok{background:#238636} .status.below{background:#da3633} .status.none{background:#444}
"""


def _sound_summary(sound: dict | None) -> str:
    """The delivered sound's loudness and true peak, as the header says them."""
    if not sound:
        return ""
    delivered = sound["delivered"]
    if delivered["integrated_lufs"] is None:
        return " · sound: silent"
    target = sound["target_lufs"]
    aim = f"target {target:g} LUFS" if target is not None else "not normalised"
    return (
        f" · sound {delivered['integrated_lufs']:.1f} LUFS, true peak "
        f"{delivered['true_peak_dbtp']:.1f} dBTP ({aim})"
    )


def render_report(record: dict, cache: Cache, root: Path) -> str:
    """The record as one self-contained HTML page."""
    scoring = record.get("consistency") or {}
    rows = "\n".join(_row(shot, cache, root) for shot in record["shots"])
    below = len(record["below_minimum"])
    summary = (
        f"{len(record['shots'])} shots · embedder {html.escape(str(scoring.get('embedder')))}"
        if scoring else f"{len(record['shots'])} shots · no character has reference images"
    )  # fmt: skip
    if below:
        summary += f" · <span class='bad'>{below} below their minimum</span>"
    summary += _sound_summary(record.get("sound"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(record["title"])} — consistency report</title>
<style>{STYLE}</style></head>
<body>
<header><h1>{html.escape(record["title"])}</h1>
<div class="muted">{summary} · plan {record["plan"][:12]}</div></header>
<table>
<thead><tr><th>shot</th><th>references</th><th>takes</th><th>chosen, and why</th>
<th>prompt</th><th>time</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""


def _row(shot: dict, cache: Cache, root: Path) -> str:
    select = shot["select"]
    refs = (
        "".join(
            f"<div>{html.escape(name)}</div><div class='refs'>"
            + "".join(_img(_thumb_file(root / path), f"{name}: {path}") for path in paths)
            + "</div>"
            for name, paths in shot["characters"].items()
        )
        or "<span class='muted'>none</span>"
    )
    takes = "".join(
        _keyframe_try(made, attempt, cache) for made in shot.get("keyframes", [])
        for attempt in made["tries"]
    ) + "".join(
        _take(candidate, candidate["take"] == select.get("take"), cache)
        for candidate in select.get("candidates", [])
    )  # fmt: skip
    reached = select.get("reached")
    status = {True: ("ok", "reached"), False: ("below", "below minimum")}.get(
        reached, ("none", "no minimum" if select.get("score") is not None else "not measured")
    )
    minimum = select.get("minimum")
    why = (
        f"<div><span class='status {status[0]}'>{status[1]}</span> "
        f"take {select.get('take', 0)}"
        + (f" · score {select['score']:.2f}" if select.get("score") is not None else "")
        + (f" · minimum {minimum:.2f}" if minimum is not None else "")
        + f"</div><p>{html.escape(select.get('decision', ''))}</p>"
    )
    timing = shot["seconds"]
    time_cell = (
        "<span class='muted'>from the cache</span>" if shot["reused"] else
        f"generate {timing['generate']:.1f}s<br>score {timing['consistency']:.1f}s<br>"
        f"select {timing['select']:.1f}s"
    )  # fmt: skip
    return (
        f"<tr id='shot-{html.escape(shot['shot'])}' class='shot-row'>"
        f"<td><div class='shot'>{html.escape(shot['shot'])}</div>"
        f"<div class='muted'>{html.escape(str(shot['size'] or ''))} · {shot['frames']} frames"
        f"<br>{html.escape(str(shot['backend'] or ''))}</div></td>"
        f"<td>{refs}</td><td>{takes}</td><td class='why'>{why}</td>"
        f"<td><div class='prompt'>{html.escape(shot['prompt'])}</div></td>"
        f"<td class='muted'>{time_cell}</td></tr>"
    )


def _take(candidate: dict, chosen: bool, cache: Cache) -> str:
    classes = "take" + (" chosen" if chosen else "") + (" retry" if candidate.get("retry") else "")
    folder = cache.folder(candidate["entry"])
    frames = sorted((folder / "frames").glob("*.jpg")) if (folder / "frames").is_dir() else []
    if frames:
        picked = [frames[0], frames[len(frames) // 2], frames[-1]] if len(frames) > 3 else frames
        pictures = "".join(_img(_thumb_file(p), p.name) for p in dict.fromkeys(picked))
    else:
        pictures = "".join(_img(image, "frame") for image in _keyframes(folder / "clip.mp4"))
    scores = ""
    if candidate.get("characters"):
        cells = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{_num(c.get('reference'))}</td>"
            f"<td>{_num(c.get('drift'))}</td><td>{_num(c.get('score'), strong=True)}</td>"
            f"<td class='muted'>{html.escape(c.get('embedder', ''))}</td></tr>"
            for name, c in candidate["characters"].items()
        )
        notes = "".join(
            f"<div class='muted note'>{html.escape(name)}: {html.escape(c['note'])}</div>"
            for name, c in candidate["characters"].items()
            if c.get("note")
        )
        scores = (
            "<table class='scores'><tr><th></th><th>refs</th><th>drift</th><th>score</th>"
            f"<th></th></tr>{cells}</table>{notes}"
        )
    seed = candidate.get("seed")
    head = (
        f"<div><span class='label'>take {candidate['take']}</span> "
        f"<span class='muted'>seed {seed if seed is not None else '?'}"
        + (f" · {candidate['score']:.2f}" if candidate.get("score") is not None else "")
        + "</span></div>"
    )
    return f"<div class='{classes}'>{head}<div class='frames'>{pictures}</div>{scores}</div>"


def _keyframe_try(made: dict, attempt: dict, cache: Cache) -> str:
    """One try of a generated keyframe: its picture, seed and score; the accepted one
    outlined as a chosen take is."""
    chosen = attempt["try"] == made["accepted"]
    classes = "take keyframe" + (" chosen" if chosen else "")
    picture = _img(_thumb_file(cache.folder(made["entry"]) / attempt["file"]), attempt["file"])
    score = attempt.get("score")
    head = (
        f"<div><span class='label'>{made['end']} keyframe, try {attempt['try']}</span> "
        f"<span class='muted'>seed {attempt['seed']}"
        + (f" · <span class='kf-score'>{score:.2f}</span>" if score is not None else "")
        + "</span></div>"
    )
    return f"<div class='{classes}'>{head}<div class='frames'>{picture}</div></div>"


def _num(value, strong: bool = False) -> str:
    if value is None:
        return "<span class='muted'>–</span>"
    style = "good" if value >= 0.5 else "bad"
    text = f"{value:.2f}"
    return f"<span class='{style}'>{'<b>' + text + '</b>' if strong else text}</span>"


def _thumb_file(path: Path) -> Image.Image | None:
    try:
        with Image.open(path) as image:
            image.draft("RGB", (THUMB_HEIGHT * 4, THUMB_HEIGHT * 2))
            picture = image.convert("RGB")
    except OSError:
        return None
    scale = THUMB_HEIGHT * 2 / picture.height
    if scale < 1:
        picture = _shrunk(picture, scale)
    return picture


def _keyframes(clip: Path) -> list[Image.Image]:
    """The first, middle and last frames of a clip that was not scored."""
    from .consistency import sampled_frames

    if not clip.exists():
        return []
    try:
        _, frames, _ = sampled_frames(clip)
    except Exception:  # an unreadable clip costs the report its pictures, nothing else
        return []
    picked = [frames[0], frames[len(frames) // 2], frames[-1]] if frames else []
    images = []
    for frame in picked:
        image = Image.fromarray(frame)
        images.append(_shrunk(image, THUMB_HEIGHT * 2 / image.height))
    return images


def _shrunk(image: Image.Image, scale: float) -> Image.Image:
    """`image` at `scale`, box-reduced by whole factors first (`reducing_gap`): a 720p
    frame shrinks to a thumbnail four times faster than by bicubic alone, and looks
    the same at that size."""
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, reducing_gap=3.0)


def _img(image: Image.Image | None, title: str) -> str:
    if image is None:
        return ""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f"<img alt='{html.escape(title)}' title='{html.escape(title)}' "
        f"src='data:image/jpeg;base64,{data}'>"
    )
