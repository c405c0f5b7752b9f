import LeanHooks.Sidecar
import LeanHooks.Tactic
import LeanHooks.Commands

/-!
# LeanHooks: the Lean side of auto-prove

`import LeanHooks` gives

* the tactic `auto_prove`: asks the running auto-prove sidecar for proof scripts for the current
  goal, tries each one here, and offers the first that closes the goal as a "Try this:" suggestion;
* the command `#sorries`: the open goals (`sorry`s) of the current file with the sidecar's status
  for each;
* the command `#auto_prove` (optionally `#auto_prove name`): the proofs the sidecar has verified
  for the current file (or for the declaration `name`).

All three talk to the sidecar over HTTP on 127.0.0.1 (found through
`<project>/.auto-prove/endpoint.json`, written by `auto-prove lsp` or `auto-prove serve`) by
running `curl`.
-/
