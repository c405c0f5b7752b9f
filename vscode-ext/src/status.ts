// The status bar text from the sidecar's `autoProve/status` notification. Pure logic, tested in
// src/test/status.test.ts.

export interface SidecarStatus {
  queued?: number;
  running?: number;
  proved?: number;
  exhausted?: number;
  errors?: number;
  total?: number;
  /** Fraction of the machine the sidecar's process tree used recently (0–1). */
  cpu?: number;
  paused?: boolean;
  enabled?: boolean;
  cpuTarget?: number;
  budgetSeconds?: number;
  /** Libraries profile 1 is still harvesting in the background (once per machine). */
  learning?: number;
}

export interface StatusView {
  text: string;
  tooltip: string;
}

function n(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** E.g. `auto-prove: 3 searching · 2 found · 48%`; `auto-prove: paused · 2 found` when paused or disabled. */
export function statusView(s: SidecarStatus): StatusView {
  const found = `${n(s.proved)} found`;
  const cpu = `${Math.round(100 * n(s.cpu))}%`;
  let text: string;
  if (s.enabled === false) {
    text = `auto-prove: off · ${found}`;
  } else if (s.paused) {
    text = `auto-prove: paused · ${found}`;
  } else {
    text = `auto-prove: ${n(s.running)} searching · ${found} · ${cpu}`;
  }
  const learning = n(s.learning);
  if (learning > 0 && s.enabled !== false && !s.paused) {
    text += ` · learning ${learning} ${learning === 1 ? "library" : "libraries"}`;
  }
  const tooltip = [
    `${n(s.total)} goals: ${n(s.proved)} proved (verified), ${n(s.running)} searching, ${n(s.queued)} queued, ` +
      `${n(s.exhausted)} not found within budget, ${n(s.errors)} errors`,
    `CPU ${cpu} of the machine (target ${Math.round(100 * n(s.cpuTarget ?? 0.5))}%)` +
      (s.budgetSeconds !== undefined ? `, ${n(s.budgetSeconds)} s per goal` : ""),
    ...(learning > 0 ? [`Harvesting the proofs of ${learning} more loaded ${learning === 1 ? "library" : "libraries"} ` +
      "in the background (once per machine); goals are searched meanwhile with what is already learned"] : []),
    "Click for pause / resume / restart / log",
  ].join("\n");
  return { text, tooltip };
}

export const STARTING: StatusView = { text: "auto-prove: starting…", tooltip: "The sidecar is starting" };

/** What the sidecar's `autoProve.proveHere` answered, for a notification. */
export interface ProveHereAnswer {
  ok?: boolean;
  message?: string;
  lemma?: string;
  line?: number;
  status?: string;
}

/** E.g. `auto-prove: add_zero_r (line 3): proof found, quick fix available` or `…: searched next`. */
export function proveHereMessage(a: ProveHereAnswer): string {
  if (!a.ok) {
    return `auto-prove: ${a.message ?? "no goal here"}`;
  }
  const where = `${a.lemma ?? "goal"}${a.line !== undefined ? ` (line ${a.line})` : ""}`;
  const what: Record<string, string> = {
    proved: "proof found, quick fix available",
    searching: "being searched now",
    exhausted: "no proof found within the budget",
    timeout: "no proof found within the budget",
    error: "the search failed (see the hover)",
    skipped: "not a proposition (a definition's body is yours to write): not searched",
  };
  return `auto-prove: ${where}: ${what[a.status ?? ""] ?? "searched next"}`;
}
