"""Every eval recipe loads into the dataclasses and writes every key out (no reliance on defaults)."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from eval.recipe import load_recipe
from eval.run import BenchmarkSpec, EvalRecipe, _specs


def _nested(cls) -> dict[str, type]:
    import typing

    hints = typing.get_type_hints(cls)
    return {name: t for name, t in hints.items() if dataclasses.is_dataclass(t)}


@pytest.mark.parametrize("name", ["demo", "quick", "r1", "am", "openmath"])
def test_recipe_loads_with_every_key_written(repo, name):
    path = repo / "recipes" / "eval" / f"{name}.yaml"
    recipe = load_recipe(EvalRecipe, path, [])
    assert recipe.name == name and recipe.model is None
    data = yaml.safe_load(path.read_text())
    top = [f.name for f in dataclasses.fields(EvalRecipe)]
    assert sorted(data) == sorted(top), set(top) ^ set(data)
    for key, cls in _nested(EvalRecipe).items():
        assert sorted(data[key]) == sorted(f.name for f in dataclasses.fields(cls)), key
    for spec in data["benchmarks"]:
        assert sorted(spec) == sorted(f.name for f in dataclasses.fields(BenchmarkSpec))
    assert _specs(recipe)


def test_protocols_pin_the_published_settings(repo):
    r1 = load_recipe(EvalRecipe, repo / "recipes" / "eval" / "r1.yaml", [])
    am = load_recipe(EvalRecipe, repo / "recipes" / "eval" / "am.yaml", [])
    for r in (r1, am):
        assert (r.sampling.temperature, r.sampling.top_p, r.sampling.max_new_tokens) == (0.6, 0.95, 32768)
        assert r.prompt.think_prefix
    assert {s.name: s.samples for s in r1.benchmarks} == {"aime24": 64, "math500": 64, "gpqa_diamond": 64,
                                                          "livecodebench": 64}
    assert {s.name: s.samples for s in am.benchmarks} == {"aime24": 16, "math500": 4, "gpqa_diamond": 4,
                                                          "livecodebench": 4}
    assert "<answer>" in am.prompt.system_prompt and r1.prompt.system_prompt is None
    lcb = next(s for s in am.benchmarks if s.name == "livecodebench")
    assert lcb.options == {"release": "release_v5", "start_date": "2024-08-01", "end_date": "2025-01-31"}
    om = load_recipe(EvalRecipe, repo / "recipes" / "eval" / "openmath.yaml", [])
    assert [(s.key, s.name, s.samples, s.sampling.get("temperature", om.sampling.temperature)) for s in om.benchmarks] == [
        ("gsm8k", "gsm8k", 1, 0.0), ("math", "math", 1, 0.0), ("gsm8k_maj50", "gsm8k", 50, 0.7),
        ("math_maj50", "math", 50, 0.7)]
    assert om.strict_format  # OpenMath reads only the last \boxed{}
    demo = load_recipe(EvalRecipe, repo / "recipes" / "eval" / "demo.yaml", [])
    assert [(s.name, s.limit, s.samples) for s in demo.benchmarks] == [("gsm8k", None, 1), ("math500", 16, 1),
                                                                        ("aime24", 8, 1)]
    from eval.benchmarks.loaders import load_gsm8k_test

    gsm8k = load_gsm8k_test(demo.benchmarks[0].path)  # the shipped slice, found from any working directory
    assert len(gsm8k) == 128 and gsm8k[0].gold == "3"
