"""`director storyboard`: only the keyframes, laid out for a director to review.

The plan's `keyframe` nodes (and the assets they read) are made over the
cache, as `compile` makes them before any video; then three things are
written into one folder, `NAME.storyboard/`:

- `ID.png` (and `ID.last.png`) for each shot: the accepted keyframe, at the
  film's size, named so a script can pin it (`keyframe first: NAME.storyboard/7.png`);
- `index.html`: one self-contained page (pictures inlined), a panel per shot;
- `storyboard.pdf`: one page per shot, the same panel.

A panel is the shot's first keyframe with its camera move drawn as an arrow
over it, its id, size, duration, dialogue, cues and consistency score.  A
shot with no keyframe of its own (a `continuous` one, or one pinned to a
file) shows its pinned picture or says where it starts from.
"""

from __future__ import annotations

import base64
import html
import io
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .cache import Cache, Entry
from .operations import KEYFRAME, RunContext
from .plan import Plan
from .plan_nodes import Generate, Keyframe, shot_node, take_node
from .progress import Progress
from .run import RunResult, execute

PANEL_WIDTH = 960  # the keyframe's width on a panel, in pixels (and PDF points at 100 dpi)
ARROWS = {  # camera move (and direction) → the arrow's direction on the frame, (dx, dy)
    ("pan", "left"): (-1, 0), ("pan", "right"): (1, 0), ("truck", "left"): (-1, 0),
    ("truck", "right"): (1, 0), ("orbit", "left"): (-1, 0), ("orbit", "right"): (1, 0),
    ("tilt", "up"): (0, -1), ("tilt", "down"): (0, 1), ("pedestal", "up"): (0, -1),
    ("pedestal", "down"): (0, 1), ("crane", "up"): (0, -1), ("crane", "down"): (0, 1),
}  # fmt: skip
INWARD = {"dolly", "zoom"}  # in/out: drawn as arrows towards (or away from) the centre


@dataclass
class Panel:
    """One shot as the storyboard shows it."""

    shot: str
    size: str
    seconds: float
    camera: list[str]  # each move, in words: "pan left", "dolly in"
    dialogue: list[str]  # "MARA: The lamp's failing."
    cues: list[str]  # "music THEME"
    keyframes: dict[str, Path] = field(default_factory=dict)  # "first"/"last" → picture
    score: float | None = None  # the accepted first keyframe's, where it was scored
    minimum: float | None = None
    note: str = ""  # why it has no keyframe of its own


@dataclass
class Written:
    folder: Path
    html: Path
    pdf: Path
    pngs: list[Path]
    result: RunResult


def make_keyframes(plan: Plan, root: Path, cache: Cache, context: RunContext) -> RunResult:
    """Every keyframe of the plan (and only what they read), through the cache."""
    wanted = [node.id for node in plan.of_class(Keyframe)]
    quiet = Progress(len(plan.timeline.shots), mode="quiet")
    return execute(plan.upstream(wanted), root, cache, keep_going=True, progress=quiet,
                   context=context)  # fmt: skip


def write_storyboard(plan: Plan, root: Path, cache: Cache, folder: Path,
                     runtime: dict[str, dict] | None = None) -> Written:  # fmt: skip
    """Make the keyframes and write the storyboard into `folder` (made if missing; the
    files it writes replace theirs, anything else there is left).  `runtime`: where
    the image model runs (RunContext.runtime)."""
    result = make_keyframes(plan, root, cache, RunContext(plan, root, runtime=runtime or {}))
    panels = panels_of(plan, root, result.outputs)
    folder.mkdir(parents=True, exist_ok=True)
    pngs = []
    for panel in panels:
        for end, picture in panel.keyframes.items():
            target = folder / f"{panel.shot}{'' if end == 'first' else '.' + end}.png"
            # A shot may pin the very file an earlier storyboard wrote: it stays.
            if not (target.exists() and target.samefile(picture)):
                shutil.copyfile(picture, target)
            pngs.append(target)
    pictures = [draw_panel(panel) for panel in panels]
    page = folder / "index.html"
    page.write_text(render_html(plan.title, panels, pictures), encoding="utf-8")
    pdf = folder / "storyboard.pdf"
    # Pillow's PDF writer (Pillow is already a core dependency): one raster page per
    # panel is what a storyboard printed for review needs; no text layer is wanted.
    pages = [_page(panel, picture) for panel, picture in zip(panels, pictures, strict=True)]
    pages[0].save(pdf, "PDF", save_all=True, append_images=pages[1:], resolution=100.0,
                  title=plan.title)  # fmt: skip
    return Written(folder, page, pdf, pngs, result)


def keyframes_below(plan: Plan, result: RunResult) -> list[Keyframe]:
    """The keyframes made whose tries all missed their minimum."""
    return [
        node
        for node in plan.of_class(Keyframe)
        if node.id in result.outputs and result.outputs[node.id].meta.get("reached") is False
    ]


def panels_of(plan: Plan, root: Path, made: dict[str, Entry]) -> list[Panel]:
    """A panel per shot, in film order, from the plan and the keyframes made."""
    fps = Fraction(plan.fps_num, plan.fps_den)
    panels = []
    for placed in plan.timeline.shots:
        shot = placed.shot
        window = plan.get(take_node(shot, 0, "window0"))
        direction = window.params.shot if isinstance(window, Generate) else None
        panel = Panel(
            shot=shot,
            size=direction.size if direction else "",
            seconds=float(placed.frames / fps),
            camera=[" ".join(filter(None, (m.move, m.direction or m.target)))
                    for m in (direction.camera if direction else [])],
            dialogue=[f"{d.speaker}: {d.text}" for d in plan.timeline.dialogue if d.shot == shot],
            cues=[f"{c.kind} {c.asset}" for c in plan.timeline.cues if c.shot == shot],
        )  # fmt: skip
        for end in ("first", "last"):
            entry = made.get(shot_node(shot, f"keyframe_{end}"))
            if entry is not None:
                panel.keyframes[end] = entry.file(KEYFRAME)
                if end == "first":
                    panel.score, panel.minimum = entry.meta["score"], entry.meta["minimum"]
            elif direction is not None and _pinned(root, getattr(direction, f"keyframe_{end}")):
                panel.keyframes[end] = root / getattr(direction, f"keyframe_{end}")
        if "first" not in panel.keyframes:
            window_continues = isinstance(window, Generate) and window.params.continues
            panel.note = (
                "continues from the previous shot's last frame" if window_continues
                else "no keyframe"
            )  # fmt: skip
        panels.append(panel)
    return panels


def _pinned(root: Path, path: str | None) -> bool:
    """Whether a window's keyframe is a project file (a pinned one), not a node's."""
    return path is not None and (root / path).is_file()


# ----------------------------------------------------------------- drawing


def draw_panel(panel: Panel) -> Image.Image:
    """The shot's first keyframe (or a blank frame) with its camera move as arrows."""
    picture = panel.keyframes.get("first") or panel.keyframes.get("last")
    if picture is not None:
        with Image.open(picture) as opened:
            frame = opened.convert("RGB")
        frame = frame.resize((PANEL_WIDTH, round(frame.height * PANEL_WIDTH / frame.width)))
    else:
        frame = Image.new("RGB", (PANEL_WIDTH, PANEL_WIDTH * 9 // 16), (40, 42, 46))
        _text(ImageDraw.Draw(frame), (24, frame.height // 2 - 12), panel.note, 24, "#bbbbbb")
    draw = ImageDraw.Draw(frame)
    for move in panel.camera:
        _arrow(draw, frame.size, move)
    return frame


def _arrow(draw: ImageDraw.ImageDraw, size: tuple[int, int], move: str) -> None:
    """A camera move as arrows over the frame: across it for a pan, tilt, truck,
    crane or orbit; towards (in) or out from the centre for a dolly or zoom."""
    w, h = size
    words = move.split()
    cx, cy, reach = w / 2, h / 2, min(w, h) / 4
    if words[0] in INWARD and len(words) > 1:
        inward = words[1] == "in"
        for dx, dy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
            outer = (cx + dx * reach * 1.6, cy + dy * reach)
            inner = (cx + dx * reach * 0.8, cy + dy * reach * 0.5)
            _line_with_head(draw, outer if inward else inner, inner if inward else outer)
        return
    step = ARROWS.get((words[0], words[1] if len(words) > 1 else ""))
    if step is not None:
        start = (cx - step[0] * reach, cy - step[1] * reach)
        _line_with_head(draw, start, (cx + step[0] * reach, cy + step[1] * reach))


def _line_with_head(draw: ImageDraw.ImageDraw, start, end) -> None:
    width = 8
    for colour, thickness in (("#000000", width + 4), ("#ffd400", width)):
        draw.line([start, end], fill=colour, width=thickness)
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = max(1e-6, (dx * dx + dy * dy) ** 0.5)
    ux, uy = dx / length, dy / length
    head = 28
    left = (end[0] - ux * head - uy * head * 0.6, end[1] - uy * head + ux * head * 0.6)
    right = (end[0] - ux * head + uy * head * 0.6, end[1] - uy * head - ux * head * 0.6)
    draw.polygon([end, left, right], fill="#ffd400", outline="#000000")


def _text(draw: ImageDraw.ImageDraw, at, text: str, size: int, colour: str) -> int:
    font = ImageFont.load_default(size=size)
    draw.text(at, text, font=font, fill=colour)
    return size + 8


def _caption(panel: Panel) -> list[tuple[str, int]]:
    """The panel's lines of text, with their font sizes."""
    head = f"SHOT {panel.shot}   {panel.size}   {panel.seconds:.1f}s"
    lines = [(head, 30)]
    if panel.camera:
        lines.append(("camera: " + ", then ".join(panel.camera), 22))
    if panel.score is not None:
        minimum = f" (minimum {panel.minimum:.2f})" if panel.minimum is not None else ""
        lines.append((f"consistency {panel.score:.2f}{minimum}", 22))
    lines += [(line, 22) for line in panel.dialogue]
    lines += [(cue, 20) for cue in panel.cues]
    if panel.note:
        lines.append((panel.note, 20))
    return lines


def _page(panel: Panel, picture: Image.Image) -> Image.Image:
    """One PDF page: the panel's picture, its last keyframe if it has one, its caption."""
    lines = _caption(panel)
    last = panel.keyframes.get("last") if "first" in panel.keyframes else None
    extra = picture.height // 3 + 16 if last is not None else 0
    margin = 40
    height = margin * 2 + picture.height + extra + sum(size + 8 for _, size in lines) + 16
    page = Image.new("RGB", (PANEL_WIDTH + margin * 2, height), "white")
    page.paste(picture, (margin, margin))
    y = margin + picture.height + 16
    if last is not None:
        with Image.open(last) as opened:
            small = opened.convert("RGB").resize((PANEL_WIDTH // 3, picture.height // 3))
        page.paste(small, (margin, y))
        y += small.height + 16
    draw = ImageDraw.Draw(page)
    for text, size in lines:
        y += _text(draw, (margin, y), text, size, "#111111")
    return page


def render_html(title: str, panels: list[Panel], pictures: list[Image.Image]) -> str:
    """The storyboard as one page with every picture inlined: nothing is fetched."""
    figures = "".join(
        _figure(panel, picture) for panel, picture in zip(panels, pictures, strict=True)
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}: storyboard</title><style>{STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><main>{figures}</main></body></html>\n"
    )


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;background:#f4f1ea;color:#111}
h1{font-size:22px;margin:0 0 12px} main{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;width:360px;background:#fff;border:1px solid #ccc;padding:8px}
figure img{width:100%;display:block} .id{font-weight:700;font-size:18px}
.muted{color:#666} .last{width:40%} figcaption p{margin:2px 0}
"""


def _figure(panel: Panel, picture: Image.Image) -> str:
    last = panel.keyframes.get("last") if "first" in panel.keyframes else None
    lines = "".join(f"<p>{html.escape(text)}</p>" for text, _ in _caption(panel)[1:])
    extra = f"<img class='last' alt='last keyframe' src='{_data(last)}'>" if last else ""
    return (
        f"<figure class='panel' id='shot-{html.escape(panel.shot)}'>"
        f"<img alt='shot {html.escape(panel.shot)}' src='{_data(picture)}'>{extra}"
        f"<figcaption><span class='id'>{html.escape(panel.shot)}</span> "
        f"<span class='muted'>{html.escape(panel.size)} · {panel.seconds:.1f}s</span>"
        f"{lines}</figcaption></figure>"
    )


def _data(picture: Image.Image | Path) -> str:
    if isinstance(picture, Path):
        with Image.open(picture) as opened:
            picture = opened.convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
