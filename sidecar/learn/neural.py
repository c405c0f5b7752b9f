"""A local seq2seq tactic generator: a converted model (ctranslate2) proposes tactics for a proof state.

The model is any encoder-decoder converted with ctranslate2's `ct2-transformers-converter` (e.g. Lean Copilot's
`ct2-leandojo-lean4-tacgen-byt5-small`, a ByT5 trained on LeanDojo's (state → tactic) pairs). Its input is the goal
state as the prover prints it — hypotheses, then the conclusion (Lean: `⊢ conclusion`, every goal of the state;
Coq: the focused goal with its `====` rule); its output, beam-searched, is a list of tactics with their
log-probabilities, which become candidates (family "neural") whose cost falls with the log-probability.

Off unless a model folder is configured (`ProveOptions.neural_model`, `--model DIR`, `AUTOPROVE_MODEL`): nothing here
imports ctranslate2 or transformers until a folder is loaded (those imports cost seconds). A folder is loaded once
per process and shared by every search thread. A folder that is missing or malformed, a tokenizer that does not fit,
or ctranslate2/transformers not installed: one line in the log, and the search goes on without the model. A slow
model is bounded by the per-call timeout: the translation runs asynchronously and is abandoned at the deadline (its
decoding length is then halved for the next calls, so an abandoned job is short and the queue cannot grow).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import AutoProveError
from ..provers.base import ProofState
from ..strategies import Candidate, SearchContext

__all__ = ["NeuralTactics", "NeuralUnavailable", "NeuralStrategy", "neural_candidates", "neural_cost",
           "state_prompt", "model_problem", "with_neural", "configured_model", "preload", "tactic_of", "DEFAULT_K",
           "MODEL_ENV"]

log = logging.getLogger(__name__)

DEFAULT_K = 8  # tactics asked per state
# cost = COST_BASE + COST_PER_NAT * (-log-probability), clipped to [COST_BASE, COST_MAX]: a tactic the model is sure
# of (log-prob ≈ 0) costs about what profile 0's cheap closers cost (0.5–1.0), an unlikely one what its deep
# structural steps cost (≈ 3)
COST_BASE = 0.6
COST_PER_NAT = 0.25
COST_MAX = 3.2
MAX_DECODING_LENGTH = 128  # tokens (bytes, for ByT5): longer tactics are rare, and the cap bounds an abandoned job
MIN_DECODING_LENGTH = 16
MAX_INPUT_LENGTH = 1024  # tokens of the prompt kept (its tail: the conclusion is at the end)
_CACHE_SIZE = 512
_VOCABULARY_FILES = ("shared_vocabulary.json", "source_vocabulary.json", "shared_vocabulary.txt",
                     "source_vocabulary.txt")
_TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json", "spiece.model", "vocab.json")
_PROBE = "n m : nat\nH : n <= m\n====================\nforall k, n + k <= m + k  ⊢ ∀ x, x = x"


class NeuralUnavailable(AutoProveError):
    """The model folder cannot be used (missing, malformed, a tokenizer that does not fit, libraries missing)."""


def model_problem(folder: str | Path) -> str | None:
    """Why `folder` cannot be a ctranslate2 model, from a look at its files (no import of ctranslate2); None: it may.

    The message is one line that names the folder."""
    p = Path(folder).expanduser()
    if not p.exists():
        return f"neural model {p}: no such folder"
    if not p.is_dir():
        return f"neural model {p}: not a folder"
    if not (p / "model.bin").is_file():
        return (f"neural model {p}: no model.bin (a folder converted with ctranslate2's ct2-transformers-converter "
                "is expected)")
    for module in ("ctranslate2", "transformers"):
        if importlib.util.find_spec(module) is None:
            return f"neural model {p}: {module} is not installed (pip install 'auto-prove[neural]')"
    return None


class NeuralTactics:
    """One converted seq2seq tactic model and its tokenizer, on the CPU; `suggest` is safe from several threads."""

    _shared: dict[Path, "NeuralTactics | NeuralUnavailable"] = {}
    _shared_lock = threading.Lock()

    def __init__(self, folder: str | Path, *, max_decoding_length: int = MAX_DECODING_LENGTH,
                 max_input_length: int = MAX_INPUT_LENGTH, sampling_topk: int = 0, sampling_temperature: float = 1.0,
                 compute_type: str = "auto") -> None:
        """Load the model in `folder` (ctranslate2, one inter- and one intra-op thread) and its tokenizer.

        `sampling_topk` > 1 samples the hypotheses (top-k, at `sampling_temperature`) instead of beam search: more
        diverse, not deterministic. `compute_type` is ctranslate2's: "auto" (the fastest the CPU supports: int8 on
        x86-64, where a byt5-small answers about 5 times faster than in float32, in half the memory), "default" (as
        converted), "float32", "int8", ….

        Raises:
            NeuralUnavailable: the folder, the tokenizer or the libraries are not usable (a one-line message).
        """
        self.folder = Path(folder).expanduser().resolve()
        why = model_problem(self.folder)
        if why:
            raise NeuralUnavailable(why)
        self.max_decoding_length = max(MIN_DECODING_LENGTH, max_decoding_length)
        self.max_input_length = max(8, max_input_length)
        self.sampling_topk = sampling_topk
        self.sampling_temperature = sampling_temperature
        try:
            import ctranslate2
        except Exception as e:  # noqa: BLE001 - an import failure of any kind means the same thing here
            raise NeuralUnavailable(f"neural model {self.folder}: ctranslate2 does not import: {_one_line(e)}") from e
        self._tokenizer = _load_tokenizer(self.folder)
        try:
            self._translator = ctranslate2.Translator(str(self.folder), device="cpu", compute_type=compute_type,
                                                      inter_threads=1, intra_threads=1)
        except Exception as e:  # noqa: BLE001 - ctranslate2 raises RuntimeError/ValueError for a bad model
            raise NeuralUnavailable(f"neural model {self.folder}: ctranslate2 cannot load it: {_one_line(e)}") from e
        _check_vocabulary(self.folder, self._tokenizer)
        self._tok_lock = threading.Lock()  # tokenizers keep state (truncation, caches): one caller at a time
        self._lock = threading.Lock()
        self._length = self.max_decoding_length  # current decoding cap (halved after a timeout, grown back after)
        self._abandoned: list[Any] = []  # translations left running at their deadline
        self._cache: OrderedDict[tuple[str, int], list[tuple[str, float]]] = OrderedDict()
        self._slow_noted = False

    @classmethod
    def shared(cls, folder: str | Path) -> "NeuralTactics":
        """The model of `folder`, loaded on first use and shared by every caller; a folder that failed to load is
        not tried again (its first failure is raised again).

        Raises:
            NeuralUnavailable: the folder cannot be used.
        """
        key = Path(folder).expanduser().resolve()
        with cls._shared_lock:  # one load per folder, even when several workers ask at once
            got = cls._shared.get(key)
            if got is None:
                try:
                    got = cls(key)
                except NeuralUnavailable as e:
                    got = e
                cls._shared[key] = got
        if isinstance(got, NeuralUnavailable):
            raise got
        return got

    def suggest(self, state_text: str, k: int, timeout: float) -> list[tuple[str, float]]:
        """Up to `k` tactics for the proof state `state_text`, each once, with its log-probability, best first.

        Returns [] when the model does not answer within `timeout` seconds (the translation is left to finish in
        the background; the next calls decode fewer tokens) or fails."""
        if k <= 0 or not state_text.strip():
            return []
        deadline = time.monotonic() + max(0.0, timeout)
        key = (state_text, k)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return list(hit)
            self._abandoned = [r for r in self._abandoned if not r.done()]
            backlog = list(self._abandoned)
            length = self._length
        for r in backlog:  # they hold the translator (one at a time): wait for them within our own deadline
            if not _wait(r, deadline):
                self._note_slow(timeout)
                return []
        with self._tok_lock:
            tokens = self._tokenizer.convert_ids_to_tokens(self._tokenizer.encode(state_text))
        tokens = tokens[-self.max_input_length:]
        sampling = self.sampling_topk > 1
        n = 2 * k if sampling else k
        t0 = time.monotonic()
        try:
            pending = self._translator.translate_batch(
                [tokens], asynchronous=True, beam_size=1 if sampling else k, num_hypotheses=n, return_scores=True,
                length_penalty=0.0, max_decoding_length=length, max_input_length=self.max_input_length,
                sampling_topk=self.sampling_topk if sampling else 1, sampling_temperature=self.sampling_temperature)[0]
        except Exception as e:  # noqa: BLE001 - a failing model never stops the search
            self._note_failure(e)
            return []
        if not _wait(pending, deadline):
            with self._lock:
                self._abandoned.append(pending)
                self._length = max(MIN_DECODING_LENGTH, length // 2)
            self._note_slow(timeout)
            return []
        try:
            result = pending.result()
        except Exception as e:  # noqa: BLE001
            self._note_failure(e)
            return []
        if time.monotonic() - t0 < 0.5 * timeout:
            with self._lock:
                self._length = min(self.max_decoding_length, max(self._length, int(length * 1.25) + 1))
        best: dict[str, float] = {}
        with self._tok_lock:
            for hyp, score in zip(result.hypotheses, result.scores, strict=False):
                text = self._tokenizer.decode(self._tokenizer.convert_tokens_to_ids(hyp), skip_special_tokens=True)
                text = text.strip()
                if text and (text not in best or score > best[text]):
                    best[text] = float(score)
        out = sorted(best.items(), key=lambda x: -x[1])[:k]
        with self._lock:
            self._cache[key] = out
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return list(out)

    def _note_slow(self, timeout: float) -> None:
        with self._lock:  # once per model: the decoding length adapts, the search goes on
            first, self._slow_noted = not self._slow_noted, True
        if first:
            log.warning("neural model %s: no answer within %.2f s; its suggestions for that state are dropped and it "
                        "decodes fewer tokens from now on", self.folder, timeout)

    def _note_failure(self, e: Exception) -> None:
        _warn_once(f"neural model {self.folder}: translation failed: {_one_line(e)}")


def _wait(pending: Any, deadline: float) -> bool:
    """Wait for an asynchronous ctranslate2 result until `deadline` (monotonic); True when it is done."""
    pause = 0.001
    while not pending.done():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))
        pause = min(0.02, pause * 2)
    return True


def _load_tokenizer(folder: Path) -> Any:
    """The folder's tokenizer (transformers, local files only); a ByT5 byte tokenizer for a folder without
    tokenizer files whose vocabulary is ByT5's (Lean Copilot's converted models ship only the vocabulary).

    Raises:
        NeuralUnavailable: transformers missing, or no tokenizer that can be loaded.
    """
    try:
        import transformers
    except Exception as e:  # noqa: BLE001
        raise NeuralUnavailable(f"neural model {folder}: transformers does not import: {_one_line(e)}") from e
    if any((folder / f).is_file() for f in _TOKENIZER_FILES):
        cls: Any = None
        try:  # the named class directly: AutoTokenizer's module imports torch when it is installed (2 s, 200 MB)
            name = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8")).get("tokenizer_class")
            cls = getattr(transformers, str(name)) if name and hasattr(transformers, str(name)) else None
        except (OSError, ValueError, AttributeError, ImportError):
            cls = None
        try:
            if cls is None:
                cls = transformers.AutoTokenizer
            return cls.from_pretrained(str(folder), local_files_only=True)
        except Exception as e:  # noqa: BLE001 - transformers raises many kinds for a bad tokenizer
            raise NeuralUnavailable(f"neural model {folder}: cannot load its tokenizer: {_one_line(e)}") from e
    vocab = _vocabulary(folder)
    if vocab is not None and _is_byte_vocabulary(vocab):
        return transformers.ByT5Tokenizer()
    raise NeuralUnavailable(f"neural model {folder}: no tokenizer files ({', '.join(_TOKENIZER_FILES[:2])}) and the "
                            "vocabulary is not ByT5's bytes")


def _vocabulary(folder: Path) -> list[str] | None:
    """The model's (source) vocabulary as ctranslate2 stores it (JSON list or one token a line); None if absent."""
    for name in _VOCABULARY_FILES:
        p = folder / name
        if not p.is_file():
            continue
        try:
            text = p.read_text(encoding="utf-8")
            if name.endswith(".json"):
                data = json.loads(text)
                return [str(t) for t in data] if isinstance(data, list) else None
            return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
        except (OSError, ValueError):
            return None
    return None


def _is_byte_vocabulary(vocab: Sequence[str]) -> bool:
    """ByT5's vocabulary: three specials, then the 256 bytes as one character each."""
    return len(vocab) >= 259 and all(vocab[3 + b] == chr(b) for b in range(256))


def _check_vocabulary(folder: Path, tokenizer: Any) -> None:
    """Refuse a tokenizer that does not fit the model: most of its tokens for a typical state unknown to the model.

    Raises:
        NeuralUnavailable: the tokenizer's tokens are not the model's.
    """
    vocab = _vocabulary(folder)
    if not vocab:
        return
    known = set(vocab)
    try:
        tokens = tokenizer.convert_ids_to_tokens(tokenizer.encode(_PROBE))
    except Exception as e:  # noqa: BLE001
        raise NeuralUnavailable(f"neural model {folder}: its tokenizer does not work: {_one_line(e)}") from e
    unknown = sum(1 for t in tokens if t not in known)
    if not tokens or unknown * 2 > len(tokens):
        raise NeuralUnavailable(f"neural model {folder}: its tokenizer does not fit the model ({unknown} of "
                                f"{len(tokens)} tokens of a sample state are not in the model's vocabulary)")


# ---------------------------------------------------------------------------------------------------------------
# the candidate source


def state_prompt(state: ProofState, backend: str) -> str:
    """The model's input for `state`: Lean, every goal as Lean prints it (`h : T` lines, `⊢ target`), blank-line
    separated, as LeanDojo's models were trained; Coq, the focused goal as coqidetop prints it."""
    if not state.goals:
        return ""
    if backend == "lean":
        return "\n\n".join("\n".join([*g.hypotheses, "⊢ " + g.conclusion]) for g in state.goals)
    return state.goals[0].text()


def neural_cost(logprob: float) -> float:
    """A candidate's cost from its log-probability: falls as the model grows surer, within profile 0's range."""
    return min(COST_MAX, COST_BASE + COST_PER_NAT * max(0.0, -logprob))


_COQ_REFUSED = re.compile(r"\b(?:admit|give_up|Admitted|Abort|Qed|Defined|Save)\b")
_LEAN_REFUSED = re.compile(r"\b(?:sorry|admit)\b")
_SENTENCE_END = re.compile(r"\.(?:\s|$)")


def tactic_of(text: str, backend: str) -> str | None:
    """A model output as one tactic for `backend`'s prover, or None for what cannot be one (several sentences, a
    vernacular command, an admit)."""
    t = " ".join(text.split())
    if backend == "coq":
        t = t.rstrip(".").rstrip()
        if not t or _SENTENCE_END.search(t) or _COQ_REFUSED.search(t) or not re.match(r"[a-z_(]", t):
            return None  # Coq tactics start in lower case; a capitalised word is a command
        return t
    if not t or _LEAN_REFUSED.search(t):
        return None
    return t


def neural_candidates(model: Any, state: ProofState, k: int = DEFAULT_K, *, backend: str = "coq",
                      timeout: float = 2.0, tactic_timeout: float = 2.0) -> list[Candidate]:
    """The model's tactics for `state` as candidates of family "neural", cheapest first: `model.suggest(prompt,
    k, timeout)` (a `NeuralTactics` or anything with that method), each output made a tactic for `backend` and
    costed by `neural_cost`; the prover may spend `tactic_timeout` seconds on each."""
    prompt = state_prompt(state, backend)
    if not prompt:
        return []
    out: list[Candidate] = []
    seen: set[str] = set()
    for text, logprob in model.suggest(prompt, k, timeout):
        tac = tactic_of(text, backend)
        if tac is None or tac in seen:
            continue
        seen.add(tac)
        out.append(Candidate(tac, "neural", neural_cost(logprob), tactic_timeout))
    out.sort(key=lambda c: c.cost)
    return out


class NeuralStrategy:
    """A strategy with the neural model's candidates merged in by cost.

    The model is asked only when the state's candidates are drawn as far as the cheapest a neural candidate can
    cost (`COST_BASE`), so a state the search never looks at twice costs no inference."""

    def __init__(self, inner: Any, model: Any, backend: str, k: int = DEFAULT_K) -> None:
        self.inner = inner
        self.model = model
        self.backend = backend
        self.k = k

    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> Iterator[Candidate]:
        """The inner strategy's candidates and the model's, in order of cost, each tactic once (a candidate that
        runs further sentences after its tactic, `Candidate.then`, is another candidate)."""
        seen: set[tuple[str, tuple[str, ...]]] = set()
        mine: deque[Candidate] | None = None  # the model's candidates, cheapest first, once asked

        def ask() -> list[Candidate]:  # an inference costs about what a few tactics do: twice a tactic's time
            return neural_candidates(self.model, state, self.k, backend=self.backend,
                                     timeout=max(1.0, 2.0 * ctx.tactic_timeout), tactic_timeout=ctx.tactic_timeout)

        for c in self.inner.candidates(state, ctx, depth):
            if mine is None and c.cost >= COST_BASE:
                mine = deque(ask())
            while mine and mine[0].cost <= c.cost:
                n = mine.popleft()
                if _key(n) not in seen:
                    seen.add(_key(n))
                    yield n
            if _key(c) not in seen:
                seen.add(_key(c))
                yield c
        for n in (mine if mine is not None else ask()):
            if _key(n) not in seen:
                seen.add(_key(n))
                yield n


def _key(c: Candidate) -> tuple[str, tuple[str, ...]]:
    return c.tactic, tuple(getattr(c, "then", ()))


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(message: str) -> None:
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    log.warning("%s", message)


MODEL_ENV = "AUTOPROVE_MODEL"  # the model folder when none is given explicitly


def configured_model(folder: str | Path | None = None) -> str | None:
    """The model folder to use: `folder`; when it is None, $AUTOPROVE_MODEL; "" or an unset variable: None (off)."""
    if folder is None:
        return os.environ.get(MODEL_ENV) or None
    return str(folder) or None


def preload(folder: str | Path) -> str | None:
    """Load the model of `folder` now (shared afterwards); None when it loaded, else the one-line reason, which is
    then not logged again by `with_neural` (the caller says it)."""
    try:
        NeuralTactics.shared(folder)
    except NeuralUnavailable as e:
        with _warned_lock:
            _warned.add(f"{e}; searching without it")
        return str(e)
    return None


def with_neural(strategy: Any, folder: str | Path | None, backend: str, k: int = DEFAULT_K) -> Any:
    """`strategy` with the neural model of `folder` (or $AUTOPROVE_MODEL) merged in; `strategy` itself when none is
    configured or the folder cannot be used (said once in the log: "neural model …: …; searching without it")."""
    folder = configured_model(folder)
    if not folder:
        return strategy
    try:
        model = NeuralTactics.shared(folder)
    except NeuralUnavailable as e:
        _warn_once(f"{e}; searching without it")
        return strategy
    return NeuralStrategy(strategy, model, backend, k)


def _one_line(e: BaseException, limit: int = 200) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
