"""Recipe loading: YAML → dataclasses, typed overrides, and errors that name the file and the key."""

from __future__ import annotations

import subprocess
import sys

import pytest

from data_prep.build import BuildRecipe
from eval.recipe import RecipeError, load_recipe, parse_overrides


def test_demo_recipe_parses(repo):
    r = load_recipe(BuildRecipe, repo / "recipes" / "demo.yaml")
    assert r.name == "demo"
    assert r.teacher is not None and r.teacher.max_tokens > 0
    assert [s.response for s in r.sources].count("teacher") == 1


def test_overrides_are_typed_and_nested(repo):
    r = load_recipe(BuildRecipe, repo / "recipes" / "demo.yaml",
                    ["teacher.max_tokens=64", "--shard_size", "7", "verify.keep_unverifiable=true"])
    assert r.teacher.max_tokens == 64 and r.shard_size == 7 and r.verify.keep_unverifiable is True
    assert parse_overrides(["a.b=[1, 2]", "--flag"]) == {"a.b": [1, 2], "flag": True}


def test_unknown_key_names_key_and_file(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("name: x\nsources: []\nteacher:\n  max_tokenz: 3\n")
    with pytest.raises(RecipeError, match=r"r\.yaml: unknown key 'teacher\.max_tokenz'"):
        load_recipe(BuildRecipe, p)


def test_wrong_type_and_missing_key(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("name: x\nsources: []\nshard_size: many\n")
    with pytest.raises(RecipeError, match="'shard_size' must be an integer, got 'many'"):
        load_recipe(BuildRecipe, p)
    p.write_text("sources: []\n")
    with pytest.raises(RecipeError, match="missing required key 'name'"):
        load_recipe(BuildRecipe, p)


def test_cli_unknown_override_is_an_error(repo):
    proc = subprocess.run([sys.executable, "-m", "data_prep", "build", str(repo / "recipes" / "demo.yaml"),
                           "--out", "/nonexistent/x", "teacher.temprature=1"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown key 'teacher.temprature'" in proc.stderr and "demo.yaml" in proc.stderr


def test_shipped_data_recipes_parse(repo):
    for path in sorted((repo / "recipes" / "data").glob("*.yaml")):
        r = load_recipe(BuildRecipe, path)
        assert r.sources and r.teacher is not None, path
        assert all(s.format in ("gsm8k", "s1k", "math", "am", "openmath", "row") for s in r.sources), path
        assert all(s.response in ("reference", "teacher", "own") for s in r.sources), path
