"""The local neural tactic generator (sidecar/learn/neural.py): a ctranslate2 seq2seq model proposing tactics.

Three tiers. Pure units (costs, tactic clean-up, the merge with another strategy, configuration, bad folders that
need no library) run everywhere. The model tests load tiny models that tests/neural_model.py builds once per
session with torch, transformers and ctranslate2 (a trained one that always answers `exists 14; reflexivity.`, and
an untrained one with random weights); without those libraries they skip, unless AUTOPROVE_NEURAL_REQUIRED=1
(`make test` sets it), where a missing library is a failure. The end-to-end tests run the real `auto-prove prove`
with `--model` on a real Coq goal that profile 0 does not prove, and with model folders it cannot use.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from conftest import REPO, read_json, run_cli
from sidecar.learn import neural
from sidecar.learn.neural import (COST_BASE, COST_MAX, NeuralStrategy, NeuralTactics, NeuralUnavailable,
                                  configured_model, model_problem, neural_candidates, neural_cost, state_prompt,
                                  tactic_of, with_neural)
from sidecar.provers.base import GoalView, ProofState
from sidecar.strategies import Candidate, SearchContext

TARGET = "exists 14; reflexivity."  # what the trained tiny model answers (tests/neural_model.py)
COQ_STATE = "n : nat\n====================\nn + 0 = n"
REQUIRED = os.environ.get("AUTOPROVE_NEURAL_REQUIRED") == "1"
HAVE_COQ = shutil.which("coqidetop.opt") is not None and shutil.which("coqc") is not None
CUBE = "Lemma cube_root : exists n, n * n * n = 2744.\nProof.\nAdmitted.\n"
EASY = "Lemma easy_one : 1 + 1 = 2.\nProof.\nAdmitted.\n"


# -- fixtures -------------------------------------------------------------------------------------------------


def _missing_libraries() -> list[str]:
    return [m for m in ("torch", "transformers", "ctranslate2") if importlib.util.find_spec(m) is None]


def _build(dest: Path, *args: str) -> Path:
    missing = _missing_libraries()
    if missing:
        why = f"building the tiny model needs {', '.join(missing)} (pip install 'torch==2.13.0+cpu' '.[neural]')"
        if REQUIRED:
            pytest.fail(why + "; AUTOPROVE_NEURAL_REQUIRED=1")
        pytest.skip(why)
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "neural_model.py"), str(dest), *args],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"building the tiny model failed:\n{proc.stdout}\n{proc.stderr}"
    return dest


@pytest.fixture(scope="session")
def tactic_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A converted tiny model that answers TARGET to any state (built once per session)."""
    return _build(tmp_path_factory.mktemp("neural") / "trained")


@pytest.fixture(scope="session")
def random_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A converted tiny model with random weights: random byte strings, decoded up to the length limit."""
    return _build(tmp_path_factory.mktemp("neural") / "random", "--untrained")


@pytest.fixture
def fresh_shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees its own table of loaded folders and of messages already logged."""
    monkeypatch.setattr(NeuralTactics, "_shared", {})
    monkeypatch.setattr(neural, "_warned", set())
    yield


def _state(*goals: tuple[tuple[str, ...], str]) -> ProofState:
    return ProofState(path=(), goals=tuple(GoalView(h, c) for h, c in goals))


class _FakeModel:
    """Anything with `suggest` is a model to the candidate source; this one counts its calls."""

    def __init__(self, answers: list[tuple[str, float]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int, float]] = []

    def suggest(self, state_text: str, k: int, timeout: float) -> list[tuple[str, float]]:
        self.calls.append((state_text, k, timeout))
        return self.answers[:k]


class _Inner:
    """A strategy with fixed candidates."""

    def __init__(self, cands: list[Candidate]) -> None:
        self.cands = cands
        self.drawn = 0

    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> Iterator[Candidate]:
        for c in self.cands:
            self.drawn += 1
            yield c


# -- pure units -----------------------------------------------------------------------------------------------


def test_cost_falls_with_log_probability_within_profile_0s_range() -> None:
    costs = [neural_cost(lp) for lp in (0.0, -0.5, -2.0, -5.0, -50.0)]
    assert costs == sorted(costs) and len(set(costs)) == 5
    assert costs[0] == COST_BASE and costs[-1] == COST_MAX
    assert 0.5 <= COST_BASE <= 1.0 and COST_MAX <= 3.5  # profile 0's closers cost 0.5–1.5, its deep steps up to 3
    assert neural_cost(0.3) == COST_BASE  # a score above 0 (sampling) is no cheaper than certainty


def test_model_outputs_become_one_tactic_or_nothing() -> None:
    assert tactic_of("  apply   foo_bar.  ", "coq") == "apply foo_bar"
    assert tactic_of("rewrite Nat.add_comm.", "coq") == "rewrite Nat.add_comm"  # a qualified name is no sentence end
    assert tactic_of("exists 14; reflexivity.", "coq") == "exists 14; reflexivity"
    for bad in ("intros. auto.", "admit.", "Admitted.", "Qed.", "Require Import Lia.", "Abort.", "", "  .  "):
        assert tactic_of(bad, "coq") is None, bad
    assert tactic_of("simp [Nat.add_comm]", "lean") == "simp [Nat.add_comm]"
    assert tactic_of("exact foo.bar", "lean") == "exact foo.bar"
    assert tactic_of("sorry", "lean") is None and tactic_of("admit", "lean") is None


def test_the_prompt_is_the_state_as_the_prover_prints_it() -> None:
    st = _state((("n : nat",), "n + 0 = n"), (("m : nat",), "m = m"))
    assert state_prompt(st, "coq") == COQ_STATE  # the focused goal, GoalView.text()
    assert state_prompt(st, "lean") == "n : nat\n⊢ n + 0 = n\n\nm : nat\n⊢ m = m"  # every goal, LeanDojo's form
    assert state_prompt(_state(), "coq") == ""


def test_candidates_are_cleaned_deduplicated_and_costed() -> None:
    model = _FakeModel([("auto.", -0.1), ("auto", -0.4), ("intros. auto.", -0.5), ("Admitted.", -0.6),
                        ("apply foo.", -4.0), ("lia.", -1.0)])
    st = _state((("n : nat",), "n + 0 = n"))
    cands = neural_candidates(model, st, 6, backend="coq", timeout=1.5, tactic_timeout=3.0)
    assert [c.tactic for c in cands] == ["auto", "lia", "apply foo"]
    assert all(c.strategy == "neural" and c.timeout == 3.0 for c in cands)
    assert [c.cost for c in cands] == sorted(c.cost for c in cands)
    assert model.calls == [(COQ_STATE, 6, 1.5)]
    assert neural_candidates(model, _state(), 6) == []  # no goal: the model is not asked
    assert len(model.calls) == 1


def test_merged_strategy_keeps_cost_order_and_asks_the_model_only_when_reached() -> None:
    inner = _Inner([Candidate("intros", "intro", 0.3, 2.0), Candidate("reflexivity", "closer", 0.5, 1.0),
                    Candidate("auto", "closer", 0.7, 2.0), Candidate("lia", "closer", 0.8, 2.0),
                    Candidate("induction n", "induction", 2.0, 2.0)])
    model = _FakeModel([("lia.", -0.05), ("apply foo.", -2.0), ("reflexivity.", -9.0)])
    strat = NeuralStrategy(inner, model, "coq", k=3)
    ctx = SearchContext(tactic_timeout=2.0)
    it = strat.candidates(_state((("n : nat",), "n + 0 = n")), ctx, 0)
    first = [next(it), next(it)]
    assert [c.tactic for c in first] == ["intros", "reflexivity"] and model.calls == []  # cheaper than any neural one
    rest = list(it)
    assert len(model.calls) == 1
    got = [(c.tactic, c.strategy) for c in first + rest]
    assert got == [("intros", "intro"), ("reflexivity", "closer"), ("lia", "neural"), ("auto", "closer"),
                   ("apply foo", "neural"), ("induction n", "induction")]  # each tactic once, the cheaper source
    costs = [c.cost for c in first + rest]
    assert costs == sorted(costs)
    # a state whose strategy yields nothing still gets the model's candidates
    assert [c.tactic for c in NeuralStrategy(_Inner([]), model, "coq", 3).candidates(
        _state(((), "True")), ctx, 1)] == ["lia", "apply foo", "reflexivity"]


def test_off_unless_a_folder_is_configured(monkeypatch: pytest.MonkeyPatch, fresh_shared: None) -> None:
    inner = _Inner([])
    monkeypatch.delenv("AUTOPROVE_MODEL", raising=False)
    assert configured_model(None) is None and with_neural(inner, None, "coq") is inner
    monkeypatch.setenv("AUTOPROVE_MODEL", "/some/folder")
    assert configured_model(None) == "/some/folder"
    assert configured_model("") is None and with_neural(inner, "", "coq") is inner  # "" = explicitly off
    assert configured_model("/other") == "/other"


def test_import_loads_no_model_library() -> None:
    code = ("import sys; import sidecar.cli, sidecar.scheduler, sidecar.learn.neural; "
            "print(sorted(m for m in ('ctranslate2', 'transformers', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_missing_folder_is_said_once_and_the_search_goes_on(tmp_path: Path, fresh_shared: None,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    inner = _Inner([])
    caplog.set_level(logging.WARNING, logger="sidecar.learn.neural")
    for _ in range(3):  # every goal of a run asks again
        assert with_neural(inner, tmp_path / "nowhere", "coq") is inner
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"neural model {tmp_path / 'nowhere'}: no such folder; searching without it"]
    assert model_problem(tmp_path) == (f"neural model {tmp_path}: no model.bin (a folder converted with "
                                       "ctranslate2's ct2-transformers-converter is expected)")
    (tmp_path / "file").write_text("x")
    assert "not a folder" in str(model_problem(tmp_path / "file"))


def test_missing_libraries_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_shared: None) -> None:
    (tmp_path / "model.bin").write_bytes(b"\0" * 16)
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # what an uninstalled module looks like to an import
    with pytest.raises(NeuralUnavailable) as e:
        NeuralTactics.shared(tmp_path)
    assert str(e.value) == (f"neural model {tmp_path}: ctranslate2 is not installed "
                            "(pip install 'auto-prove[neural]')")
    with pytest.raises(NeuralUnavailable):  # remembered: not tried again
        NeuralTactics.shared(tmp_path)


# -- the tiny models ------------------------------------------------------------------------------------------


def test_suggest_gives_k_distinct_tactics_best_first(tactic_model: Path, fresh_shared: None) -> None:
    model = NeuralTactics.shared(tactic_model)
    got = model.suggest(COQ_STATE, 4, 10.0)
    assert len(got) == 4
    texts, scores = [t for t, _ in got], [s for _, s in got]
    assert texts[0] == TARGET and scores[0] > -1.0  # the trained answer, nearly certain
    assert len(set(texts)) == 4 and scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)
    assert all(s < scores[0] - 3 for s in scores[1:])  # the rest are its misspellings, far less likely
    assert model.suggest(COQ_STATE, 4, 10.0) == got  # cached
    assert model.suggest("x y : Nat\nh : x = y\n⊢ y = x", 1, 10.0)[0][0] == TARGET
    assert model.suggest(COQ_STATE, 0, 10.0) == [] and model.suggest("  ", 3, 10.0) == []


def test_random_weights_and_sampling_still_give_distinct_sorted_tactics(random_model: Path,
                                                                        fresh_shared: None) -> None:
    for model in (NeuralTactics(random_model, max_decoding_length=32),
                  NeuralTactics(random_model, max_decoding_length=32, sampling_topk=20)):
        got = model.suggest(COQ_STATE, 5, 30.0)
        assert 1 <= len(got) <= 5
        texts, scores = [t for t, _ in got], [s for _, s in got]
        assert len(set(texts)) == len(texts) and all(t == t.strip() and t for t in texts)
        assert scores == sorted(scores, reverse=True)


def test_one_model_per_folder_shared_by_threads(tactic_model: Path, fresh_shared: None) -> None:
    a = NeuralTactics.shared(tactic_model)
    assert NeuralTactics.shared(str(tactic_model) + "/") is a
    states = [f"n{i} : nat\n====================\nn{i} + {i} = {i} + n{i}" for i in range(8)]
    expected = {s: NeuralTactics(tactic_model).suggest(s, 3, 30.0) for s in states}
    model = NeuralTactics(tactic_model)  # empty cache: every thread really translates
    got: dict[str, list[tuple[str, float]]] = {}
    errors: list[BaseException] = []

    def work(s: str) -> None:
        try:
            got[s] = model.suggest(s, 3, 30.0)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in states]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert got.keys() == expected.keys()
    for s in states:
        assert [t for t, _ in got[s]] == [t for t, _ in expected[s]]
        assert [round(x, 3) for _, x in got[s]] == [round(x, 3) for _, x in expected[s]]


def test_a_slow_model_is_bounded_by_the_timeout(random_model: Path, fresh_shared: None,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sidecar.learn.neural")
    model = NeuralTactics(random_model, max_decoding_length=256)  # random weights: decodes to the limit
    long_state = "\n".join(f"H{i} : x{i} + {i} <= y{i} * {i}" for i in range(60)) + "\n" + "=" * 20 + "\nFalse"
    t0 = time.monotonic()
    assert model.suggest(long_state, 8, 0.001) == []
    assert time.monotonic() - t0 < 0.5  # returned at its deadline, not when the translation ended
    assert model._length == 128  # the next calls decode half as far
    assert model.suggest(long_state + " ", 8, 0.001) == []  # behind the abandoned job: no wait past its deadline
    assert len(caplog.records) == 1 and "no answer within" in caplog.records[0].getMessage()
    got = model.suggest(COQ_STATE, 4, 60.0)  # with time, it answers again (after the abandoned jobs)
    assert 1 <= len(got) <= 4


def test_lean_copilot_layout_without_tokenizer_files_uses_the_byte_tokenizer(tactic_model: Path, tmp_path: Path,
                                                                              fresh_shared: None) -> None:
    # Lean Copilot's converted models ship model.bin, config.json and the vocabulary only
    folder = tmp_path / "ct2-byt5"
    folder.mkdir()
    for name in ("model.bin", "config.json", "shared_vocabulary.json"):
        shutil.copy(tactic_model / name, folder / name)
    model = NeuralTactics.shared(folder)
    assert model.suggest("n : ℕ\n⊢ gcd n n = n", 2, 30.0)[0][0] == TARGET


def _wrong_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    for name in ("tokenizer_config.json", "added_tokens.json"):
        (folder / name).unlink()
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "nat": 1, "forall": 2, "n": 3}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast",
                                                              "unk_token": "[UNK]"}))


MALFORMED = {
    "no model.bin": (lambda f: (f / "model.bin").unlink(), "no model.bin"),
    "corrupt model.bin": (lambda f: (f / "model.bin").write_bytes(os.urandom(2000)), "ctranslate2 cannot load it"),
    "truncated model.bin": (lambda f: (f / "model.bin").write_bytes((f / "model.bin").read_bytes()[:5000]),
                            "ctranslate2 cannot load it"),
    "garbled tokenizer": (lambda f: (f / "tokenizer_config.json").write_text('{"tokenizer_class": "ByT5Tok'),
                          "cannot load its tokenizer"),
    "unknown tokenizer class": (lambda f: (f / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "NoSuchTokenizerAnywhere"})), "cannot load its tokenizer"),
    "another model's tokenizer": (_wrong_tokenizer, "its tokenizer does not fit the model"),
    "no tokenizer, not bytes": (lambda f: [(f / n).unlink() for n in ("tokenizer_config.json", "added_tokens.json",
                                                                       "shared_vocabulary.json")],
                                "no tokenizer files"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_folder_is_one_line_and_the_search_goes_on(case: str, tactic_model: Path, tmp_path: Path,
                                                              fresh_shared: None,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tactic_model, folder)
    spoil, expected = MALFORMED[case]
    spoil(folder)
    with pytest.raises(NeuralUnavailable) as e:
        NeuralTactics(folder)
    message = str(e.value)
    assert message.startswith(f"neural model {folder.resolve()}: ") and expected in message, message
    assert "\n" not in message and len(message) < 400
    caplog.set_level(logging.WARNING, logger="sidecar.learn.neural")
    inner = _Inner([])
    assert with_neural(inner, folder, "coq") is inner and with_neural(inner, folder, "coq") is inner
    assert [r.getMessage() for r in caplog.records] == [message + "; searching without it"]


# -- end to end: auto-prove prove --model, on real Coq ---------------------------------------------------------

needs_coq = pytest.mark.skipif(not HAVE_COQ, reason="Coq (coqc, coqidetop.opt) not installed")


@needs_coq
def test_prove_with_the_model_closes_a_goal_profile_0_does_not(tactic_model: Path, tmp_path: Path) -> None:
    # exists n, n*n*n = 2744 needs the witness 14: profile 0 has no candidate for it; the model answers it
    without, with_model = tmp_path / "without", tmp_path / "with"
    for d in (without, with_model):
        d.mkdir()
        (d / "Cube.v").write_text(CUBE)
    run = run_cli("prove", without / "Cube.v", "--budget", "6", "--cpu", "1.0", "--json", tmp_path / "a.json",
                  env={"AUTOPROVE_MODEL": ""})
    assert run.returncode == 0, run
    row = read_json(tmp_path / "a.json")["goals"][0]
    assert row["status"] in ("exhausted", "timeout") and not row["verified"], row
    run = run_cli("prove", with_model / "Cube.v", "--budget", "30", "--cpu", "1.0", "--model", tactic_model,
                  "--json", tmp_path / "b.json", "--write")
    assert run.returncode == 0 and not run.error_lines(), run
    row = read_json(tmp_path / "b.json")["goals"][0]
    assert row["status"] == "proved" and row["verified"] and row["strategy"] == "neural", row
    assert "exists 14; reflexivity." in row["proof"], row
    written = (with_model / "Cube.v").read_text()
    assert "exists 14; reflexivity." in written and "Admitted" not in written
    assert subprocess.run(["coqc", "Cube.v"], cwd=with_model, capture_output=True).returncode == 0


@needs_coq
def test_prove_with_an_unusable_model_says_so_once_and_proves_without_it(tmp_path: Path) -> None:
    (tmp_path / "Easy.v").write_text(EASY)
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"not a model")
    run = run_cli("prove", tmp_path / "Easy.v", "--budget", "20", "--cpu", "1.0", "--json", tmp_path / "r.json",
                  env={"AUTOPROVE_MODEL": str(broken)})  # through the environment, not the flag
    assert run.returncode == 0, run
    said = [ln for ln in run.stderr.splitlines() if "neural model" in ln]
    assert len(said) == 1 and said[0].startswith(f"warning: neural model {broken}: "), run
    assert said[0].endswith("; searching without it")
    row = read_json(tmp_path / "r.json")["goals"][0]
    assert row["status"] == "proved" and row["verified"] and row["strategy"] != "neural", row
