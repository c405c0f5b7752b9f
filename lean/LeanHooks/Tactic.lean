import Lean.Elab.Tactic
import Lean.Meta.Tactic.TryThis
import LeanHooks.Sidecar

/-!
# The `auto_prove` tactic

`auto_prove` sends the main goal (pretty-printed, with the file and position of the tactic) to
the running sidecar, which answers with candidate tactic scripts: proofs it has already verified
for this goal first, then the first steps of its own search. Each candidate is parsed and run
here on the main goal alone, with the elaboration state saved before and restored after a
failure. The first candidate that closes the goal without `sorry` is kept (the goal stays
closed) and shown as a "Try this:" suggestion that replaces `auto_prove`, as `exact?` does.

Nothing the sidecar sends is trusted: a candidate counts only if Lean itself closes the goal with
it here.
-/

open Lean Elab Tactic Meta

namespace AutoProve

/-- A candidate script as one tactic: `(` script `)`. Continuation lines get one more leading
space so that they keep their column relative to the first line, which moves right by one
character after the opening parenthesis. The closing parenthesis is on its own line so that a
trailing `--` comment cannot swallow it. -/
def asOneTactic (script : String) : String :=
  "(" ++ joinWith "\n " (splitOnChar (trimEnd script) '\n') ++ "\n)"

/-- A script must not close a goal by `sorry` or `admit` (both would "succeed"); the proof term
is checked as well, this is only a quick first filter. Scripts ending in `?` (`exact?`,
`apply?`) report their own suggestions instead of a script, so they are not used here. -/
def acceptableScript (script : String) : Bool :=
  let flat := script.map fun c => if c == '\n' || c == '\t' then ' ' else c
  !((splitOnChar flat ' ').any fun w => w == "sorry" || w == "admit" || w == "exact?" || w == "apply?")

/-- `script` indented for insertion at `column`: every line after the first starts at that
column, so a multi-line script stays a valid tactic block where `auto_prove` stood. -/
def indentScript (script : String) (column : Nat) : String :=
  joinWith ("\n" ++ spaces column) (splitOnChar (trimEnd script) '\n')

/-- Runs `tac` on the main goal alone. Returns `true`, keeping the new state, when it closed that
goal with a proof free of `sorry`; otherwise restores the state saved before and returns
`false`. Errors of the candidate are not reported (they are not the user's). -/
def closesMainGoal (tac : Syntax) : TacticM Bool := do
  let saved ← saveState
  let goal ← getMainGoal
  try
    let closed ← focus do
      Term.withoutErrToSorry <| withoutRecover <| evalTactic tac
      return (← getUnsolvedGoals).isEmpty
    if closed then
      let proof ← instantiateMVars (mkMVar goal)
      if !proof.hasSorry then
        return true
    saved.restore
    return false
  catch _ =>
    saved.restore
    return false

/-- `auto_prove`: asks the auto-prove sidecar for proofs of the main goal and keeps the first
one that Lean accepts here, offering it as a "Try this:" replacement. -/
syntax (name := autoProveTactic) "auto_prove" : tactic

@[tactic autoProveTactic] def evalAutoProve : Tactic := fun stx => do
  let goal ← getMainGoal
  let goalText := toString (← ppGoal goal)
  let some pos := stx.getPos?
    | throwError "auto_prove: this tactic has no position in the file"
  let position := (← getFileMap).toPosition pos
  let file ← absolutize (System.FilePath.mk (← getFileName))
  let answer ← suggestFor file position.line position.column goalText
  let candidates ← match answer with
    | .ok cands => pure cands
    | .error msg => throwError msg
  if candidates.isEmpty then
    throwError "auto_prove: the sidecar has no candidate for this goal"
  let env ← getEnv
  let mut tried : Nat := 0
  for cand in candidates do
    unless acceptableScript cand.tactic do continue
    match Parser.runParserCategory env `tactic (asOneTactic cand.tactic) with
    | .error _ => continue
    | .ok tac =>
      tried := tried + 1
      if (← closesMainGoal tac) then
        let text := indentScript cand.tactic position.column
        Lean.Meta.Tactic.TryThis.addSuggestion stx
          { suggestion := Lean.Meta.Tactic.TryThis.SuggestionText.string text }
        return
  throwError m!"auto_prove: none of the sidecar's {candidates.size} candidates ({tried} tried here) closes this goal"

end AutoProve
