"""The Lean package (lean/) against the sidecar, as far as it can be checked without a Lean toolchain.

LeanHooks cannot be compiled here (no Lean can be installed on these machines; lean/REVIEW.md records the
line-by-line review against the pinned toolchain's sources). What can be run is checked for real:

- the `curl` command lines LeanHooks/Sidecar.lean builds are read out of the Lean source (a tiny evaluator for the
  few expression forms used there) and run against a real endpoint served by a LiveWorkspace, including the
  wrong-token and dead-sidecar paths, and a large goal;
- the JSON field names the Lean decoders read and the suggest body they write are checked against the endpoint's
  JSON schema (sidecar/endpoint_schema.json);
- the Lake layout: the pinned toolchain equals the sidecar's default Lean toolchain, every import resolves.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Iterator

import pytest

from sidecar.endpoint import SCHEMA_FILE, Endpoint
from sidecar.live import LiveWorkspace
from sidecar.provers.lean import DEFAULT_TOOLCHAIN
from sidecar.scheduler import ProveOptions

LEAN = Path(__file__).resolve().parent.parent / "lean"
SIDECAR_LEAN = LEAN / "LeanHooks" / "Sidecar.lean"
CORE_IMPORTS = {"Lean.Data.Json", "Lean.Elab.Tactic", "Lean.Elab.Command", "Lean.Meta.Tactic.TryThis"}

pytestmark = pytest.mark.timeout(120)  # curl is needed (make setup installs it): no skip, a missing curl fails


# -- reading the Lean source --------------------------------------------------------------------------------------

def _definition(src: str, name: str) -> str:
    """The text of `def name ...` up to the next top-level declaration or doc comment."""
    m = re.search(rf"^def {re.escape(name)}\b.*?(?=^(?:def |/--|/-!|structure |end ))", src, re.S | re.M)
    assert m, f"def {name} not found in {SIDECAR_LEAN}"
    return m.group(0)


def _lean_string(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\", "{": "{"}[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


_TOKEN = re.compile(r'\s*(?:(?P<interp>s!)?"(?P<str>(?:[^"\\]|\\.)*)"|toString\s+(?P<tostr>[\w.]+)|(?P<var>[\w.]+)'
                    r'|(?P<plus>\+\+)|(?P<comma>,))')


def _evaluate_array(expr: str, env: dict[str, str]) -> list[str]:
    """Evaluates a Lean `#[...]` of strings built from literals, `s!` interpolation of variables, `toString v`,
    variables and `++` (all the forms LeanHooks uses for curl arguments)."""
    inner = expr.strip()
    assert inner.startswith("#[") and inner.endswith("]"), expr
    inner = inner[2:-1]
    items: list[str] = []
    current: list[str] = []
    pos = 0
    while pos < len(inner):
        if not inner[pos:].strip():
            break
        m = _TOKEN.match(inner, pos)
        assert m, f"cannot read Lean expression at: {inner[pos:pos + 40]!r}"
        pos = m.end()
        if m.group("comma"):
            items.append("".join(current))
            current = []
        elif m.group("plus"):
            continue
        elif m.group("str") is not None:
            text = _lean_string(m.group("str"))
            if m.group("interp"):
                text = re.sub(r"\{([\w.]+)\}", lambda v: env[v.group(1)], m.group("str"))
                text = _lean_string(text)
            current.append(text)
        elif m.group("tostr"):
            current.append(env[m.group("tostr")])
        else:
            current.append(env[m.group("var")])
    items.append("".join(current))
    return items


def _array_after(text: str, marker: str) -> str:
    start = text.index(marker) + len(marker)
    start = text.index("#[", start)
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    raise AssertionError("unbalanced #[")


def curl_args(kind: str, url: str, token: str, file: str) -> list[str]:
    """The argument list LeanHooks passes to curl for `suggest` or `sorries`, read from the Lean source."""
    src = SIDECAR_LEAN.read_text(encoding="utf-8")
    common_def = _definition(src, "commonCurlArgs")
    call_def = _definition(src, kind)
    m = re.search(r"commonCurlArgs ep (\d+) \+\+", call_def)
    assert m, call_def
    env = {"ep.url": url, "ep.token": token, "timeoutSeconds": m.group(1), "file": file}
    return _evaluate_array(_array_after(common_def, ":="), env) + _evaluate_array(_array_after(call_def, "++"), env)


def suggest_body(file: str, line: int, column: int, goal: str) -> str:
    """The body LeanHooks' `suggestBody` writes, built from the keys named in the Lean source."""
    keys = re.findall(r'\("(\w+)", toJson (\w+)\)', _definition(SIDECAR_LEAN.read_text(encoding="utf-8"),
                                                                   "suggestBody"))
    values: dict[str, object] = {"file": file, "line": line, "column": column, "goal": goal}
    return json.dumps({k: ("lean" if v == '"lean"' or k == "backend" else values[v]) for k, v in keys})


def split_status(out: str) -> tuple[int, str]:
    """What LeanHooks' `splitStatus` does: the last line is the HTTP status, the rest the body."""
    body, _, code = out.rpartition("\n")
    return int(code), body


# -- a real endpoint ----------------------------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Endpoint, Path]]:
    live = LiveWorkspace(ProveOptions(budget=10), tmp_path, use_ledger=False)
    ep = Endpoint(tmp_path, live).start()
    f = tmp_path / "A.lean"
    f.write_text("theorem t (x : Nat) (h : x = 2) : x + 0 = 2 := by\n  auto_prove\n", encoding="utf-8")
    try:
        yield ep, f
    finally:
        ep.close()
        live.close()


def run_curl(args: list[str], body: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", *args], input=body, capture_output=True, text=True, timeout=60)


def test_suggest_through_the_curl_call_leanhooks_makes(served: tuple[Endpoint, Path]) -> None:
    ep, f = served
    args = curl_args("suggest", ep.url, ep.token, str(f))
    assert "Authorization: Bearer " + ep.token in args and args[-1] == ep.url + "/v1/suggest"
    r = run_curl(args, suggest_body(str(f), 2, 2, "x : Nat\nh : x = 2\n⊢ x + 0 = 2"))
    assert r.returncode == 0, r.stderr
    status, body = split_status(r.stdout)
    assert status == 200
    answer = json.loads(body)
    tactics = [c["tactic"] for c in answer["candidates"]]
    assert "omega" in tactics and all(c["source"] == "strategy" for c in answer["candidates"])
    # a large goal (well past curl's Expect: 100-continue threshold) goes through as one body
    big = "\n".join(f"h{i} : x + {i} = {i} + x" for i in range(400)) + "\n⊢ x + 0 = 2"
    r = run_curl(args, suggest_body(str(f), 2, 2, big))
    assert r.returncode == 0 and split_status(r.stdout)[0] == 200


def test_sorries_through_the_curl_call_leanhooks_makes(served: tuple[Endpoint, Path], tmp_path: Path) -> None:
    ep, _ = served
    odd = tmp_path / "dir with space & ü" / "B.lean"  # curl URL-encodes the path itself
    r = run_curl(curl_args("sorries", ep.url, ep.token, str(odd)), None)
    assert r.returncode == 0, r.stderr
    status, body = split_status(r.stdout)
    assert status == 200 and json.loads(body) == {"file": str(odd), "goals": []}


def test_wrong_token_and_dead_sidecar_give_the_answers_leanhooks_expects(served: tuple[Endpoint, Path]) -> None:
    ep, f = served
    r = run_curl(curl_args("sorries", ep.url, "0" * 32, str(f)), None)
    status, body = split_status(r.stdout)
    assert r.returncode == 0 and status == 401 and "token" in json.loads(body)["error"]
    url = ep.url
    ep.close()
    r = run_curl(curl_args("sorries", url, ep.token, str(f)), None)
    assert r.returncode != 0 and r.stderr.strip()  # LeanHooks reports "could not be reached (curl exit code N)"


def test_lean_decoders_read_only_fields_of_the_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["$defs"]
    src = SIDECAR_LEAN.read_text(encoding="utf-8")

    def fields(defn: str) -> set[str]:
        return set(re.findall(r'getObjVal(?:As\? [\w() ]+?|\?) "(\w+)"', _definition(src, defn)))

    cand = schema["SuggestResponse"]["properties"]["candidates"]["items"]
    assert fields("decodeCandidates") == {"candidates"} | set(cand["required"])
    goal = schema["SorriesResponse"]["properties"]["goals"]["items"]
    assert fields("decodeGoals") | {"kind"} == {"goals"} | set(goal["required"])
    assert fields("readEndpoint") <= set(schema["EndpointFile"]["required"])
    keys = set(json.loads(suggest_body("/f.lean", 1, 0, "⊢ True")))
    request = schema["SuggestRequest"]
    assert set(request["required"]) <= keys <= set(request["properties"])
    # the status words `#sorries` documents are the schema's
    statuses = re.search(r"`queued`, `searching`.*?`error`", (LEAN / "LeanHooks" / "Commands.lean").read_text(),
                         re.S)
    assert statuses and set(re.findall(r"`(\w+)`", statuses.group(0))) == set(goal["properties"]["status"]["enum"])


def test_lake_layout_and_pinned_toolchain() -> None:
    assert (LEAN / "lean-toolchain").read_text().strip() == DEFAULT_TOOLCHAIN
    lake = tomllib.loads((LEAN / "lakefile.toml").read_text())
    assert [lib["name"] for lib in lake["lean_lib"]] == ["LeanHooks"]
    assert [(exe["name"], exe["root"]) for exe in lake["lean_exe"]] == [("auto_prove_bank", "Main")]
    assert "require" not in lake  # core Lean only
    sources = [LEAN / "LeanHooks.lean", LEAN / "Main.lean", *sorted((LEAN / "LeanHooks").glob("*.lean"))]
    for src in sources:
        for mod in re.findall(r"^import (\S+)", src.read_text(encoding="utf-8"), re.M):
            if mod.startswith("LeanHooks"):
                assert (LEAN / (mod.replace(".", "/") + ".lean")).is_file(), (src, mod)
            else:
                assert mod in CORE_IMPORTS, (src, mod)
    # the Lean side only talks to loopback addresses, and the sidecar's endpoint file always names one
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["$defs"]["EndpointFile"]
    assert schema["properties"]["url"]["pattern"] == r"^http://127\.0\.0\.1:[0-9]+$"
    assert '"http://127.0.0.1:"' in _definition(SIDECAR_LEAN.read_text(encoding="utf-8"), "isLoopbackUrl")
    main = (LEAN / "Main.lean").read_text(encoding="utf-8")
    assert '#["bank", "--backend", "lean"]' in main and "def main (args : List String) : IO UInt32" in main
