"""Prompt templates: what each backend's prompt says, user templates, the sandbox."""

import pytest

from director.cli import main
from director.prompts import PromptTemplateError, render_prompt

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
