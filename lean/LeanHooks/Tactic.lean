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

/-- Heartbeats (in thousands, as `maxHeartbeats` counts them) that one candidate may use: a looping
candidate is cut off and the next one tried. -/
def candidateHeartbeats : Nat := 50000

/-- Words a candidate must not contain: proofs that are not proofs (`sorry`, `admit`, `native_decide`
and `decide +native`, which rest on `Lean.ofReduceBool` and run unbounded native code), tactics that
print their own suggestions instead of a script, ones that lift limits or run arbitrary code, and
`auto_prove` itself. The proof term is checked as well; this is a first filter. -/
def forbiddenWords : List String :=
  ["sorry", "admit", "auto_prove", "native_decide", "+native", "set_option", "run_tac", "by_elab",
   "exact?", "apply?", "rw?", "simp?", "simp_all?", "dsimp?", "aesop?", "show_term", "says", "hint",
   "try?"]

/-- Whether `script` contains none of the `forbiddenWords` (as whole words). -/
def acceptableScript (script : String) : Bool :=
  let flat := script.map fun c =>
    if c == '\n' || c == '\t' || c == ';' || c == '(' || c == ')' || c == '[' || c == ']' || c == ','
    then ' ' else c
  !((splitOnChar flat ' ').any fun w => forbiddenWords.contains w)

/-- Whether `pat` occurs in `cs`. -/
def containsChars (pat : List Char) : List Char → Bool
  | [] => pat.isEmpty
  | l@(_ :: rest) => pat.isPrefixOf l || containsChars pat rest

/-- Whether `sub` occurs in `s`. -/
def containsText (s sub : String) : Bool :=
  containsChars sub.toList s.toList

/-- A line that is a complete tactic on its own: not indented, no case arm, bullet or `case`/`next`
block, no comment. -/
def flatLine (line : String) : Bool :=
  match line.toList with
  | [] => false
  | c :: _ =>
    !c.isWhitespace && c != '|' && c != '·' && !containsText line "--" &&
      !("case ".toList.isPrefixOf line.toList) && !("next".toList.isPrefixOf line.toList)

/-- The text that replaces `auto_prove` (which starts at `column`): one plain tactic as it is; a
sequence of plain one-line tactics as `(t1; t2)`, as the sidecar writes proofs into files; anything
with structure as a parenthesised block. The parentheses keep the meaning wherever `auto_prove`
stood, also after `<;>` or `;`. -/
def replacementText (script : String) (column : Nat) : String :=
  let lines := (splitOnChar (trimEnd script) '\n').filter fun l => !(trimEnd l).isEmpty
  match lines with
  | [one] => if containsText one ";" then "(" ++ one ++ ")" else one
  | _ =>
    if lines.all flatLine then "(" ++ joinWith "; " lines ++ ")"
    else "(" ++ joinWith ("\n" ++ spaces (column + 1)) lines ++ "\n" ++ spaces column ++ ")"

/-- `stx` with every position replaced by `info`. A candidate is parsed on its own, so its original
positions are offsets into the candidate's text, not into this file: anything it records (messages,
info trees) is put at `auto_prove` instead. -/
partial def relocate (info : SourceInfo) : Syntax → Syntax
  | .node _ k args => .node info k (args.map (relocate info))
  | .atom _ v => .atom info v
  | .ident _ raw v pre => .ident info raw v pre
  | .missing => .missing

/-- Runs `tac` on the main goal alone, with a heartbeat budget of its own and an empty message log.
Returns `true`, keeping the new state (without the candidate's own messages), when it closed that goal
with no error logged and a proof term free of `sorry`, of `Lean.ofReduceBool` and of goals it left
unsolved. Otherwise restores everything, info trees included, and returns `false`: a candidate's
failure is never shown to the user, and a timeout or deep recursion only ends that candidate. -/
def closesMainGoal (ref tac : Syntax) : TacticM Bool := do
  let saved ← saveState
  let msgsBefore ← Core.getMessageLog
  Core.resetMessageLog
  let goal ← getMainGoal
  let others := (← getUnsolvedGoals).filter (· != goal)
  let ok ← tryCatchRuntimeEx
    (do
      let closed ← withCurrHeartbeats <|
        withTheReader Core.Context (fun ctx => { ctx with maxHeartbeats := candidateHeartbeats * 1000 }) <|
          focus do
            Term.withoutErrToSorry <| withoutRecover <| evalTactic (relocate (SourceInfo.fromRef ref) tac)
            return (← getUnsolvedGoals).isEmpty
      if !closed || (← Core.getMessageLog).hasErrors then
        return false
      let proof ← instantiateMVars (mkMVar goal)
      if proof.hasSorry || proof.getUsedConstants.any (· == ``Lean.ofReduceBool) then
        return false
      -- goals the candidate dropped unsolved leave metavariables behind
      return (← getMVars proof).all others.contains)
    (fun _ => pure false)
  if ok then
    Core.setMessageLog msgsBefore
  else
    saved.restore (restoreInfo := true)
  return ok

/-- `auto_prove`: asks the auto-prove sidecar for proofs of the main goal and keeps the first
one that Lean accepts here, offering it as a "Try this:" replacement. -/
syntax (name := autoProveTactic) "auto_prove" : tactic

@[tactic autoProveTactic] def evalAutoProve : Tactic := fun stx => do
  let goal ← getMainGoal
  -- only a proposition is a goal: a definition's body (data) is the user's to write, however easily
  -- something type-checks there
  unless (← isProp (← instantiateMVars (← goal.getType))) do
    throwError "auto_prove: the goal is not a proposition (a definition's body is yours to write)"
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
      if (← closesMainGoal stx tac) then
        let text := replacementText cand.tactic position.column
        Lean.Meta.Tactic.TryThis.addSuggestion stx
          { suggestion := Lean.Meta.Tactic.TryThis.SuggestionText.string text }
        return
  throwError m!"auto_prove: none of the sidecar's {candidates.size} candidates ({tried} tried here) closes this goal"

end AutoProve
