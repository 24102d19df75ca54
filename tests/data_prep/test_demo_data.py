"""The demo's shipped teacher problems are what SOURCES.md says: byte copies of GSM8K train lines, chosen from the
candidates `select_teacher_problems` defines, and the demo recipe passes its checks."""

from __future__ import annotations

import re

from data_prep.data.select_teacher_problems import candidates
from data_prep.recipe import load_build_recipe


def _listed_lines(sources: str, name: str) -> list[int]:
    m = re.search(rf"`{re.escape(name)}` rows are these lines of GSM8K `train.jsonl` \(1-based\): ([\d ]+)", sources)
    assert m, f"SOURCES.md lists no lines for {name}"
    return [int(x) for x in m.group(1).split()]


def test_teacher_problems_are_listed_candidate_lines_byte_for_byte(repo, shared):
    data = repo / "data_prep" / "data"
    train = shared / "samples" / "gsm8k_train.jsonl"
    cands = dict(candidates(train))
    assert len(cands) == 1861 and min(cands) > 400  # the rule in SOURCES.md; lines 1-400 are the reference rows
    sources = (data / "SOURCES.md").read_text()
    for name in ("gsm8k_train_teacher17.jsonl",):
        lines = _listed_lines(sources, name)
        shipped = (data / name).read_bytes().splitlines(keepends=True)
        assert lines == sorted(lines) and len(lines) == len(shipped)
        assert [cands[n] for n in lines] == shipped  # every shipped line is that candidate's exact bytes


def test_demo_recipe_passes_its_checks(repo, monkeypatch, tmp_path):
    monkeypatch.chdir(repo)
    model = tmp_path / "models" / "smollm2-135m-instruct"  # the recipe checks the served folder is a model folder
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    monkeypatch.setenv("DISTILLERY_CACHE", str(tmp_path))
    load_build_recipe(repo / "recipes" / "demo.yaml")  # parses and runs check_recipe; raises on any problem
