"""Prompt templates: what each backend's prompt says, user templates, the sandbox."""

from pathlib import Path

import pytest

from director.check import check_file
from director.cli import main
from director.prompts import SIZE_WORDS, PromptTemplateError, builtin_template, render_prompt

SCRIPT = """
title: Prompts
style: 16mm, grainy
character MARA
  description: a keeper in a yellow oilskin coat
  voice: low and calm
location LAMP_ROOM
  description: a cramped lamp room

INT. LAMP_ROOM - NIGHT

SHOT 1 CLOSE-UP on MARA 4s
  camera: dolly in slow, then tilt up 10deg
  angle: low
  lens: 85mm
  MARA polishes the lens.
  MARA
    (under her breath)
    Another night.
"""


def prompts(plan) -> list[str]:
    return [n.params.text for n in plan.nodes if n.op == "prompt"]


def test_ltx2_prompt_describes_action_camera_and_speech(project):
    (text,) = prompts(project.plan(SCRIPT, backend="ltx2"))
    assert "Mara polishes the lens." in text  # names read as words, not capitals
    assert "a keeper in a yellow oilskin coat" in text
    assert 'in a low and calm voice, says under her breath: "Another night."' in text
    assert "The camera dollies in slowly, then tilts up 10 degrees." in text
    assert "low angle" in text and "85mm" in text and "16mm, grainy" in text


def test_preview_card_is_short(project):
    (text,) = prompts(project.plan(SCRIPT))
    assert text.splitlines() == ["1 · close-up on Mara", "Mara polishes the lens."]


def test_a_user_template_replaces_the_backends(project):
    template = project.root / "mine.j2"
    template.write_text("{{ size_words }} / {{ action | join(' ') }} / {{ style }}")
    (text,) = prompts(project.plan(SCRIPT, template=template))
    assert text == "close-up / Mara polishes the lens. / 16mm, grainy"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ style.__class__.__init__.__globals__ }}",
        "{% set x = action.append('y') %}{{ x }}",
    ],
)
def test_templates_cannot_reach_python(project, source):
    checked = project.check(SCRIPT)
    film = checked.film
    with pytest.raises(PromptTemplateError):
        render_prompt(film, film.shots[0], source)


def test_a_broken_template_is_a_usage_error_not_a_traceback(project, capsys):
    path = project.write(SCRIPT)
    template = project.root / "broken.j2"
    template.write_text("{% for x in %}")
    assert main(["plan", str(path), "--template", str(template)]) == 2
    assert "template" in capsys.readouterr().err


def test_a_voice_over_speaker_is_heard_not_drawn(project):
    script = SCRIPT.replace("  MARA\n    (under her breath)", "  NARRATOR (V.O.)\n    (softly)")
    script = script.replace(
        "location LAMP_ROOM", "character NARRATOR\n  voice: warm\nlocation LAMP_ROOM"
    )
    film = project.check(script).film
    assert film.shots[0].characters == ["MARA"]
    (text,) = prompts(project.plan(script, backend="ltx2"))
    assert "Narrator in voice-over, in a warm voice, says softly" in text
    assert "Narrator is" not in text


# ------------------------------------------------------------ a user's template fails: exit 2
# Issue 18 defect 13: each of these tracebacked with exit 1.

FAILING_TEMPLATES = {
    "division by zero": "{{ 1 / 0 }}",
    "a range the sandbox refuses": "first\n{{ range(10 ** 9) | list }}",
    "endless recursion": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "a type error": "{{ 1 + 'a' }}",
    "an endless loop": "{% for i in range(99999) %}{% for j in range(99999) %}"
    "{% endfor %}{% endfor %}",
    "a huge repeat": "{{ 'x' * 10 ** 9 }}",
    "a huge repeat of a repeat": "{{ 'x' * 100000 * 100000 }}",
    "a huge filter width": "{{ 'x' | center(10 ** 9) }}",
    "a huge printf width": "{{ '%999999999s' % 'x' }}",
    "a huge format width": "{{ '{:>999999999}'.format('x') }}",
    "a huge power": "{{ 7 ** 99999999 }}",
    "too much text": "{% for i in range(99999) %}{{ action }}{% endfor %}",
    "a doubling string": "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
}


@pytest.mark.parametrize("source", FAILING_TEMPLATES.values(), ids=FAILING_TEMPLATES.keys())
def test_a_failing_template_is_a_usage_error_not_a_traceback(project, capsys, monkeypatch, source):
    monkeypatch.setattr("director.prompts.RENDER_SECONDS", 0.5)
    monkeypatch.setattr("director.prompts.RENDER_MEMORY", 64 << 20)
    path = project.write(SCRIPT)
    template = project.root / "mine.j2"
    template.write_text(source, encoding="utf-8")
    for command in ("plan", "compile"):
        assert main([command, str(path), "--template", str(template)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("director: error: the prompt template failed") and "shot 1" in err
        assert "Traceback" not in err


def test_the_failure_names_the_template_line(project):
    film = project.check(SCRIPT).film
    with pytest.raises(PromptTemplateError, match=r"at line 3 for shot 1: ZeroDivisionError"):
        render_prompt(film, film.shots[0], "a\nb\n{{ 1 // 0 }}")


@pytest.mark.parametrize(
    "content", [b"{{ style }} \xff\xfe", "folder"], ids=["not UTF-8", "a folder"]
)
def test_an_unreadable_template_is_a_usage_error(project, capsys, content):
    path = project.write(SCRIPT)
    template = project.root / "mine.j2"
    if content == "folder":
        template.mkdir()
    else:
        template.write_bytes(content)
    assert main(["plan", str(path), "--template", str(template)]) == 2
    err = capsys.readouterr().err
    assert "template" in err and "Traceback" not in err


def test_bounds_leave_ordinary_templates_alone(project):
    template = project.root / "mine.j2"
    template.write_text(
        "{% for i in range(3) %}{{ '%-5s' % i }}{{ 'ab' * 2 }}{{ size_words | center(20) }}"
        "{% endfor %} {{ 2 ** 10 }} {{ '{:>4}'.format(lens) }}"
    )
    (text,) = prompts(project.plan(SCRIPT, template=template))
    assert text == "0 abab close-up 1 abab close-up 2 abab close-up 1024 85mm"


def test_a_long_shot_still_has_its_prompt(project):
    """The prompt's size bound grows with the shot's own text (found by the fuzzer:
    100 kB of action made the built-in template "write too much")."""
    action = ("  " + "MARA polishes the lens. " * 250 + "\n") * 20  # lines under 10,000
    script = SCRIPT.replace("  MARA polishes the lens.\n", action)
    (text,) = prompts(project.plan(script, backend="ltx2"))
    assert text.count("Mara polishes the lens.") == 5_000


# ------------------------------------------- the model templates, over the examples

EXAMPLES = Path(__file__).parent.parent / "scripts_examples"


def example_prompts(template: str):
    """(shot, prompt) for every shot of every example script, with a built-in template."""
    source = builtin_template(template)
    for path in sorted(EXAMPLES.rglob("*.shot")):
        film = check_file(path).film
        if film is not None:
            for shot in film.shots:
                yield shot, render_prompt(film, shot, source)


def test_ltx2_prompts_follow_its_guide_for_every_example_shot():
    # One flowing present-tense paragraph of at most ~200 words, starting with
    # the action, covering the people, setting, camera, look and sound, and the
    # words spoken with who speaks them.
    found = list(example_prompts("ltx2.j2"))
    assert len(found) > 30
    for shot, text in found:
        assert "\n" not in text and len(text.split()) <= 200, (shot.id, text)
        if shot.action:
            first = shot.action[0].split(".")[0].split()[-1].lower()
            assert text.split(".")[0].lower().endswith(first), (shot.id, text)
        for line in shot.dialogue:
            assert (
                f'says{" " + line.parenthetical if line.parenthetical else ""}: "{line.text}"'
                in (text)
            )
        assert "The camera " in text and SIZE_WORDS[shot.size] in text, (shot.id, text)
        assert "sound" in text or shot.dialogue, (shot.id, text)
    # The words a guide asks for, across the examples.
    assert sum(" is a " in text for _, text in found) > 10  # appearance


def test_wan_prompts_are_dense_descriptions_for_every_example_shot():
    # Wan's guide: 80 to 120 words, subject first, then action, scene, camera,
    # style.  A shot whose script says little gets fewer words: nothing is made up.
    found = list(example_prompts("wan.j2"))
    counts = sorted(len(text.split()) for _, text in found)
    median, upper = counts[len(counts) // 2], counts[len(counts) * 9 // 10]
    assert 70 <= median <= 120 and 80 <= upper <= 120 and counts[-1] <= 150, counts
    for shot, text in found:
        assert "\n" not in text and text[0].isupper(), text
        assert text.split()[0].lower() == SIZE_WORDS[shot.size].split()[0]  # subject, framed
        for line in shot.dialogue:  # seen speaking; the words are the scratch voice's
            assert " speaks" in text and f'"{line.text}"' not in text
