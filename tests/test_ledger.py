"""The ledger: records, resume after reopening, degrading to memory when the disk refuses writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.errors import LedgerError
from sidecar.ledger import GoalRecord, Ledger


def rec(key: str, status: str = "proved", proof: str | None = "Proof. auto. Qed.") -> GoalRecord:
    return GoalRecord(key=key, file="/p/a.v", lemma="foo", line=3, kind="admitted", status=status,  # type: ignore[arg-type]
                      proof=proof, budget_s=60, seconds=1.5, attempts=7, verified=proof is not None,
                      file_digest="d1")


def test_roundtrip_and_reopen(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    led.upsert_goal(rec("k1"))
    led.record_attempt("k1", "closer", "auto", "finished", 0.01)
    led.record_attempt("k1", "closer", "lia", "failed", 0.02)
    led.close()
    again = Ledger(tmp_path)
    r = again.goal("k1")
    assert r is not None and r.status == "proved" and r.proof == "Proof. auto. Qed." and r.verified
    assert again.attempt_count("k1") == 2 and again.attempt_count() == 2
    assert [g.key for g in again.goals()] == ["k1"]
    assert (tmp_path / ".auto-prove" / "ledger.sqlite").exists()


def test_upsert_replaces(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    led.upsert_goal(rec("k", status="searching", proof=None))
    led.upsert_goal(rec("k", status="exhausted", proof=None))
    r = led.goal("k")
    assert r is not None and r.status == "exhausted" and not r.verified


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LedgerError, match="cannot open ledger"):
        Ledger(blocker)  # .auto-prove cannot be created under a file


def test_failed_write_degrades_to_memory_and_keeps_records(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    led.upsert_goal(rec("before"))
    # simulate a disk that refuses writes: make the database read-only under the open connection
    led._db.execute("PRAGMA query_only=ON")
    with pytest.raises(LedgerError, match="continuing in memory"):
        led.record_attempt("k", "closer", "auto", "failed", 0.1)
    assert led.degraded
    led.upsert_goal(rec("after"))  # later writes work (in memory)
    assert led.goal("before") is not None and led.goal("after") is not None
    assert led.attempt_count("k") == 1
