import assert from "node:assert/strict";
import { test } from "node:test";

import { configurationPayload, DEFAULTS, serverSettings } from "../settings";

function reader(values: Record<string, unknown>): (key: string) => unknown {
  return (key) => values[key];
}

test("settings pass through under autoProve", () => {
  const s = serverSettings(reader({ enabled: false, cpuTarget: 0.25, budgetSeconds: 120, maxProvers: 2, strict: true,
    profile: 2, ticketSeconds: 4, llm: " openai:qwen ", llmBaseUrl: "http://127.0.0.1:8080/v1", llmDollars: 2.5, llmCalls: 40 }));
  assert.deepEqual(configurationPayload(s),
    { autoProve: { enabled: false, cpuTarget: 0.25, budgetSeconds: 120, maxProvers: 2, strict: true, profile: 2,
      ticketSeconds: 4, llm: "openai:qwen", llmBaseUrl: "http://127.0.0.1:8080/v1", llmDollars: 2.5, llmCalls: 40 } });
});

test("missing or mistyped values fall back to the defaults", () => {
  assert.deepEqual(serverSettings(reader({})), DEFAULTS);
  assert.deepEqual(serverSettings(reader({ enabled: "yes", cpuTarget: "half", budgetSeconds: null, maxProvers: NaN,
    strict: "no", profile: 7, llm: 3, llmBaseUrl: false, llmDollars: -1, llmCalls: "many" })), DEFAULTS);
});

test("values out of range are brought into the range the sidecar accepts", () => {
  const s = serverSettings(reader({ cpuTarget: 3, budgetSeconds: 0, maxProvers: 1000, ticketSeconds: -5 }));
  assert.deepEqual([s.cpuTarget, s.budgetSeconds, s.maxProvers, s.ticketSeconds], [1, 1, 64, 0]);
  const t = serverSettings(reader({ cpuTarget: 0, maxProvers: -2.6 }));
  assert.deepEqual([t.cpuTarget, t.maxProvers], [0.1, 0]);
  assert.equal(serverSettings(reader({ maxProvers: 2.4 })).maxProvers, 2);
});
