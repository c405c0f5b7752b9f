/-!
# `lake exe auto_prove_bank`

Runs the Lean lemma bank through the auto-prove sidecar: `auto-prove bank --backend lean ARGS...`
(the executable named by the environment variable `AUTOPROVE_BIN`, else `auto-prove` on `PATH`),
with its output shown as it comes. The sidecar prints the solve rate. Exit code: 0 when the bank
ran, the sidecar's own code when it refused (for example 2: no Lean toolchain found), 1 when the
sidecar could not be started at all.
-/

def main (args : List String) : IO UInt32 := do
  let cmd := (← IO.getEnv "AUTOPROVE_BIN").getD "auto-prove"
  let spawned ← EIO.toBaseIO <| IO.Process.spawn {
    cmd := cmd, args := #["bank", "--backend", "lean"] ++ args.toArray,
    stdin := .inherit, stdout := .inherit, stderr := .inherit }
  match spawned with
  | .error e =>
    IO.eprintln s!"auto_prove_bank: could not run `{cmd}` ({e}); install the sidecar (pip install auto-prove) or set AUTOPROVE_BIN"
    return 1
  | .ok child =>
    let code ← child.wait
    IO.println s!"auto_prove_bank: auto-prove exited with code {code}"
    return code
