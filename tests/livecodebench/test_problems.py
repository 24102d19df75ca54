"""Loading the official schema: private-test decoding, date windows, releases, and errors that say where."""

from __future__ import annotations

import base64
import json
import pickle
import zlib

import pytest

from eval.livecodebench.problems import (
    RELEASES,
    ProblemError,
    decode_private_tests,
    encode_private_tests,
    load_problems,
)


def test_fixture_problems_decode(problems):
    s = problems["abc001_a"]
    assert s.func_name is None and s.platform == "atcoder" and s.difficulty == "easy"
    assert [(t.input, t.output) for t in s.tests] == [("1 2\n", "3\n"), ("5 7\n", "12\n"), ("-4 4\n", "0\n"),
                                                       ("1000000000 1000000000\n", "2000000000\n")]
    h = problems["3301"]
    assert h.func_name == "headK" and h.starter_code.startswith("class Solution:")
    assert [t.testtype for t in h.tests] == ["functional"] * 3
    assert problems["3302"].private_tests[0].input == "[7, 8]"  # plain-JSON private tests also load


def test_private_encoding_is_the_official_one():
    tests = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    raw = encode_private_tests(tests)
    # Decode by hand, step by step, exactly as code_generation_lite documents it.
    assert json.loads(pickle.loads(zlib.decompress(base64.b64decode(raw.encode("utf-8"))))) == tests
    assert decode_private_tests(raw) == tests
    assert decode_private_tests(json.dumps(tests)) == tests


def test_malicious_pickle_is_refused():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    raw = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle builtins.print"):
        decode_private_tests(raw)


def test_date_window_is_inclusive(tmp_path, lcb):
    path = lcb.write_benchmark(tmp_path)
    ids = lambda **kw: [p.question_id for p in load_problems(path, **kw)]  # noqa: E731
    assert ids() == ["abc001_a", "abc002_b", "3301", "3302", "abc000_z"]
    assert ids(start_date="2024-08-01", end_date="2025-01-31") == ["abc001_a", "abc002_b", "3301", "3302"]
    assert ids(start_date="2024-08-03", end_date="2024-10-01") == ["abc001_a", "abc002_b", "3301"]
    with pytest.raises(ValueError, match="start_date must be YYYY-MM-DD"):
        load_problems(path, start_date="Aug 2024")


def test_official_release_files(tmp_path, lcb):
    assert RELEASES["release_v1"] == ["test.jsonl"]
    assert RELEASES["release_v5"] == ["test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl"]
    assert RELEASES["v5"] == ["test5.jsonl"] and RELEASES["v2_v3"] == ["test2.jsonl", "test3.jsonl"]
    lcb.write_benchmark(tmp_path, "test.jsonl", [lcb.OLD])
    lcb.write_benchmark(tmp_path, "test5.jsonl", [lcb.SUM, lcb.HEAD])
    assert [p.question_id for p in load_problems(tmp_path, release="release_v5")] == ["abc000_z", "abc001_a", "3301"]
    assert [p.question_id for p in load_problems(tmp_path, release="v5")] == ["abc001_a", "3301"]
    with pytest.raises(FileNotFoundError, match="test2.jsonl"):
        load_problems(tmp_path, release="v2")
    with pytest.raises(ValueError, match="unknown LiveCodeBench release 'v9'"):
        load_problems(tmp_path, release="v9")


def test_schema_errors_name_file_line_and_field(tmp_path, lcb):
    bad = dict(lcb.SUM, question_id="x1", private_test_cases="not base64 at all")
    path = lcb.write_benchmark(tmp_path, "livecodebench.jsonl", [lcb.MEAN, bad])
    with pytest.raises(ProblemError, match=r"livecodebench.jsonl:2: field 'private_test_cases' could not be decoded"):
        load_problems(path)
    missing = {k: v for k, v in lcb.SUM.items() if k != "public_test_cases"}
    path = lcb.write_benchmark(tmp_path, "livecodebench.jsonl", [missing])
    with pytest.raises(ProblemError, match=r"livecodebench.jsonl:1: missing field 'public_test_cases'"):
        load_problems(path)
    path = lcb.write_benchmark(tmp_path, "livecodebench.jsonl", [lcb.SUM, lcb.SUM])
    with pytest.raises(ProblemError, match=r":2: duplicate question_id 'abc001_a' \(first at .*:1\)"):
        load_problems(path)
    path.write_text(json.dumps(lcb.SUM) + "\n{broken\n")
    with pytest.raises(ProblemError, match=r"livecodebench.jsonl:2: malformed JSON"):
        load_problems(path)


def test_hub_unreachable_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RuntimeError, match="Pass a local copy"):
        load_problems(None, release="v6")
