#!/usr/bin/env python3
"""A stand-in for the Lean 4 REPL (leanprover-community/repl) that answers from recorded transcripts.

No Lean toolchain can be installed where auto-prove's tests run, so the Lean backend is tested against this program,
started exactly as lean-interact starts the real `repl` binary: `lake env <checkout>/.lake/build/bin/repl` in the Lean
project's folder (the stand-in `lake` beside this file, and a checkout made by `make_checkout`; see NOTES.md).

Framing is the real REPL's (REPL/Main.lean, `getLines` and `repl.loop`, commit 8948401):
- a query is the lines up to the first whitespace-only line; each non-blank line loses its trailing whitespace before
  the lines are joined, so a raw line break inside a JSON string vanishes (`"by<newline>sorry"` reads as `"bysorry"`);
- a query starting with `#` or `--` is a comment: no answer; end of input ends the program (exit status 0);
- each answer is one JSON object followed by a blank line. Recorded answers are written back byte for byte, so
  `repl.py < NAME.in` prints exactly `NAME.expected.out`, which is the check the REPL's own test.sh makes.

Matching (the session rule): the transcripts that have a `NAME.expected.out` are loaded from the folders named by
`AUTOPROVE_LEAN_TRANSCRIPTS` (several separated by `os.pathsep`; default: the shared lean-repl-transcripts folder, then
`handwritten/` beside this file), folder by folder and by name within a folder. The stand-in follows every transcript
whose first n requests equal the n requests this session has answered so far. A request is answered from the first
followed transcript (in that order) whose next request equals it, and the transcripts whose next request differs stop
being followed. The recorded transcripts come first, so wherever a hand-written one repeats a recorded session (it
copies that session's requests and answers verbatim before adding its own), the recorded answer is the one given.
Requests are compared as JSON objects after `normalise`, which removes what lean-interact adds to every `Command` /
`FileCommand` (`"incrementality": true` and the `["Elab", "async"]` entry of `setOptions`). A request that no
followed transcript continues is answered with the REPL's error shape, `{"message": "..."}`, and the session is then
off the record: every later request gets that error too, since a real REPL's state (environment and proof-state
numbers) would by then differ from every recording.

`handwritten/` holds transcripts written by hand in the recorded shape, NOT recorded from a Lean REPL (its README says
which requests they add and why; today: the answers to the sort probe of `sidecar/provers/lean.py`, which no
recording contains).

Where the real REPL throws (input that is not JSON, or JSON that is not a REPL command: it exits printing
`uncaught exception: {"message": "Could not parse ..."}`), the stand-in answers that same `{"message": ...}` object
instead and keeps running; such input does not count as a request of the session.

If `AUTOPROVE_LEAN_STANDIN_LOG` names a file, the stand-in appends one JSON line per start (argv, cwd and the
variables `lake env` sets) and per query (the raw lines read), so tests can check what lean-interact really sent.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

TRANSCRIPTS_VAR = "AUTOPROVE_LEAN_TRANSCRIPTS"
LOG_VAR = "AUTOPROVE_LEAN_STANDIN_LOG"
SHARED_TRANSCRIPTS = Path("/work/shared/lean-repl-transcripts")
HANDWRITTEN_TRANSCRIPTS = Path(__file__).resolve().parent / "handwritten"  # NOT recorded: see handwritten/README.md
RECORDED_LEAN_VERSION = "v4.33.0-rc2"  # the toolchain the shared transcripts were recorded with (their README)
LAKE_VARS = ("LAKE", "LAKE_HOME", "LEAN_SYSROOT", "LEAN_PATH", "LEAN_SRC_PATH", "ELAN_TOOLCHAIN", "LEAN_GITHASH")

_ASCII_WHITESPACE = " \t\r\n"  # Lean's `Char.isWhitespace`, used by `String.trimAscii`
_ELAB_ASYNC: list[Any] = [["Elab", "async"], True]  # the option lean-interact appends (server.py:316-319)
OFF_RECORD_MESSAGE = "no recorded transcript continues this session (auto-prove Lean REPL stand-in)"

JsonObject = dict[str, Any]


# --------------------------------------------------------------------------------------------------
# framing


def get_lines(readline: Callable[[], str]) -> str:
    """One query as the REPL's `getLines` reads it: the lines up to and including the first blank one, each
    non-blank one without its trailing whitespace ("" at end of input)."""
    parts: list[str] = []
    while True:
        line = readline()
        if not line.strip(_ASCII_WHITESPACE):
            parts.append(line)
            return "".join(parts)
        parts.append(line.rstrip(_ASCII_WHITESPACE))


def split_queries(text: str) -> list[str]:
    """The queries of a whole input text (a `NAME.in` file), framed as the REPL frames its stdin; blank ones dropped."""
    lines = iter(text.splitlines(keepends=True))
    queries = []
    while (query := get_lines(lambda: next(lines, ""))) != "":
        if query.strip(_ASCII_WHITESPACE):
            queries.append(query)
    return queries


def split_answers(text: str) -> list[str]:
    """The answers of a `NAME.expected.out` file, each as printed (without the blank line that follows it)."""
    blocks, current = [], []
    for line in text.splitlines():
        if line.strip(_ASCII_WHITESPACE):
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


# --------------------------------------------------------------------------------------------------
# requests


def request_kind(obj: object) -> str | None:
    """Which REPL input `obj` parses as, in the REPL's own order (REPL/Main.lean `parse`); None: not a command."""

    def nat(key: str, optional: bool = False) -> bool:
        v = obj.get(key) if isinstance(obj, dict) else None
        if v is None:
            return optional
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    def text(key: str) -> bool:
        return isinstance(obj, dict) and isinstance(obj.get(key), str)

    if not isinstance(obj, dict):
        return None
    if nat("proofState") and text("tactic"):
        return "proofStep"
    if nat("env") and text("pickleTo"):
        return "pickleEnvironment"
    if text("unpickleEnvFrom"):
        return "unpickleEnvironment"
    if nat("proofState") and text("pickleTo"):
        return "pickleProofSnapshot"
    if text("unpickleProofStateFrom") and nat("env", optional=True):
        return "unpickleProofSnapshot"
    if text("cmd") and nat("env", optional=True):
        return "command"
    if text("path") and nat("env", optional=True):
        return "file"
    return None


def normalise(request: JsonObject) -> JsonObject:
    """`request` without what lean-interact adds to each `Command` / `FileCommand` (server.py:312-320):
    `"incrementality": true`, and `[["Elab", "async"], true]` in `setOptions` (the key dropped if nothing is left)."""
    out = dict(request)
    if out.get("incrementality") is True:
        del out["incrementality"]
    options = out.get("setOptions")
    if isinstance(options, list):
        kept = [o for o in options if o != _ELAB_ASYNC]
        if kept:
            out["setOptions"] = kept
        else:
            del out["setOptions"]
    return out


def error_answer(message: str) -> str:
    """The REPL's error shape (`REPL.Error`), printed as one line."""
    return json.dumps({"message": message}, ensure_ascii=False)


# --------------------------------------------------------------------------------------------------
# transcripts


@dataclass(frozen=True)
class Transcript:
    """One recorded REPL session: its requests (as JSON objects) and the answers printed, in the same order."""

    name: str
    requests: tuple[JsonObject, ...]
    answers: tuple[str, ...]


def default_transcripts() -> Path:
    """The recorded transcripts: the first folder of `AUTOPROVE_LEAN_TRANSCRIPTS`, else the shared transcripts beside
    the repository (or at /work/shared)."""
    configured = transcript_folders(default=[])
    if configured:
        return configured[0]
    beside = Path(__file__).resolve().parents[3] / "shared" / "lean-repl-transcripts"
    return beside if beside.is_dir() else SHARED_TRANSCRIPTS


def transcript_folders(default: list[Path] | None = None) -> list[Path]:
    """The folders the stand-in answers from, in order: those `AUTOPROVE_LEAN_TRANSCRIPTS` names (separated by
    `os.pathsep`), else `default` (None: the recorded transcripts, then the hand-written ones)."""
    configured = [Path(p) for p in os.environ.get(TRANSCRIPTS_VAR, "").split(os.pathsep) if p]
    if configured:
        return configured
    return [default_transcripts(), HANDWRITTEN_TRANSCRIPTS] if default is None else default


def load_transcripts(directory: Path) -> list[Transcript]:
    """Every transcript of `directory` that has answers, sorted by name.

    Raises:
        ValueError: a transcript whose requests are not JSON objects or whose counts of requests and answers differ.
    """
    found = []
    for out in sorted(directory.glob("*.expected.out")):
        name = out.name[: -len(".expected.out")]
        source = directory / f"{name}.in"
        if not source.is_file():
            continue
        requests = tuple(json.loads(q) for q in split_queries(source.read_text(encoding="utf-8")))
        answers = tuple(split_answers(out.read_text(encoding="utf-8")))
        if not all(isinstance(r, dict) for r in requests):
            raise ValueError(f"{source}: a request is not a JSON object")
        if len(requests) != len(answers):
            raise ValueError(f"{source}: {len(requests)} requests but {len(answers)} recorded answers")
        found.append(Transcript(name, requests, answers))
    return found


@dataclass
class Replayer:
    """One REPL session answered from recordings, following the transcripts that agree with it so far."""

    transcripts: list[Transcript]
    answered: int = 0
    following: list[Transcript] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.following = list(self.transcripts)

    def answer(self, query: str) -> str | None:
        """The text to print for one framed query (None for a comment, which the REPL skips)."""
        if query.startswith(("#", "--")):
            return None
        try:
            request = json.loads(query)
        except ValueError as e:
            return error_answer(f"Could not parse JSON:\n{e}")
        if request_kind(request) is None:
            what = f"no REPL command has the fields {sorted(request)}" if isinstance(request, dict) else "not an object"
            return error_answer(f"Could not parse as a valid JSON command:\n{what}")
        return self.reply(request)

    def reply(self, request: JsonObject) -> str:
        """The recorded answer to `request` in this session, or the REPL's error shape when nothing recorded fits."""
        wanted = normalise(request)
        n = self.answered
        self.following = [t for t in self.following if n < len(t.requests) and normalise(t.requests[n]) == wanted]
        self.answered += 1
        if not self.following:
            return error_answer(OFF_RECORD_MESSAGE)
        return self.following[0].answers[n]

    @property
    def followed(self) -> list[str]:
        """Names of the transcripts the session still follows."""
        return [t.name for t in self.following]


# --------------------------------------------------------------------------------------------------
# the program


def _log(event: JsonObject) -> None:
    path = os.environ.get(LOG_VAR)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"program": "repl", "pid": os.getpid(), **event}, ensure_ascii=False) + "\n")


def serve(stdin: BinaryIO, stdout: BinaryIO, replayer: Replayer) -> None:
    """The REPL loop: answer each query of `stdin` on `stdout` until end of input."""
    while True:
        lines: list[str] = []

        def readline() -> str:
            line = stdin.readline().decode("utf-8", errors="replace")
            lines.append(line)
            return line

        query = get_lines(readline)
        if query == "":
            return
        _log({"event": "query", "lines": lines})
        text = replayer.answer(query)
        if text is None:
            continue
        stdout.write(text.encode("utf-8") + b"\n\n")
        stdout.flush()


def make_checkout(dest: Path, python: str = sys.executable, lean_version: str = RECORDED_LEAN_VERSION) -> Path:
    """Lay out at `dest` what lean-interact expects of a built REPL checkout (`local_repl_path`): `lean-toolchain`,
    `lakefile.toml` and an executable `.lake/build/bin/repl` that runs this file with `python`. Returns `dest`."""
    binary = dest / ".lake" / "build" / "bin" / "repl"
    binary.parent.mkdir(parents=True, exist_ok=True)
    (dest / "lean-toolchain").write_text(f"leanprover/lean4:{lean_version}\n", encoding="utf-8")
    (dest / "lakefile.toml").write_text('name = "REPL"\ndefaultTargets = ["repl"]\n\n[[lean_lib]]\nname = "REPL"\n\n'
                                        '[[lean_exe]]\nname = "repl"\nroot = "REPL.Main"\n', encoding="utf-8")
    binary.write_text("#!/bin/sh\n# auto-prove's stand-in for the Lean REPL binary\n"
                      f"exec {shlex.quote(python)} {shlex.quote(str(Path(__file__).resolve()))} \"$@\"\n",
                      encoding="utf-8")
    binary.chmod(0o755)
    return dest


def make_project(folder: Path, lean_version: str = RECORDED_LEAN_VERSION) -> Path:
    """A minimal Lake project at `folder` (`lean-toolchain` naming `lean_version`, a `lakefile.toml`). Returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lean-toolchain").write_text(f"leanprover/lean4:{lean_version}\n", encoding="utf-8")
    (folder / "lakefile.toml").write_text('name = "standin_project"\n', encoding="utf-8")
    return folder


def main(argv: Iterable[str] = ()) -> int:
    """Run the stand-in REPL on stdin/stdout; `--make-checkout DIR` lays out a REPL checkout instead."""
    args = list(argv)
    if args[:1] == ["--make-checkout"] and len(args) == 2:
        print(make_checkout(Path(args[1]).absolute()))
        return 0
    if args:
        print(f"usage: {Path(__file__).name} [--make-checkout DIR]", file=sys.stderr)
        return 2
    folders = transcript_folders()
    _log({"event": "start", "argv": sys.argv, "cwd": os.getcwd(), "transcripts": [str(d) for d in folders],
          "env": {k: os.environ.get(k) for k in LAKE_VARS}})
    transcripts: list[Transcript] = []
    for directory in folders:
        try:
            transcripts += load_transcripts(directory)
        except (OSError, ValueError) as e:
            print(f"lean REPL stand-in: cannot read the transcripts in {directory}: {e}", file=sys.stderr)
            return 1
    if not transcripts:
        where = ", ".join(str(d) for d in folders)
        print(f"lean REPL stand-in: no transcripts (NAME.in + NAME.expected.out) in {where}", file=sys.stderr)
        return 1
    serve(sys.stdin.buffer, sys.stdout.buffer, Replayer(transcripts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
