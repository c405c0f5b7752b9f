import assert from "node:assert/strict";
import { test } from "node:test";

import { proveHereMessage, statusView } from "../status";

test("running: searching, found and CPU", () => {
  const v = statusView({ queued: 4, running: 3, proved: 2, exhausted: 1, errors: 0, total: 10, cpu: 0.476,
    paused: false, enabled: true, cpuTarget: 0.5, budgetSeconds: 60 });
  assert.equal(v.text, "auto-prove: 3 searching · 2 found · 48%");
  assert.match(v.tooltip, /10 goals: 2 proved \(verified\), 3 searching, 4 queued, 1 not found within budget/);
  assert.match(v.tooltip, /target 50%\), 60 s per goal/);
});

test("libraries still being harvested in the background are shown", () => {
  const v = statusView({ running: 1, proved: 0, cpu: 0.5, enabled: true, learning: 12 });
  assert.equal(v.text, "auto-prove: 1 searching · 0 found · 50% · learning 12 libraries");
  assert.match(v.tooltip, /Harvesting the proofs of 12 more loaded libraries in the background/);
  assert.equal(statusView({ running: 1, learning: 1 }).text, "auto-prove: 1 searching · 0 found · 0% · learning 1 library");
  assert.equal(statusView({ running: 1, learning: 0 }).text, "auto-prove: 1 searching · 0 found · 0%");
});

test("paused and disabled say so", () => {
  assert.equal(statusView({ proved: 2, paused: true, enabled: true }).text, "auto-prove: paused · 2 found");
  assert.equal(statusView({ proved: 0, paused: true, enabled: false }).text, "auto-prove: off · 0 found");
});

test("a partial or odd notification still renders", () => {
  assert.equal(statusView({}).text, "auto-prove: 0 searching · 0 found · 0%");
  assert.equal(statusView({ running: Number.NaN, cpu: undefined }).text, "auto-prove: 0 searching · 0 found · 0%");
});

test("the answer of prove-goal-at-cursor as one line", () => {
  assert.equal(proveHereMessage({ ok: true, lemma: "add_zero_r", line: 3, status: "proved" }),
    "auto-prove: add_zero_r (line 3): proof found, quick fix available");
  assert.equal(proveHereMessage({ ok: true, lemma: "t", line: 9, status: "queued" }), "auto-prove: t (line 9): searched next");
  assert.equal(proveHereMessage({ ok: false, message: "no goal there" }), "auto-prove: no goal there");
  assert.equal(proveHereMessage({}), "auto-prove: no goal here");
  assert.equal(proveHereMessage({ ok: true, lemma: "f", line: 2, status: "skipped" }),
    "auto-prove: f (line 2): not a proposition (a definition's body is yours to write): not searched");
});
