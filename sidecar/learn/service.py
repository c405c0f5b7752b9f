"""One process's learning: the memories, fed from the harvest of what goals may see and from every proof verified.

`Learning` is what the scheduler holds under profile 1:

* `prepare(goal)` — the goal's `Visibility` (visibility.py), its sources harvested (harvest.py; cached on disk, so
  a library is replayed once per machine) and their examples and proofs put in the memories (once per source text);
* `view(goal, visibility)` — what the strategy reads (`strategies/learned.py`): predictions and reusable scripts,
  restricted at query time to what the goal may see;
* `learn(goal, trace, script)` — a proof just verified, added at once (online) and kept in the project's
  `.auto-prove/learned/`, so the next run starts with it.

Failures of any part (a library without sources, a corrupt cache, a file that does not replay) cost only that part:
the search goes on with the rest.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from . import LemmaProof, TacticExample
from .features import statement_binders
from .memory import Prediction, ProofMemory, TacticMemory

if TYPE_CHECKING:
    from ..goals import Goal
    from ..provers.base import Prover, ProofState
    from .harvest import Harvest, HarvestCache
    from .visibility import Source, Visibility

__all__ = ["Learning", "LearnedView"]

log = logging.getLogger(__name__)

LEARNED_DIR = "learned"  # under <project>/.auto-prove/: proofs auto-prove verified, as examples (JSON lines)


class Learning:
    """The memories of one process (see the module docstring); thread-safe."""

    def __init__(self, root: Path | None = None, *, cache: "HarvestCache | None" = None,
                 library_seconds: float | None = None) -> None:
        self.tactics = TacticMemory()
        self.proofs = ProofMemory()
        self.root = root
        self._cache = cache
        self._lock = threading.Lock()
        self._loaded: set[tuple[str, str]] = set()  # (origin, digest) whose harvest is in the memories
        self._harvesting: dict[tuple[str, str], threading.Event] = {}
        # seconds a goal may wait, over this process, for libraries to be replayed for the first time on this machine
        # (None: no limit); the libraries past it are `deferred` — the goals go on with what is already harvested
        self._library_seconds = library_seconds
        self.deferred: dict[tuple[str, str], "Source"] = {}
        self._background: threading.Thread | None = None
        self._closed = threading.Event()
        self._background_prover: object | None = None  # the background harvest's current prover, closed by `close`
        self._store = None if root is None else Path(root) / ".auto-prove" / LEARNED_DIR / "proofs.jsonl"
        self._load_store()

    # -- feeding the memories ------------------------------------------------------------------------------------

    def prepare(self, goal: "Goal", needs: Iterable[Path] = (),
                on_source: "Callable[[int, int], None] | None" = None) -> "Visibility | None":
        """The goal's visibility, with everything it may see harvested and in the memories; None (no learning for
        this goal) when it cannot be worked out. `on_source(done, total)` is called as sources are made ready, when
        any of them has to be harvested or read (not when all are in the memories already). A library that would
        need its first replay once the allowance (`library_seconds`) is spent is deferred to `catch_up`."""
        from .harvest import cached_harvest
        from .visibility import visibility_for

        if goal.backend not in ("coq", "lean"):
            return None
        try:
            vis = visibility_for(goal, needs)
        except Exception as e:  # a part that fails costs only itself
            log.warning("%s:%s: no learning for this goal: %s", goal.file.name, goal.line, e)
            return None
        with self._lock:
            todo = [s for s in vis.sources if (s.origin, s.digest or str(s.path)) not in self._loaded]
        for done, source in enumerate(todo):
            if self._closed.is_set():  # the owner is shutting down: it waits for this thread
                return None
            if on_source is not None:
                on_source(done, len(todo))
            key = (source.origin, source.digest or str(source.path))
            with self._lock:
                if key in self._loaded or (key in self.deferred and self._spent()):
                    continue
                waiting = self._harvesting.get(key)
                if waiting is None:
                    self._harvesting[key] = threading.Event()
            if waiting is not None:  # another worker is harvesting it: use it once it is there
                waiting.wait(600)
                continue
            if source.kind == "library" and self._spent():  # past the allowance: only what the cache holds
                self._harvest_into(key, source, partial(cached_harvest, source, cache=self._cache))
            else:
                self._harvest_into(key, source, partial(self._harvest_counted, source))
        if on_source is not None and todo:
            on_source(len(todo), len(todo))
        return vis

    def _harvest_into(self, key: tuple[str, str], source: "Source", fetch: "Callable[[], Harvest | None]") -> bool:
        """Put what `fetch` gives for `source` (registered by this thread in `_harvesting`) in the memories; None
        from it defers the source (`catch_up` takes it later). A failure costs only that source. Whether added."""
        h: "Harvest | None" = None
        failed = False
        try:
            h = fetch()
            if h is not None:
                self.tactics.add(h.examples)
                self.proofs.add(h.proofs)
        except Exception as e:
            failed = True
            log.warning("harvest of %s failed: %s", source.name, e)
        finally:
            with self._lock:
                if h is not None or failed:
                    self._loaded.add(key)
                    self.deferred.pop(key, None)
                else:
                    self.deferred[key] = source
                self._harvesting.pop(key).set()
        return h is not None

    def _harvest_counted(self, source: "Source") -> "Harvest":
        """`harvest_source`, a first-time library replay charged to the allowance."""
        from .harvest import harvest_source

        t0 = time.monotonic()
        h = harvest_source(source, cache=self._cache, stop=self._closed)
        if source.kind == "library" and self._library_seconds is not None and not h.from_cache:
            with self._lock:
                self._library_seconds = (self._library_seconds or 0.0) - (time.monotonic() - t0)
        return h

    def _spent(self) -> bool:
        """Whether the allowance for first-time library harvests is used up (never, without one)."""
        return self._library_seconds is not None and self._library_seconds <= 0

    def catch_up(self, on_source: "Callable[[int, int], None] | None" = None) -> int:
        """Harvest the libraries `prepare` deferred (past its allowance) and add them to the memories, where every
        later query sees them; how many were added. Safe alongside `prepare` (a source is harvested once)."""
        from .harvest import _is_lean, harvest_source

        with self._lock:
            todo = list(self.deferred.items())
        added = 0
        for done, (key, source) in enumerate(todo):
            if self._closed.is_set():
                return added
            if on_source is not None:
                on_source(done, len(todo))
            with self._lock:
                if key in self._loaded or key in self._harvesting:
                    self.deferred.pop(key, None)
                    continue
                self._harvesting[key] = threading.Event()
            added += self._harvest_into(key, source, partial(harvest_source, source, cache=self._cache,
                                                             prover=partial(self._tracked_prover, _is_lean(source)),
                                                             stop=self._closed))
        if on_source is not None and todo:
            on_source(len(todo), len(todo))
        return added

    def catch_up_in_background(self, on_source: "Callable[[int, int], None] | None" = None) -> None:
        """`catch_up` on a daemon thread (one at a time), e.g. in the language server after a goal went ahead
        without the libraries it deferred: the next goals find them in the memories."""
        with self._lock:
            if not self.deferred or (self._background is not None and self._background.is_alive()):
                return
            self._background = threading.Thread(target=self._catch_up_quietly, args=(on_source,),
                                                name="auto-prove-harvest", daemon=True)
            self._background.start()

    def _tracked_prover(self, lean: bool = False) -> "Prover":
        """A harvest prover (Coq's, or the Lean REPL for a `.lean` source) that `close` can reach (the background
        harvest stops with its owner)."""
        from ..errors import AutoProveError
        from ..provers.lean import LeanProver
        from .harvest import _default_prover

        if self._closed.is_set():
            raise AutoProveError("closed")
        p: "Prover" = LeanProver() if lean else _default_prover()
        with self._lock:
            self._background_prover = p  # one library at a time: the earlier ones are closed already
        return p

    def close(self) -> None:
        """Stop the background harvest (its prover is closed now, and no library after it is started) and any
        `prepare` in progress (it returns None before its next source)."""
        self._closed.set()
        with self._lock:
            p, self._background_prover = self._background_prover, None
        if p is not None:
            try:
                p.close()  # type: ignore[attr-defined]
            except Exception:  # best effort: its process dies with ours anyway
                log.debug("closing a harvest prover", exc_info=True)

    def _catch_up_quietly(self, on_source: "Callable[[int, int], None] | None") -> None:
        try:
            n = self.catch_up(on_source)
            if not self._closed.is_set():
                log.info("harvested %d deferred librar%s in the background", n, "y" if n == 1 else "ies")
        except Exception as e:  # a background helper never takes the server down
            log.warning("background harvest stopped: %s", e)

    def learn(self, goal: "Goal", trace: Sequence[tuple["ProofState", str]], script: Sequence[str],
              origin: str | None = None) -> None:
        """Add a verified proof (its steps and its script) to the memories at once, and to the project's store."""
        from .visibility import auto_prove_origin, qualified_lemma, statement_order

        origin = origin or auto_prove_origin(goal.file)
        lemma, order = qualified_lemma(goal), statement_order(goal)
        examples = [TacticExample(tuple(st.goals[0].hypotheses), st.goals[0].conclusion, tac, lemma, origin, order)
                    for st, tac in trace if st.goals]
        proof = LemmaProof(lemma, goal.statement, tuple(script), origin, order)
        self.tactics.add(examples)
        self.proofs.add([proof])
        if self._store is not None and examples:
            try:
                self._store.parent.mkdir(parents=True, exist_ok=True)
                line = json.dumps({"proof": _plain(asdict(proof)), "examples": [_plain(asdict(e)) for e in examples]})
                with self._lock, self._store.open("ab+") as f:
                    f.seek(0, 2)
                    if f.tell() > 0:  # a line cut short by a killed process is closed, not continued
                        f.seek(-1, 2)
                        if f.read(1) != b"\n":
                            f.write(b"\n")
                    f.write(line.encode("utf-8") + b"\n")
            except OSError as e:
                log.warning("could not keep a learned proof in %s: %s", self._store, e)

    def _load_store(self) -> None:
        """The proofs earlier runs verified in this project (a line that does not read is skipped)."""
        if self._store is None or not self._store.is_file():
            return
        bad = 0
        try:
            lines = self._store.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            log.warning("cannot read %s: %s", self._store, e)
            return
        for line in lines:
            try:
                d = json.loads(line)
                p = d["proof"]
                self.proofs.add([LemmaProof(p["lemma"], p["statement"], tuple(p["script"]), p["origin"], p["order"],
                                            frozenset(p.get("constants", ())))])
                self.tactics.add([TacticExample(tuple(e["hyps"]), e["goal"], e["tactic"], e["lemma"], e["origin"],
                                                e["order"]) for e in d["examples"]])
            except (ValueError, KeyError, TypeError):
                bad += 1
        if bad:
            log.warning("%s: %d unreadable line(s) skipped", self._store, bad)

    # -- what a search reads ----------------------------------------------------------------------------------

    def view(self, goal: "Goal", visibility: "Visibility") -> "LearnedView":
        """What the strategy may use for `goal`: only what `visibility` allows."""
        return LearnedView(self, goal, visibility)


class LearnedView:
    """The learned candidates for one goal, restricted to what it may see (`strategies.learned.LearnedSource`)."""

    def __init__(self, learning: Learning, goal: "Goal", visibility: "Visibility", k: int = 32) -> None:
        self.learning = learning
        self.goal = goal
        self.visibility = visibility
        self.k = k  # neighbours per state: with 32 rather than 16 the human's next tactic is among the first 16
        #             predictions in 51.7 % of held-out stdlib steps rather than 47.0 % (benchmarks/memory_accuracy.py)
        self._premises: list[str] | None = None

    def _allows_example(self, e: TacticExample) -> bool:
        return self.visibility.allows(e.origin, e.order, e.lemma)

    def _allows_proof(self, p: LemmaProof) -> bool:
        return self.visibility.allows(p.origin, p.order, p.lemma)

    def predict(self, hyps: Sequence[str], goal: str) -> list[Prediction]:
        """The memory's predictions for a state of this goal."""
        return self.learning.tactics.predict(hyps, goal, self.k, allows=self._allows_example)

    def premises(self, n: int = 8) -> list[str]:
        """Lemmas the proofs of the most similar visible statements used (premises.py: CoqHammer's k-NN / naive
        Bayes over the goal's visible neighbourhood), best first, without this goal's own lemma. Once per goal."""
        if self._premises is None:
            from .premises import METHOD, rank_premises

            self._premises = rank_premises(self.goal.statement, self.learning.proofs, self._allows_proof, n, METHOD,
                                           exclude=self.goal.lemma)
        return self._premises

    def examples(self, k: int = 3) -> list[tuple[str, tuple[str, ...]]]:
        """(statement, script) of the `k` visible proved lemmas most like this goal's statement, as written (a
        language model's prompt shows them)."""
        return [(proof.statement, tuple(proof.script))
                for proof, _ in self.learning.proofs.similar(self.goal.statement, k, allows=self._allows_proof)]

    def reuse(self) -> list[tuple[tuple[str, ...], float]]:
        """Scripts of the visible lemmas most like this goal's statement, their binders renamed to the goal's."""
        out = []
        mine = statement_binders(self.goal.statement)
        for proof, sim in self.learning.proofs.similar(self.goal.statement, 3, allows=self._allows_proof):
            theirs = statement_binders(proof.statement)
            out.append((rename(proof.script, dict(zip(theirs, mine))), sim))
        return out


_IDENT = re.compile(r"(?<![\w'.])([A-Za-z_][\w']*)(?![\w'])")


def rename(script: Sequence[str], mapping: dict[str, str]) -> tuple[str, ...]:
    """`script` with the identifiers of `mapping` replaced (simultaneously)."""
    mapping = {a: b for a, b in mapping.items() if a != b}
    if not mapping:
        return tuple(script)
    return tuple(_IDENT.sub(lambda m: mapping.get(m.group(1), m.group(1)), s) for s in script)


def _plain(d: dict[str, object]) -> dict[str, object]:
    return {k: (sorted(v) if isinstance(v, frozenset) else list(v) if isinstance(v, tuple) else v)
            for k, v in d.items()}
