import Lean.Data.Json

/-!
# Talking to the auto-prove sidecar

Everything in this file runs in `IO`:

* finding `<project>/.auto-prove/endpoint.json` by walking up from the current file's folder
  (then from the current working directory);
* calling the sidecar's HTTP API with `curl` (run as a subprocess, request body on its standard
  input, so that goals of any size fit; the command line holds the URL, the file path and the
  token, which other users of the machine can see with `ps` while curl runs);
* decoding the JSON replies.

The tactic (`LeanHooks.Tactic`) and the commands (`LeanHooks.Commands`) are thin wrappers around
`suggestFor`, `sorriesFor` and `locateEndpoint`. They are meant not to throw: failures come
back as `Except.error` with a message meant for the user.

Only small, long-stable parts of the core string API are used (`toList`, `push`, `isEmpty`,
`++`), so that string-API reshuffles between Lean releases do not break this file.
-/

open Lean
open System (FilePath)

namespace AutoProve

/-! ## Small string helpers -/

/-- The message shown whenever no sidecar can be found. -/
def noSidecarMessage : String :=
  "auto_prove: no auto-prove sidecar found; start it with `auto-prove lsp` or `auto-prove serve`"

/-- The string made of the characters `cs`. -/
def ofChars (cs : List Char) : String :=
  cs.foldl String.push ""

/-- Splits `s` at every occurrence of `sep`; the separators are dropped. -/
def splitOnChar (s : String) (sep : Char) : List String :=
  let step : String × List String → Char → String × List String := fun (cur, acc) c =>
    if c == sep then ("", cur :: acc) else (cur.push c, acc)
  let (last, acc) := s.toList.foldl step ("", [])
  (last :: acc).reverse

/-- Joins `parts`, putting `sep` between two consecutive parts. -/
def joinWith (sep : String) : List String → String
  | [] => ""
  | [p] => p
  | p :: ps => p ++ sep ++ joinWith sep ps

/-- A string of `n` spaces. -/
def spaces (n : Nat) : String :=
  ofChars (List.replicate n ' ')

/-- `s` without its trailing whitespace (spaces, tabs, newlines). -/
def trimEnd (s : String) : String :=
  ofChars (s.toList.reverse.dropWhile Char.isWhitespace).reverse

/-- `s` on one line: line breaks are shown as ` ⏎ `. -/
def oneLine (s : String) : String :=
  joinWith " ⏎ " (splitOnChar (trimEnd s) '\n')

/-- Parses a non-empty string of decimal digits. -/
def parseNat? (s : String) : Option Nat :=
  let digits := s.toList
  if digits.isEmpty then none
  else digits.foldl (init := some 0) fun acc c =>
    match acc with
    | some n => if c.isDigit then some (10 * n + (c.toNat - '0'.toNat)) else none
    | none => none

/-! ## Finding the sidecar -/

/-- Where a running sidecar can be reached. -/
structure Endpoint where
  /-- Base URL, e.g. `http://127.0.0.1:8765` (no trailing slash). -/
  url : String
  /-- The bearer token every request must carry. -/
  token : String

/-- An absolute version of `p`: its real path when it exists, otherwise `p` itself when it is
already absolute, otherwise `p` under the current working directory. -/
def absolutize (p : FilePath) : IO FilePath := do
  try
    IO.FS.realPath p
  catch _ =>
    if p.isAbsolute then
      return p
    else
      return (← IO.currentDir) / p

/-- Walks up from `dir` (at most `fuel` folders) to the first folder that contains
`.auto-prove/endpoint.json`, and returns the path of that file. -/
def findEndpointFrom : Nat → FilePath → IO (Option FilePath)
  | 0, _ => pure none
  | fuel + 1, dir => do
    let candidate := dir / ".auto-prove" / "endpoint.json"
    if (← candidate.pathExists) then
      return some candidate
    match dir.parent with
    | some up => if up == dir then return none else findEndpointFrom fuel up
    | none => return none

/-- Drops one trailing `/` from a URL. -/
def stripTrailingSlash (url : String) : String :=
  match url.toList.reverse with
  | '/' :: rest => ofChars rest.reverse
  | _ => url

/-- Whether `url` is an `http://` address on this machine: the sidecar only listens on loopback, so a
file naming anything else is stale, foreign or planted, and no goal or token is sent there. -/
def isLoopbackUrl (url : String) : Bool :=
  ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].any fun p => p.toList.isPrefixOf url.toList

/-- Reads and decodes an endpoint file:
`{"version": 1, "url": "http://127.0.0.1:PORT", "token": "HEX", "pid": 1234}`. -/
def readEndpoint (path : FilePath) : IO (Except String Endpoint) := do
  match ← EIO.toBaseIO (IO.FS.readFile path) with
  | .error e => return .error s!"auto_prove: cannot read {path}: {e}"
  | .ok text =>
    match Json.parse text with
    | .error e => return .error s!"auto_prove: {path} is not valid JSON ({e})"
    | .ok j =>
      match j.getObjValAs? String "url", j.getObjValAs? String "token" with
      | .ok url, .ok token =>
        if isLoopbackUrl url then
          return .ok { url := stripTrailingSlash url, token }
        else
          return .error (s!"auto_prove: {path} names {url}, which is not an http address on this " ++
            "machine (the sidecar only listens on 127.0.0.1); refusing to send goals there")
      | _, _ => return .error s!"auto_prove: {path} lacks the string fields \"url\" and \"token\""

/-- Finds the sidecar serving `file`: walks up from the folder of `file`, then from the current
working directory, to the first folder containing `.auto-prove/endpoint.json`. -/
def locateEndpoint (file : FilePath) : IO (Except String Endpoint) := do
  let mut found : Option FilePath := none
  if let some dir := file.parent then
    found ← findEndpointFrom 64 dir
  if found.isNone then
    found ← findEndpointFrom 64 (← IO.currentDir)
  match found with
  | none => return .error noSidecarMessage
  | some path => readEndpoint path

/-! ## Running `curl` -/

/-- What a `curl` run produced. -/
structure CurlResult where
  exitCode : UInt32
  stdout : String
  stderr : String

/-- Runs `curl args`, writing `input` (if any) to its standard input and then closing it.
Returns an error message instead of throwing if `curl` cannot be started or the pipes fail. -/
def runCurl (args : Array String) (input : Option String) : IO (Except String CurlResult) := do
  let spawned ← EIO.toBaseIO <| IO.Process.spawn {
    cmd := "curl", args := args, stdin := .piped, stdout := .piped, stderr := .piped }
  match spawned with
  | .error e =>
    return .error s!"auto_prove: could not run `curl` ({e}); the auto_prove tactic needs `curl` on PATH"
  | .ok child =>
    try
      -- Take the stdin handle out of `child`: once `stdin` is no longer used, its last
      -- reference is dropped, the pipe is closed and curl sees the end of the request body.
      let (stdin, child) ← child.takeStdin
      if let some text := input then
        stdin.putStr text
        stdin.flush
      -- Same pattern as `IO.Process.output`: drain stdout on a dedicated task while reading
      -- stderr here, so that neither pipe can fill up and block curl.
      let stdoutTask ← IO.asTask child.stdout.readToEnd Task.Priority.dedicated
      let stderr ← child.stderr.readToEnd
      let exitCode ← child.wait
      let stdout ← IO.ofExcept stdoutTask.get
      return .ok { exitCode, stdout, stderr }
    catch e =>
      return .error s!"auto_prove: talking to `curl` failed: {e}"

/-- Splits curl's output, produced with `-w "\n%{http_code}"`, into the HTTP status and the body. -/
def splitStatus (out : String) : Option (Nat × String) :=
  match (splitOnChar out '\n').reverse with
  | code :: bodyRev => (parseNat? code).map fun status => (status, joinWith "\n" bodyRev.reverse)
  | [] => none

/-- The `error` field of a JSON error reply, or the raw body if there is none. -/
def errorDetail (body : String) : String :=
  match Json.parse body with
  | .ok j =>
    match j.getObjValAs? String "error" with
    | .ok msg => msg
    | .error _ => oneLine body
  | .error _ => oneLine body

/-- curl options shared by every request: quiet but reporting errors, never through a proxy (the
sidecar listens on loopback), a time limit, the bearer token, and the HTTP status printed on a
last line of its own. -/
def commonCurlArgs (ep : Endpoint) (timeoutSeconds : Nat) : Array String :=
  #["-sS", "--noproxy", "*", "--max-time", toString timeoutSeconds,
    "-H", s!"Authorization: Bearer {ep.token}",
    "-w", "\n%{http_code}"]

/-- Sends one request (`args` must add the method, body and URL to `commonCurlArgs`) and returns
the JSON body of a `200` reply, or a message for the user. -/
def callSidecar (ep : Endpoint) (args : Array String) (input : Option String) :
    IO (Except String Json) := do
  match ← runCurl args input with
  | .error msg => return .error msg
  | .ok r =>
    if r.exitCode != 0 then
      return .error (s!"auto_prove: the auto-prove sidecar at {ep.url} could not be reached " ++
        s!"(curl exit code {r.exitCode}: {oneLine r.stderr}); is it still running? " ++
        "Start it with `auto-prove lsp` or `auto-prove serve`")
    match splitStatus r.stdout with
    | none => return .error s!"auto_prove: unexpected output from curl: {oneLine r.stdout}"
    | some (status, body) =>
      if status == 200 then
        match Json.parse body with
        | .ok j => return .ok j
        | .error e => return .error s!"auto_prove: the sidecar's reply is not JSON ({e})"
      else if status == 401 then
        return .error (s!"auto_prove: the sidecar at {ep.url} rejected the token of " ++
          s!".auto-prove/endpoint.json (HTTP 401: {errorDetail body}); the file may be stale: " ++
          "restart the sidecar with `auto-prove lsp` or `auto-prove serve`")
      else
        return .error s!"auto_prove: the sidecar answered HTTP {status}: {errorDetail body}"

/-! ## `POST /v1/suggest` -/

/-- One candidate proof script proposed by the sidecar. -/
structure Candidate where
  /-- Tactic script; may span several lines or use `;` / `<;>`. -/
  tactic : String
  /-- `"verified"`, `"ledger"` or `"strategy"` (empty if the sidecar did not say). -/
  source : String

/-- Decodes `{"candidates": [{"tactic": ..., "source": ...}, ...]}`. -/
def decodeCandidates (j : Json) : Except String (Array Candidate) := do
  let items ← (← j.getObjVal? "candidates").getArr?
  items.mapM fun item => do
    let tactic ← item.getObjValAs? String "tactic"
    let source ← item.getObjValAs? (Option String) "source"
    return { tactic, source := source.getD "" }

/-- The JSON body of a suggest request. -/
def suggestBody (file : String) (line column : Nat) (goal : String) : String :=
  (Json.mkObj [("backend", toJson "lean"), ("file", toJson file), ("line", toJson line),
    ("column", toJson column), ("goal", toJson goal)]).compress

/-- Asks the sidecar at `ep` for candidate scripts for `goal`, located in `file` at `line`
(1-based) and `column` (0-based, in codepoints). -/
def suggest (ep : Endpoint) (file : String) (line column : Nat) (goal : String) :
    IO (Except String (Array Candidate)) := do
  let args := commonCurlArgs ep 30 ++
    #["-X", "POST", "-H", "Content-Type: application/json", "-H", "Expect:",
      "--data-binary", "@-", "--url", ep.url ++ "/v1/suggest"]
  match ← callSidecar ep args (some (suggestBody file line column goal)) with
  | .error msg => return .error msg
  | .ok j =>
    match decodeCandidates j with
    | .ok cands => return .ok cands
    | .error e => return .error s!"auto_prove: malformed reply from the sidecar ({e})"

/-- `suggest`, after locating the sidecar serving `file` (an absolute path). -/
def suggestFor (file : FilePath) (line column : Nat) (goal : String) :
    IO (Except String (Array Candidate)) := do
  match ← locateEndpoint file with
  | .error msg => return .error msg
  | .ok ep => suggest ep file.toString line column goal

/-! ## `GET /v1/sorries` -/

/-- What the sidecar knows about one open goal (`sorry`) of a file. -/
structure GoalStatus where
  line : Nat
  column : Nat
  /-- The declaration containing the goal. -/
  name : String
  /-- `queued`, `searching`, `proved`, `exhausted`, `timeout` or `error`. -/
  status : String
  message : String
  /-- The verified proof text, once there is one. -/
  proof : Option String

/-- Decodes `{"file": ..., "goals": [...]}`. -/
def decodeGoals (j : Json) : Except String (Array GoalStatus) := do
  let items ← (← j.getObjVal? "goals").getArr?
  items.mapM fun g => do
    let line ← g.getObjValAs? Nat "line"
    let column ← g.getObjValAs? Nat "column"
    let name ← g.getObjValAs? (Option String) "name"
    let status ← g.getObjValAs? String "status"
    let message ← g.getObjValAs? (Option String) "message"
    let proof ← g.getObjValAs? (Option String) "proof"
    return { line, column, name := name.getD "", status, message := message.getD "", proof }

/-- Asks the sidecar at `ep` for the status of the open goals of `file`. The path is URL-encoded
by curl itself (`-G --data-urlencode`). -/
def sorries (ep : Endpoint) (file : String) : IO (Except String (Array GoalStatus)) := do
  let args := commonCurlArgs ep 10 ++
    #["-G", "--data-urlencode", "file=" ++ file, "--url", ep.url ++ "/v1/sorries"]
  match ← callSidecar ep args none with
  | .error msg => return .error msg
  | .ok j =>
    match decodeGoals j with
    | .ok goals => return .ok goals
    | .error e => return .error s!"auto_prove: malformed reply from the sidecar ({e})"

/-- `sorries`, after locating the sidecar serving `file` (an absolute path). -/
def sorriesFor (file : FilePath) : IO (Except String (Array GoalStatus)) := do
  match ← locateEndpoint file with
  | .error msg => return .error msg
  | .ok ep => sorries ep file.toString

end AutoProve
