import Lean.Elab.Command
import LeanHooks.Sidecar

/-!
# `#sorries` and `#auto_prove`

Both ask the sidecar what it knows about the current file (`GET /v1/sorries`) and print it as an
info message. Neither changes the file: a verified proof is inserted by the editor's quick fix
(auto-prove's language server) or by the `auto_prove` tactic's suggestion.
-/

open Lean Elab Command

namespace AutoProve

/-- One line per goal: `line:column  name  status  message`. -/
def describeGoal (g : GoalStatus) : String :=
  let head := s!"{g.line}:{g.column}  {g.name}  {g.status}"
  if g.message.isEmpty then head else head ++ "  " ++ oneLine g.message

/-- The goals the sidecar tracks in the current file, or an error for the user. -/
def currentFileGoals : CommandElabM (Array GoalStatus) := do
  let file ← absolutize (System.FilePath.mk (← getFileName))
  match ← sorriesFor file with
  | .ok goals => return goals
  | .error msg => throwError msg

/-- `#sorries` lists the open goals (`sorry`s) of the current file, as the auto-prove sidecar
sees them: position, declaration, status (`queued`, `searching`, `proved`, `exhausted`,
`timeout`, `skipped` for a placeholder whose type is not a proposition, `error`) and message. The sidecar knows the file as saved on disk. -/
syntax (name := sorriesCmd) "#sorries" : command

@[command_elab sorriesCmd] def elabSorries : CommandElab := fun _ => do
  let goals ← currentFileGoals
  if goals.isEmpty then
    logInfo "auto-prove: no open goals known in this file (is it saved, and open in the sidecar?)"
  else
    logInfo (joinWith "\n" (s!"auto-prove: {goals.size} open goal(s)" :: (goals.map describeGoal).toList))

/-- `#auto_prove` prints the proofs the auto-prove sidecar has verified for the current file;
`#auto_prove name` only those inside the declaration `name`. -/
syntax (name := autoProveCmd) "#auto_prove" (ppSpace colGt ident)? : command

@[command_elab autoProveCmd] def elabAutoProve : CommandElab := fun stx => do
  let goals ← currentFileGoals
  let wanted : Option String := (stx[1].getOptional?).map fun id => id.getId.toString
  -- `#auto_prove foo` also matches a declaration the sidecar names `Ns.foo`
  let goals := goals.filter fun g =>
    wanted.all fun n => n == g.name || ("." ++ n).toList.isSuffixOf g.name.toList
  let proved := goals.filterMap fun g => g.proof.map fun p => (g, p)
  if proved.isEmpty then
    let scope := match wanted with
      | some n => s!"declaration {n}"
      | none => "this file"
    logInfo s!"auto-prove: no verified proof yet for {scope} ({goals.size} goal(s) known)"
  else
    let blocks := proved.toList.map fun (g, p) =>
      let body := joinWith "\n  " (splitOnChar p '\n')
      s!"{g.line}:{g.column}  {g.name}:\n  " ++ body
    logInfo (joinWith "\n" (s!"auto-prove: {proved.size} verified proof(s)" :: blocks))

end AutoProve
