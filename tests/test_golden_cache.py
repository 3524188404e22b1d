"""A cache made before the plan graph was typed is reused in full after it.

`tests/golden/cache_v1.tar.gz` holds a small project and the cache that
`director compile film.shot --embedder appearance` left, made by the code of
before issue 19 (every operation: assets, prompts, two takes scored and
selected, a continuous shot, a dissolve, a cue, a scratch voice, the mix and
the mux).  Planned and run by today's code, every node is found in it.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from director.cache import Cache
from director.check import check_file
from director.plan import Consistency, plan_film
from director.run import execute

ARCHIVE = Path(__file__).parent / "golden" / "cache_v1.tar.gz"


def test_a_cache_from_before_is_reused_without_regenerating_a_node(tmp_path, monkeypatch):
    with tarfile.open(ARCHIVE) as archive:
        archive.extractall(tmp_path, filter="data")
    monkeypatch.chdir(tmp_path)
    checked = check_file(Path("film.shot"))
    assert checked.film is not None
    plan = plan_film(
        checked.film,
        backend_options={"preview": {"burn_in": True}},
        scoring=Consistency(embedder="appearance"),
    ).plan
    assert plan is not None
    cache_root = tmp_path / ".director" / "cache"
    (recorded,) = (cache_root / "plans").glob("film-*.json")
    before = {n["id"]: n["hash"] for n in json.loads(recorded.read_text("utf-8"))["nodes"]}
    assert {n.id: n.hash for n in plan.nodes} == before
    result = execute(plan, tmp_path, Cache(cache_root))
    assert result.ok
    assert result.ran == []
    assert sorted(result.reused) == sorted(n.id for n in plan.nodes)
