"""The ledger: every attempt, goal status and proof of a project, in SQLite under `<project>/.auto-prove/`.

Each attempt is committed as it happens (WAL journal), so a run killed with SIGKILL loses at most the attempt in
flight; a goal that was being searched when the run died is simply searched again. A write that fails (disk full,
read-only folder) raises `LedgerError` once and the ledger carries on in memory, so a run never stops for it.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from .errors import LedgerError

__all__ = ["Ledger", "GoalRecord", "GoalStatus", "LEDGER_DIR", "TicketRecord"]

log = logging.getLogger(__name__)

LEDGER_DIR = ".auto-prove"
GoalStatus = Literal["queued", "searching", "proved", "exhausted", "timeout", "error", "skipped"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS goals (
    key TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    lemma TEXT NOT NULL,
    line INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    proof TEXT,
    budget_s REAL NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    verified INTEGER NOT NULL DEFAULT 0,
    file_digest TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    strategy TEXT NOT NULL DEFAULT '',
    header TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL,
    depends_on_open TEXT NOT NULL DEFAULT '',
    deps_digest TEXT NOT NULL DEFAULT '',
    golfed_from TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    strategy TEXT NOT NULL,
    tactic TEXT NOT NULL,
    outcome TEXT NOT NULL,
    seconds REAL NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_key ON attempts(key);
CREATE TABLE IF NOT EXISTS llm_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    provider TEXT NOT NULL,
    outcome TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    dollars REAL NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    key TEXT NOT NULL,
    file TEXT NOT NULL,
    lemma TEXT NOT NULL,
    name TEXT NOT NULL,
    statement TEXT NOT NULL,
    status TEXT NOT NULL,
    proof TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL,
    PRIMARY KEY (key, statement)
);
CREATE TABLE IF NOT EXISTS coverage (
    at REAL NOT NULL,
    nodes INTEGER NOT NULL,
    stated INTEGER NOT NULL,
    proved INTEGER NOT NULL,
    fully_proved INTEGER NOT NULL,
    found INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class GoalRecord:
    """A goal's row in the ledger."""

    key: str
    file: str
    lemma: str
    line: int
    kind: str
    status: GoalStatus
    proof: str | None
    budget_s: float
    seconds: float
    attempts: int
    verified: bool
    file_digest: str
    message: str = ""
    strategy: str = ""
    header: str = ""  # import lines the proof needs at the top of the file
    depends_on_open: tuple[str, ...] = ()  # the project's open lemmas the proof uses
    deps_digest: str = ""  # fingerprint of the project files the goal's file loaded (Goal.deps_digest)
    golfed_from: str = ""  # the longer verified proof golf replaced ("" when none)


@dataclass(frozen=True)
class TicketRecord:
    """A helper lemma proposed for a goal the search could not close (tickets.py)."""

    key: str  # the goal's
    file: str
    lemma: str  # the goal's lemma
    name: str  # the helper's
    statement: str
    status: str  # open | proved | used | accepted
    proof: str  # the helper's tactics, one per line ("" when not proved)
    updated: float


class Ledger:
    """SQLite-backed record of a project's proof search; safe to share between worker threads."""

    def __init__(self, root: Path, *, in_memory: bool = False) -> None:
        self.root = Path(root)
        self.path = self.root / LEDGER_DIR / "ledger.sqlite"
        self._lock = threading.Lock()
        self.degraded: str | None = None
        if in_memory:
            self._db = self._connect(":memory:")
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect(str(self.path))
        except (OSError, sqlite3.Error) as e:
            raise LedgerError(f"cannot open ledger {self.path}: {e}") from e

    @staticmethod
    def _connect(where: str) -> sqlite3.Connection:
        db = sqlite3.connect(where, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(goals)")}
        for added in ("depends_on_open", "deps_digest", "golfed_from"):  # a ledger of an earlier version lacks them
            if added not in columns:
                db.execute(f"ALTER TABLE goals ADD COLUMN {added} TEXT NOT NULL DEFAULT ''")
        return db

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        with self._lock:
            try:
                self._db.execute(sql, args)
            except sqlite3.Error as e:
                if self.degraded is None:
                    self._degrade(e)
                    self._db.execute(sql, args)
                    raise LedgerError(f"ledger write failed ({e}); continuing in memory") from e
                raise LedgerError(f"ledger write failed: {e}") from e

    def _degrade(self, err: Exception) -> None:
        """Move to an in-memory copy so the run goes on; keeps what was already recorded."""
        log.error("ledger %s unwritable (%s): continuing in memory", self.path, err)
        mem = self._connect(":memory:")
        try:
            for table in ("goals", "attempts", "llm_calls", "coverage", "tickets"):
                rows = self._db.execute(f"SELECT * FROM {table}").fetchall()
                if rows:
                    marks = ",".join("?" * len(rows[0]))
                    mem.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", rows)
        except sqlite3.Error:
            pass
        self._db = mem
        self.degraded = str(err)

    def record_attempt(self, key: str, strategy: str, tactic: str, outcome: str, seconds: float) -> None:
        """Append one tactic attempt (committed at once)."""
        self._write(
            "INSERT INTO attempts(key, strategy, tactic, outcome, seconds, at) VALUES (?,?,?,?,?,?)",
            (key, strategy, tactic, outcome, seconds, time.time()),
        )

    def record_llm_call(self, key: str, provider: str, usage: dict[str, object]) -> None:
        """Append one language-model call's usage (profile 2; committed at once)."""
        def num(name: str) -> float:
            v = usage.get(name, 0)
            return float(v) if isinstance(v, (int, float)) else 0.0

        self._write(
            "INSERT INTO llm_calls(key, provider, outcome, input_tokens, output_tokens, cache_read_tokens, "
            "cache_write_tokens, dollars, seconds, at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (key, provider, str(usage.get("outcome", "")), int(num("input_tokens")), int(num("output_tokens")),
             int(num("cache_read_tokens")), int(num("cache_write_tokens")), num("dollars"), num("seconds"),
             time.time()),
        )

    def llm_spend(self) -> dict[str, tuple[int, int, float]]:
        """Per provider: (calls, tokens, dollars) recorded so far."""
        with self._lock, self._reading():
            rows = self._db.execute("SELECT provider, COUNT(*), SUM(input_tokens + output_tokens), SUM(dollars) "
                                    "FROM llm_calls GROUP BY provider").fetchall()
        return {r[0]: (int(r[1]), int(r[2] or 0), float(r[3] or 0.0)) for r in rows}

    def upsert_goal(self, rec: GoalRecord) -> None:
        """Insert or replace a goal's row."""
        self._write(
            "INSERT OR REPLACE INTO goals(key, file, lemma, line, kind, status, proof, budget_s, seconds, attempts,"
            " verified, file_digest, message, strategy, header, updated, depends_on_open, deps_digest, golfed_from)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                rec.key, rec.file, rec.lemma, rec.line, rec.kind, rec.status, rec.proof, rec.budget_s,
                rec.seconds, rec.attempts, int(rec.verified), rec.file_digest, rec.message, rec.strategy,
                rec.header, time.time(), "\n".join(rec.depends_on_open), rec.deps_digest, rec.golfed_from,
            ),
        )

    def goal(self, key: str) -> GoalRecord | None:
        """The row of one goal, if any."""
        with self._lock, self._reading():
            row = self._db.execute(
                "SELECT key, file, lemma, line, kind, status, proof, budget_s, seconds, attempts, verified,"
                " file_digest, message, strategy, header, depends_on_open, deps_digest, golfed_from FROM goals WHERE key=?",
                (key,),
            ).fetchone()
        return _record(row) if row else None

    def goals(self) -> Iterator[GoalRecord]:
        """Every goal row, by file and line."""
        with self._lock, self._reading():
            rows = self._db.execute(
                "SELECT key, file, lemma, line, kind, status, proof, budget_s, seconds, attempts, verified,"
                " file_digest, message, strategy, header, depends_on_open, deps_digest, golfed_from FROM goals"
                " ORDER BY file, line"
            ).fetchall()
        return iter([_record(r) for r in rows])

    def family_history(self) -> dict[str, tuple[int, int, float]]:
        """Per strategy family: (attempts, proofs it finished, seconds spent), over the whole ledger."""
        with self._lock, self._reading():
            tried = self._db.execute("SELECT strategy, COUNT(*), SUM(seconds) FROM attempts GROUP BY strategy").fetchall()
            won = dict(self._db.execute("SELECT strategy, COUNT(*) FROM goals WHERE status = 'proved' AND strategy != ''"
                                        " GROUP BY strategy").fetchall())
        return {str(s): (int(n), int(won.get(s, 0)), float(t or 0.0)) for s, n, t in tried}

    def attempt_outcomes(self) -> dict[tuple[str, str], int]:
        """(strategy family, outcome) -> attempts recorded, over the whole ledger."""
        with self._lock, self._reading():
            rows = self._db.execute("SELECT strategy, outcome, COUNT(*) FROM attempts GROUP BY strategy, outcome")
            return {(str(f), str(o)): int(n) for f, o, n in rows.fetchall()}

    def attempt_durations(self, bounds: tuple[float, ...]) -> dict[str, tuple[list[int], int, float]]:
        """Per strategy family: (how many attempts took at most each of `bounds` seconds, cumulative; how many in
        all; their seconds summed): a histogram counted by SQLite, whatever the number of attempts."""
        cols = ", ".join(f"SUM(seconds <= {float(b)!r})" for b in bounds)
        with self._lock, self._reading():
            rows = self._db.execute(f"SELECT strategy, COUNT(*), SUM(seconds){', ' + cols if cols else ''} "
                                    "FROM attempts GROUP BY strategy").fetchall()
        return {str(r[0]): ([int(x or 0) for x in r[3:]], int(r[1]), float(r[2] or 0.0)) for r in rows}

    def record_ticket(self, key: str, file: str, lemma: str, name: str, statement: str, status: str,
                      proof: str = "") -> None:
        """Insert or update a goal's helper-lemma ticket (one per goal and statement)."""
        self._write("INSERT OR REPLACE INTO tickets(key, file, lemma, name, statement, status, proof, updated) "
                    "VALUES (?,?,?,?,?,?,?,?)", (key, file, lemma, name, statement, status, proof, time.time()))

    def tickets(self, key: str | None = None) -> list[TicketRecord]:
        """The tickets of one goal, or all, newest first."""
        sql = "SELECT key, file, lemma, name, statement, status, proof, updated FROM tickets"
        with self._lock, self._reading():
            rows = (self._db.execute(sql + " WHERE key=? ORDER BY name", (key,)) if key is not None
                    else self._db.execute(sql + " ORDER BY updated DESC, name")).fetchall()
        return [TicketRecord(str(a), str(b), str(c), str(d), str(e), str(f), str(g), float(h))
                for a, b, c, d, e, f, g, h in rows]

    # -- moving rows between ledgers (cluster.py: a worker's in-memory ledger; sync.py: another machine's) --------

    _LOGS = {"attempts": ("strategy", "tactic", "outcome", "seconds", "at"),
             "llm_calls": ("provider", "outcome", "input_tokens", "output_tokens", "cache_read_tokens",
                           "cache_write_tokens", "dollars", "seconds", "at")}

    def last_id(self, table: str) -> int:
        """The highest row id of an append-only log ("attempts" | "llm_calls"), 0 when empty."""
        if table not in self._LOGS:
            raise ValueError(f"not a log: {table}")
        with self._lock, self._reading():
            return int(self._db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])

    def log_rows(self, table: str, key: str, after: int = 0) -> list[tuple[object, ...]]:
        """A goal's rows of an append-only log with an id above `after`, oldest first (without key and id)."""
        cols = ", ".join(self._LOGS[table])
        with self._lock, self._reading():
            return [tuple(r) for r in self._db.execute(f"SELECT {cols} FROM {table} WHERE key=? AND id>? ORDER BY id",
                                                       (key, after)).fetchall()]

    def add_log_rows(self, table: str, key: str, rows: list[tuple[object, ...]]) -> None:
        """Append rows `log_rows` returned (elsewhere) to this ledger's log, as they were."""
        cols = self._LOGS[table]
        if not rows:
            return
        sql = f"INSERT INTO {table}(key, {', '.join(cols)}) VALUES (?{',?' * len(cols)})"
        with self._lock:
            try:
                self._db.executemany(sql, [(key, *r) for r in rows])
            except sqlite3.Error as e:
                raise LedgerError(f"ledger write failed: {e}") from e

    def forget(self, key: str) -> None:
        """Drop a goal's row and its tickets (its logs stay)."""
        self._write("DELETE FROM goals WHERE key=?", (key,))
        self._write("DELETE FROM tickets WHERE key=?", (key,))

    def record_coverage(self, nodes: int, stated: int, proved: int, fully_proved: int, found: int) -> None:
        """Append one point of the blueprint's coverage (the dashboard's coverage over time)."""
        self._write("INSERT INTO coverage(at, nodes, stated, proved, fully_proved, found) VALUES (?,?,?,?,?,?)",
                    (time.time(), nodes, stated, proved, fully_proved, found))

    def coverage_history(self, limit: int = 500) -> list[tuple[float, int, int, int, int, int]]:
        """The last `limit` coverage points, oldest first: (at, nodes, stated, proved, fully_proved, found)."""
        with self._lock, self._reading():
            rows = self._db.execute("SELECT at, nodes, stated, proved, fully_proved, found FROM coverage "
                                    "ORDER BY at DESC LIMIT ?", (int(limit),)).fetchall()
        return [(float(a), int(b), int(c), int(d), int(e), int(f)) for a, b, c, d, e, f in reversed(rows)]

    def attempt_count(self, key: str | None = None) -> int:
        """Number of recorded attempts (of one goal, or of all)."""
        with self._lock, self._reading():
            if key is None:
                return int(self._db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM attempts WHERE key=?", (key,)).fetchone()[0])

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Translate a failed read (corrupt database, I/O error) into LedgerError."""
        try:
            yield
        except sqlite3.Error as e:
            raise LedgerError(f"ledger {self.path} unreadable: {e}") from e

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def _record(row: tuple[object, ...]) -> GoalRecord:
    return GoalRecord(
        key=str(row[0]), file=str(row[1]), lemma=str(row[2]), line=int(row[3]),  # type: ignore[arg-type]
        kind=str(row[4]), status=row[5], proof=row[6], budget_s=float(row[7]),  # type: ignore[arg-type]
        seconds=float(row[8]), attempts=int(row[9]), verified=bool(row[10]),  # type: ignore[arg-type]
        file_digest=str(row[11]), message=str(row[12]), strategy=str(row[13]), header=str(row[14]),
        depends_on_open=tuple(x for x in str(row[15]).split("\n") if x), deps_digest=str(row[16]),
        golfed_from=str(row[17] or ""),
    )
