import assert from "node:assert/strict";
import { test } from "node:test";

import { discoverSidecar, Probe } from "../discovery";

/** A probe over a made-up machine: executables, PATH entries, Pythons that have the package. */
function machine(opts: { executables?: string[]; path?: Record<string, string>; pythons?: string[] }): Probe & {
  asked: string[];
} {
  const asked: string[] = [];
  return {
    asked,
    isExecutable: (p) => (opts.executables ?? []).includes(p),
    which: (name) => opts.path?.[name],
    pythonHasSidecar: (py) => {
      asked.push(py);
      return (opts.pythons ?? []).includes(py);
    },
  };
}

test("serverPath wins when it is an executable", () => {
  const found = discoverSidecar({ serverPath: "/venv/bin/auto-prove", python: "/usr/bin/python3" },
    machine({ executables: ["/venv/bin/auto-prove"], path: { "auto-prove": "/usr/local/bin/auto-prove" } }));
  assert.deepEqual(found, { ok: true, command: "/venv/bin/auto-prove", args: ["lsp"], via: "autoProve.serverPath" });
});

test("a serverPath that is not executable is an error that names it, not a silent fallback", () => {
  const found = discoverSidecar({ serverPath: "/nope/auto-prove" },
    machine({ path: { "auto-prove": "/usr/local/bin/auto-prove" } }));
  assert.equal(found.ok, false);
  assert.match(!found.ok ? found.message : "", /autoProve\.serverPath is "\/nope\/auto-prove".*not an executable/);
});

test("the python setting runs the module", () => {
  const probe = machine({ pythons: ["/venv/bin/python"], path: { "auto-prove": "/usr/local/bin/auto-prove" } });
  const found = discoverSidecar({ serverPath: "  ", python: "/venv/bin/python" }, probe);
  assert.deepEqual(found, { ok: true, command: "/venv/bin/python", args: ["-m", "sidecar", "lsp"],
    via: "autoProve.python" });
  assert.deepEqual(probe.asked, ["/venv/bin/python"]);
});

test("a python without the package is an error with the pip command for it", () => {
  const found = discoverSidecar({ python: "/usr/bin/python3" }, machine({}));
  assert.equal(found.ok, false);
  assert.match(!found.ok ? found.message : "", /\/usr\/bin\/python3 -m pip install 'auto-prove\[lsp\]'/);
});

test("auto-prove on PATH, then a python3 on PATH that has it", () => {
  assert.deepEqual(discoverSidecar({}, machine({ path: { "auto-prove": "/usr/local/bin/auto-prove" } })),
    { ok: true, command: "/usr/local/bin/auto-prove", args: ["lsp"], via: "PATH" });
  assert.deepEqual(discoverSidecar({}, machine({ path: { python3: "/usr/bin/python3" }, pythons: ["/usr/bin/python3"] })),
    { ok: true, command: "/usr/bin/python3", args: ["-m", "sidecar", "lsp"], via: "python3 on PATH" });
});

test("nothing found: one message with every fix", () => {
  const found = discoverSidecar({}, machine({ path: { python3: "/usr/bin/python3" } }));
  assert.equal(found.ok, false);
  const message = !found.ok ? found.message : "";
  assert.match(message, /pip install 'auto-prove\[lsp\]'/);
  assert.match(message, /autoProve\.serverPath/);
  assert.match(message, /autoProve\.python/);
});
