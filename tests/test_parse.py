"""The parser: the tree it builds for each construct of the language."""

from pathlib import Path

from director import syntax as ast
from director.parse import parse_source
from director.source import SourceFile


def parse(text: str) -> ast.ScriptFile:
    tree, problems = parse_source(SourceFile(Path("t.shot"), "t.shot", text))
    assert not problems, [p.message for p in problems]
    return tree


def shot_items(text: str):
    return parse("title: T\nSHOT 1 WIDE 4s\n" + text).body[0].items


def test_header_lines_keep_their_values():
    tree = parse(
        "title: The Lighthouse\nformat: 1280x720 @ 23.976fps\nseed: 7\nbackend: ltx2\n"
        "import: cast.shot\n"
    )
    values = {s.key: s for s in tree.settings}
    assert values["title"].value == "The Lighthouse"
    assert (values["format"].width, values["format"].height, values["format"].fps) == (
        1280,
        720,
        "23.976",
    )
    assert values["seed"].value == 7
    assert values["import"].path.text == "cast.shot"


def test_shot_header_with_subjects_and_flag():
    tree = parse("title: T\nSHOT 12b-alt MEDIUM CLOSE-UP on MARA, TOM 1.5s continuous\n")
    shot = tree.body[0]
    assert shot.id.text == "12b-alt"
    assert shot.size.text == "MEDIUM CLOSE-UP"
    assert [w.text for w in shot.subjects] == ["MARA", "TOM"]
    assert (shot.duration.value, shot.duration.unit) == (1.5, "s")
    assert shot.continuous
    assert (shot.span.line, shot.span.column) == (2, 1)


def test_abbreviated_sizes_become_full_names():
    tree = parse("title: T\nSHOT 1 MCU 4s\nSHOT 2 OTS 4s\n")
    assert [s.size.text for s in tree.body] == ["MEDIUM CLOSE-UP", "OVER-THE-SHOULDER"]


def test_times_in_every_unit():
    tree = parse("title: T\nSHOT 1 WS 250ms\nSHOT 2 WS 12f\nSHOT 3 WS 00:00:01:12\n")
    assert [(s.duration.unit, s.duration.text) for s in tree.body] == [
        ("ms", "250ms"),
        ("f", "12f"),
        ("tc", "00:00:01:12"),
    ]


def test_camera_moves_with_then_and_modifiers():
    (camera,) = shot_items("  camera: pan left 30deg ease in-out over 2s, then zoom in 1.5x fast\n")
    first, second = camera.moves
    assert (first.move, first.direction.text, first.amount.text) == ("pan", "left", "30deg")
    assert (first.ease, first.over.text) == ("in-out", "2s")
    assert (second.move, second.direction.text, second.amount.text, second.speed) == (
        "zoom",
        "in",
        "1.5x",
        "fast",
    )


def test_track_takes_a_name():
    (camera,) = shot_items("  camera: track MARA slow\n")
    assert camera.moves[0].direction.text == "MARA"


def test_dialogue_with_parenthetical_and_extension():
    (dialogue,) = shot_items("  MARA (V.O.)\n    (quietly)\n    Hold on.\n    Nearly there.\n")
    assert dialogue.speaker.text == "MARA"
    assert dialogue.extension == "V.O."
    assert [(line.parenthetical, line.text) for line in dialogue.lines] == [
        ("quietly", "Hold on."),
        (None, "Nearly there."),
    ]


def test_a_lone_name_without_a_block_is_action():
    action, camera = shot_items("  BOOM\n  camera: static\n")
    assert isinstance(action, ast.Action) and action.text == "BOOM"
    assert isinstance(camera, ast.Camera)


def test_action_starting_like_a_keyword_is_still_action():
    (action,) = shot_items("  music swells as the door opens\n")
    assert isinstance(action, ast.Action)


def test_cue_with_every_option():
    (cue,) = shot_items(
        "  music THEME from 1s for 12s fade in 2s fade out 500ms gain -6dB duck under dialogue\n"
    )
    assert (cue.kind, cue.asset.text, cue.start.text, cue.length.text) == (
        "music",
        "THEME",
        "1s",
        "12s",
    )
    assert (cue.fade_in.text, cue.fade_out.text, cue.gain_db, cue.duck) == ("2s", "500ms", -6, True)


def test_comments_are_ignored_but_not_inside_quotes():
    (ref, action) = shot_items('  ref: "refs/a #1.png"  # the first\n  A man waits. # note\n')
    assert ref.target.text == "refs/a #1.png"
    assert action.text == "A man waits."


def test_sluglines_and_transitions():
    tree = parse(
        "title: T\nFADE IN: 1s\nINT./EXT. CAR - DAY\nSHOT 1 WS 4s\nDISSOLVE TO: 12f\n"
        "EXT. a quiet road - DUSK\nSHOT 2 WS 4s\nFADE OUT: 2s\n"
    )
    kinds = [type(item).__name__ for item in tree.body]
    assert kinds == [
        "Transition", "Slugline", "Shot", "Transition", "Slugline", "Shot", "Transition",
    ]  # fmt: skip
    slug = tree.body[4]
    assert (slug.prefix, slug.location.text, slug.time_of_day) == ("EXT.", "a quiet road", "DUSK")


def test_file_without_final_newline():
    tree = parse("title: T\nSHOT 1 WS 4s\n  A man waits.")
    assert tree.body[0].items[0].text == "A man waits."
