"""Nothing a screenwriter types is silently lost: each line of a shot body means
something in the checked spec, or a diagnostic names its line.

Data-driven cases for the habits that used to vanish (the content expected in the
spec), then a property: for random valid scripts, every non-blank, non-comment
line's text reaches the spec or a diagnostic names the line.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from conftest import write_refs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from director.check import check_file

HEADER = """\
title: Loss
character NELL
  description: a ferry pilot
character TOM
  description: a deckhand
audio HORN: refs/hit.wav
"""

# (script body, where the content must be: a function of the first shot)
CASES = {
    "two parentheticals in a row direct the same words": (
        "SHOT 1 MEDIUM on NELL 3s\n  NELL\n    (quietly)\n    (to herself)\n    Go.\n",
        lambda shot: shot.dialogue[0].parenthetical == "quietly; to herself",
    ),
    "a parenthetical after the last words is action": (
        "SHOT 1 MEDIUM on NELL 3s\n  NELL\n    Go.\n    (beat)\n",
        lambda shot: shot.action == ["NELL (beat)"] and shot.dialogue[0].text == "Go.",
    ),
    "a block holding only a parenthetical is action": (
        "SHOT 1 MEDIUM on NELL 3s\n  NELL\n    (a long pause)\n",
        lambda shot: shot.action == ["NELL (a long pause)"],
    ),
    "cue tags in any case and spacing keep their meaning": (
        "SHOT 1 MEDIUM on NELL, TOM 6s\n  NELL (CONT'D)\n    Go.\n  TOM (v.o.)\n    Me?\n"
        "  NELL (O.S., PRELAP)\n    Now.\n  TOM (V. O.)\n    Fine.\n  NELL (off)\n    Bye.\n",
        lambda shot: [d.extension for d in shot.dialogue] == [None, "V.O.", "O.S.", "V.O.", "O.S."],
    ),
    "a stage direction in a cue directs the first words": (
        "SHOT 1 MEDIUM on TOM 3s\n  TOM (ON PHONE)\n    (whispering)\n    Hello?\n    Yes.\n",
        lambda shot: [d.parenthetical for d in shot.dialogue] == ["ON PHONE; whispering", None],
    ),
    "a quoted # stays in the words": (
        'SHOT 1 MEDIUM on NELL 3s\n  NELL\n    Pier "#4" before dark.\n',
        lambda shot: shot.dialogue[0].text == 'Pier "#4" before dark.',
    ),
}


def check(folder: Path, body: str):
    script = folder / "film.shot"
    script.write_text(HEADER + "\n" + body, encoding="utf-8")
    return check_file(script)


def test_names_in_any_script_are_names(tmp_path):
    """Capitals of any script, and scripts without case: declared, framed, speaking,
    referenced in action, and kept as written."""
    write_refs(tmp_path)
    body = (
        "character ZOË\n  description: a keeper\ncharacter МАША\n  description: a pilot\n"
        "character 李\n  description: a cook\ncharacter CHLOÉ\n  description: a deckhand\n\n"
        "SHOT 1 MEDIUM on ZOË, МАША 4s\n  ZOË watches МАША and 李 while CHLOÉ waits.\n"
        "  МАША\n    Привет.\n  李 (V.O.)\n    こんにちは\n"
    )
    checked = check(tmp_path, body)
    assert [d for d in checked.diagnostics if d.severity == "error"] == []
    shot = checked.film.shots[0]
    assert {"ZOË", "МАША", "李", "CHLOÉ"} <= set(checked.film.characters)
    assert shot.subjects == ["ZOË", "МАША"]
    assert {"ZOË", "МАША", "李", "CHLOÉ"} <= set(shot.characters)
    assert [(d.speaker, d.extension) for d in shot.dialogue] == [("МАША", None), ("李", "V.O.")]
    unused = " ".join(d.message for d in checked.diagnostics if d.code == "W102")
    assert not any(name in unused for name in ("ZOË", "МАША", "李", "CHLOÉ"))
    assert not [d for d in checked.diagnostics if d.code == "W107"]


@pytest.mark.parametrize(
    "heading",
    ["EXT DOCK - DUSK", "EXT. DOCK \u2013 DUSK", "EXT DOCK \u2014 DUSK", "EXT. DOCK - DUSK"],
)
def test_a_heading_without_its_dot_or_with_a_dash_reads_the_same(tmp_path, heading):
    write_refs(tmp_path)
    checked = check(
        tmp_path, f"location DOCK\n  description: a dock\n\n{heading}\n\nSHOT 1 WIDE 2s\n  Gulls.\n"
    )
    scene = checked.film.scenes[-1]
    assert (scene.setting, scene.declared_location, scene.time_of_day) == ("EXT.", "DOCK", "DUSK")


@pytest.mark.parametrize("name", list(CASES))
def test_content_that_used_to_vanish_reaches_the_spec(tmp_path, name):
    write_refs(tmp_path)
    body, reaches = CASES[name]
    checked = check(tmp_path, body)
    assert checked.film is not None, [d.message for d in checked.diagnostics]
    assert reaches(checked.film.shots[0])


# -- the property ------------------------------------------------------------------------------

WORDS = ["the", "gate", "rope", "slowly", "NELL", "TOM", "nell", "harbour", "pier#", "HORN"]


@st.composite
def shot_bodies(draw, number: int) -> str:
    """One shot: a header and a few body items of every kind, each text line carrying a
    unique marker word (m<number>_<k>) so that its fate can be traced."""
    counter = iter(range(1000))

    def marker() -> str:
        return f"m{number}x{next(counter)}"

    def text() -> str:
        words = draw(st.lists(st.sampled_from(WORDS), min_size=0, max_size=4))
        at = draw(st.integers(0, len(words)))
        return " ".join([*words[:at], marker(), *words[at:]]).replace("# ", "#")

    items = []
    for kind in draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5)):
        if kind == "action":
            items.append(f"  {text()}")
        elif kind == "dialogue":
            lines = [f"    ({marker()} softly)"] * draw(st.integers(0, 2))
            lines += [f"    {text()}" for _ in range(draw(st.integers(0, 2)))]
            if draw(st.booleans()):
                lines.append(f"    ({marker()})")
            items += [f"  {draw(st.sampled_from(['NELL', 'TOM']))}", *(lines or ["    Yes."])]
        elif kind == "flush":
            items += ["  NELL", f"  {text()}"]
        elif kind == "chat":
            items.append(f"  TOM: {text()}")
        elif kind == "cue":
            items.append("  sfx HORN from 1s")
        elif kind == "wrong cue":
            items.append("  sound HORN from 1s")
    if draw(st.booleans()):  # at most one camera line a shot
        items.insert(0, "  camera: pan left")
    return "\n".join([f"SHOT {number} WIDE 8s", *items]) + "\n"


KINDS = ["action", "dialogue", "flush", "chat", "cue", "wrong cue"]


@st.composite
def scripts(draw) -> str:
    count = draw(st.integers(1, 3))
    return "\n".join(draw(shot_bodies(n)) for n in range(1, count + 1))


def _spec_words_and_lines(film) -> tuple[set[str], set[int]]:
    dumped = json.dumps(film.model_dump(mode="json"))
    lines = {int(n) for n in re.findall(r'"line": (\d+)', dumped)}
    return set(re.findall(r"\w+", dumped)), lines


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=scripts())
def test_every_line_reaches_the_spec_or_a_diagnostic_names_it(body):
    with tempfile.TemporaryDirectory() as folder:
        write_refs(Path(folder))
        checked = check(Path(folder), body)
    errors = [d for d in checked.diagnostics if d.severity == "error"]
    assert checked.film is not None and not errors, [d.message for d in errors]
    words, spanned = _spec_words_and_lines(checked.film)
    named = {d.span.line for d in checked.diagnostics}
    script = (HEADER + "\n" + body).splitlines()
    for number, line in enumerate(script, 1):
        text = line.strip()
        if not text or text.startswith("#") or number in named:
            continue
        markers = re.findall(r"\bm\d+x\d+\b", text)
        if markers:
            lost = [m for m in markers if m not in words]
            assert not lost, f"line {number} {text!r} lost {lost} without a word"
        else:
            assert number in spanned or set(re.findall(r"\w+", text)) <= words, (
                f"line {number} {text!r} reaches nothing"
            )


def test_a_written_name_is_shown_as_written(tmp_path):
    """`display: MRS. O'BRIEN` keeps the written form for prompts, subtitles and the
    timeline's speakers, while MRS_OBRIEN stays the checkable identifier."""
    from director.plan import build_timeline
    from director.prompts import builtin_template, render_prompt

    write_refs(tmp_path)
    body = (
        "character MRS_OBRIEN\n  description: the harbour master\n  display: MRS. O'BRIEN\n\n"
        "SHOT 1 MEDIUM on MRS_OBRIEN 3s\n  MRS_OBRIEN locks the gate.\n"
        "  MRS_OBRIEN\n    You're late.\n"
    )
    checked = check(tmp_path, body)
    film = checked.film
    assert film.characters["MRS_OBRIEN"].display == "MRS. O'BRIEN"
    prompt = render_prompt(film, film.shots[0], builtin_template("default.j2"))
    assert "Mrs. O'Brien locks the gate" in prompt and "Mrs Obrien" not in prompt
    assert build_timeline(film).dialogue[0].speaker == "MRS. O'BRIEN"


def test_parentheticals_reach_the_subtitles_and_the_voice(tmp_path):
    """Every parenthetical is subtitled before its words by the animatic; the scratch
    voice's node carries the ones it performs (whispering: yes; smiling: nothing to
    hear, so no change to its cache key); a line without one has no `direction` key."""
    from director.plan import plan_film
    from director.plan_nodes import Generate, Voice

    write_refs(tmp_path)
    body = (
        "SHOT 1 MEDIUM on NELL 6s\n  NELL\n    (whispering)\n    Pier four.\n"
        "    (smiling)\n    Before dark.\n    Go.\n"
    )
    film = check(tmp_path, body).film
    plan = plan_film(film).plan
    (generate,) = [n for n in plan.nodes if isinstance(n, Generate)]
    (voice,) = [n for n in plan.nodes if isinstance(n, Voice)]
    spoken = [(s.direction, s.text) for s in generate.params.shot.dialogue]
    assert spoken == [("whispering", "Pier four."), ("smiling", "Before dark."), (None, "Go.")]
    assert [v.direction for v in voice.params.lines] == ["whispering", None, None]
    lines = json.loads(voice.model_dump_json())["params"]["lines"]
    assert ["direction" in line for line in lines] == [True, False, False]
