// The extension's settings as the sidecar reads them (`initializationOptions` and
// `workspace/didChangeConfiguration`, under `autoProve`). Pure logic, tested in src/test/settings.test.ts.

export interface ServerSettings {
  enabled: boolean;
  cpuTarget: number;
  budgetSeconds: number;
  /** 0: as many provers as the CPU target allows. */
  maxProvers: number;
  /** Refuse proofs that use the project's own open (`sorry`/`Admitted`) lemmas; by default they are offered, labelled. */
  strict: boolean;
  /** Strategy profile: 0 (hand-written candidates), 1 (also what the project's visible proofs teach), 2 (also a
   * language model). */
  profile: number;
  /** Coq: seconds to search each helper lemma proposed for a goal not proved, and the goal again with it (0: proposed
   * only). */
  ticketSeconds: number;
  /** Profile 2's model, "openai:<model>" or "anthropic:<model>" ("" none); keys stay in the environment. */
  llm: string;
  llmBaseUrl: string;
  /** Caps over the editor's session (null: none). */
  llmDollars: number | null;
  llmCalls: number | null;
}

export const DEFAULTS: ServerSettings = { enabled: true, cpuTarget: 0.5, budgetSeconds: 60, maxProvers: 0, strict: false, profile: 1,
  ticketSeconds: 10, llm: "", llmBaseUrl: "", llmDollars: null, llmCalls: null };

/** Settings that change how the sidecar is started: changing one restarts it. */
export const RESTART_KEYS = ["serverPath", "python"] as const;

/** Settings the running sidecar takes without a restart. */
export const LIVE_KEYS = ["enabled", "cpuTarget", "budgetSeconds", "maxProvers", "strict", "profile", "ticketSeconds", "llm",
  "llmBaseUrl",
  "llmDollars", "llmCalls"] as const;

function finite(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * The settings to send, from a reader of the `autoProve` section. Values out of range are brought into range
 * (cpuTarget to 0.1–1, maxProvers to 0–64, budgetSeconds at least 1); values of the wrong type fall back to
 * the defaults, so the sidecar always receives something it accepts.
 */
export function serverSettings(get: (key: string) => unknown): ServerSettings {
  const enabled = get("enabled");
  const cpu = get("cpuTarget");
  const budget = get("budgetSeconds");
  const provers = get("maxProvers");
  const strict = get("strict");
  const profile = get("profile");
  const tickets = get("ticketSeconds");
  const llm = get("llm");
  const base = get("llmBaseUrl");
  const dollars = get("llmDollars");
  const calls = get("llmCalls");
  return {
    enabled: typeof enabled === "boolean" ? enabled : DEFAULTS.enabled,
    cpuTarget: finite(cpu) ? Math.min(1, Math.max(0.1, cpu)) : DEFAULTS.cpuTarget,
    budgetSeconds: finite(budget) ? Math.max(1, budget) : DEFAULTS.budgetSeconds,
    maxProvers: finite(provers) ? Math.min(64, Math.max(0, Math.round(provers))) : DEFAULTS.maxProvers,
    strict: typeof strict === "boolean" ? strict : DEFAULTS.strict,
    profile: profile === 0 || profile === 1 || profile === 2 ? profile : DEFAULTS.profile,
    ticketSeconds: finite(tickets) ? Math.min(3600, Math.max(0, tickets)) : DEFAULTS.ticketSeconds,
    llm: typeof llm === "string" ? llm.trim() : DEFAULTS.llm,
    llmBaseUrl: typeof base === "string" ? base.trim() : DEFAULTS.llmBaseUrl,
    llmDollars: finite(dollars) && dollars >= 0 ? dollars : DEFAULTS.llmDollars,
    llmCalls: finite(calls) && calls >= 0 ? Math.round(calls) : DEFAULTS.llmCalls,
  };
}

/** The payload of `workspace/didChangeConfiguration` (and of `initializationOptions`). */
export function configurationPayload(s: ServerSettings): { autoProve: ServerSettings } {
  return { autoProve: s };
}
