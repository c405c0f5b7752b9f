"""Coq source text as Coq itself cuts it: running `coqc -time`, lexing, classifying sentences.

Sentence boundaries always come from Coq (`coqc -time` prints `Chars a - b` per executed sentence, UTF-8
byte offsets), never from a home-made parser: comments, strings, nested comments, bullets, notations and
unicode are Coq's business. The lexical helpers here only look *inside* sentences Coq has already cut:
strip comments, find the head keyword, decide whether a sentence opens or closes a proof, and compute a
canonical text that ignores white space and comments (for goal keys).

`run_coqc` compiles bytes as `<stem>.v` in a fresh temporary folder (the working folder of coqc, so `.vo`,
`Redirect` and `Extraction` outputs never land in the user's project), kills coqc's whole process group on
timeout, and returns the sentences, the first error with its byte offset, and every `Redirect` output.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .errors import ProverUnavailable
from .procs import run, spawn, temp_prefix

__all__ = [
    "coq_version",
    "Assembly",
    "Piece",
    "guess_admitted",
    "kill_running_coqc",
    "leading_requires",
    "Sentence",
    "CoqcError",
    "CoqcRun",
    "SentenceInfo",
    "run_coqc",
    "parse_sentences",
    "parse_error",
    "strip_comments",
    "mask_code",
    "blank_comments_and_strings",
    "lexically_balanced",
    "canonical_text",
    "head_text",
    "classify",
    "byte_to_position",
    "require_sentences",
    "loaded_libraries",
    "parse_libraries",
    "COQC",
]

COQC = "coqc"

# --------------------------------------------------------------------------------------------------
# running coqc


@dataclass(frozen=True)
class Sentence:
    """One sentence Coq executed: UTF-8 byte range in the compiled source and its text."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class CoqcError:
    """The error that stopped coqc, located in the compiled source."""

    message: str  # "Error: ..." text, without the File/line header
    line: int | None  # 1-based line, None when coqc gave no location
    start: int | None  # byte offsets in the compiled source
    end: int | None


@dataclass(frozen=True)
class CoqcRun:
    """Result of one coqc run."""

    returncode: int | None  # None when killed on timeout
    sentences: tuple[Sentence, ...]
    error: CoqcError | None
    timed_out: bool
    seconds: float
    stdout: str
    stderr: str
    outputs: Mapping[str, str] = field(default_factory=dict)  # Redirect name -> text

    @property
    def ok(self) -> bool:
        """coqc finished and compiled the whole source."""
        return self.returncode == 0 and not self.timed_out


_CHARS = re.compile(rb"^Chars (\d+) - (\d+) \[", re.M)
_FILE_LOC = re.compile(r'^File "[^"]*", line (\d+), characters (\d+)-(\d+):\n', re.M)


def parse_sentences(stdout: bytes, source: bytes) -> tuple[Sentence, ...]:
    """Sentences from `coqc -time` output, in execution order, keeping only increasing in-bounds ranges."""
    out: list[Sentence] = []
    last_end = 0
    for m in _CHARS.finditer(stdout):
        a, b = int(m.group(1)), int(m.group(2))
        if a < last_end or b <= a or b > len(source):
            continue  # e.g. a sentence of a `Load`ed file
        out.append(Sentence(a, b, source[a:b].decode("utf-8", "replace")))
        last_end = b
    return tuple(out)


def _line_starts(source: bytes) -> list[int]:
    starts = [0]
    pos = source.find(b"\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = source.find(b"\n", pos + 1)
    return starts


def parse_error(stderr: str, source: bytes) -> CoqcError | None:
    """The first `Error:` block of coqc's stderr, with its byte offsets in `source` when located."""
    idx = stderr.find("Error:")
    while idx >= 0 and idx > 0 and stderr[idx - 1] not in "\n":
        idx = stderr.find("Error:", idx + 1)
    if idx < 0:
        return None
    nxt = _FILE_LOC.search(stderr, idx)
    message = stderr[idx : nxt.start() if nxt else len(stderr)].strip()
    loc = None
    for m in _FILE_LOC.finditer(stderr, 0, idx):
        loc = m
    if loc is None or loc.end() != idx:
        return CoqcError(message, None, None, None)
    line, a, b = int(loc.group(1)), int(loc.group(2)), int(loc.group(3))
    starts = _line_starts(source)
    if 1 <= line <= len(starts):
        base = starts[line - 1]
        return CoqcError(message, line, min(base + a, len(source)), min(base + b, len(source)))
    return CoqcError(message, line, None, None)


_RUNNING: set[subprocess.Popen[bytes]] = set()  # coqc runs in progress (each in a session of its own)
_RUNNING_LOCK = threading.Lock()


def kill_running_coqc() -> int:
    """Kill every coqc run of this process that is still going (their callers see a failed run); returns how many.
    For shutting down: coqc runs in sessions of their own, so nothing else would stop them before they end."""
    with _RUNNING_LOCK:
        procs = list(_RUNNING)
    for proc in procs:
        _kill_group(proc)
    return len(procs)


atexit.register(kill_running_coqc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_coqc(
    source: bytes,
    stem: str,
    args: Sequence[str] = (),
    *,
    timeout: float = 300.0,
    load_dir: Path | None = None,
    time_sentences: bool = True,
    logical_dir: str | None = None,
) -> CoqcRun:
    """Compile `source` as `<stem>.v` in a fresh temporary folder and report what happened.

    `args` are the project's load-path arguments; `load_dir` (the project root) is put on the load path as
    coqc would put its working folder (`-Q dir ""`); `logical_dir` compiles the source as the library
    `<logical_dir>.<stem>` (some tactics look their own library up by its full name). `Redirect "name"` outputs of
    the source are returned in `outputs` (relative names land in the temporary folder). On timeout the process
    group is killed.

    Raises:
        ProverUnavailable: coqc is not installed.
    """
    if shutil.which(COQC) is None:
        raise ProverUnavailable("coqc not found on PATH (install Coq 8.16: apt-get install coq)")
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix("autoprove_coqc_")))  # named for its owner: see procs
    try:
        src = tmp / f"{stem}.v"
        src.write_bytes(source)
        cmd = [COQC]
        if time_sentences:
            cmd.append("-time")
        cmd.append("-noglob")
        if load_dir is not None:
            cmd += ["-Q", str(load_dir), ""]
        cmd += list(args)
        if logical_dir:
            cmd += ["-Q", str(tmp), logical_dir]
        cmd += ["-o", str(tmp / f"{stem}.vo"), src.name]
        t0 = time.monotonic()
        with open(tmp / "stdout", "wb") as out_f, open(tmp / "stderr", "wb") as err_f:
            proc = spawn(  # dies with this process, whatever kills it
                cmd, cwd=tmp, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f, start_new_session=True
            )
            with _RUNNING_LOCK:
                _RUNNING.add(proc)
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
                proc.wait()
            finally:
                _kill_group(proc)  # stragglers (e.g. ATP workers of hammer)
                with _RUNNING_LOCK:
                    _RUNNING.discard(proc)
        seconds = time.monotonic() - t0
        stdout_b = (tmp / "stdout").read_bytes()
        stderr = (tmp / "stderr").read_bytes().decode("utf-8", "replace")
        outputs: dict[str, str] = {}
        for p in tmp.glob("*.out"):
            outputs[p.name[: -len(".out")]] = p.read_bytes().decode("utf-8", "replace")
        error = None if (proc.returncode == 0 and not timed_out) else parse_error(stderr, source)
        if error is None and not timed_out and proc.returncode != 0:
            error = CoqcError(stderr.strip()[-2000:] or f"coqc exited with status {proc.returncode}", None, None, None)
        return CoqcRun(
            returncode=None if timed_out else proc.returncode,
            sentences=parse_sentences(stdout_b, source),
            error=error,
            timed_out=timed_out,
            seconds=seconds,
            stdout=stdout_b.decode("utf-8", "replace"),
            stderr=stderr,
            outputs=outputs,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def byte_to_position(source: bytes, offset: int) -> tuple[int, int]:
    """(1-based line, 0-based column in characters) of a byte offset."""
    line_start = source.rfind(b"\n", 0, offset) + 1
    line = source.count(b"\n", 0, offset) + 1
    return line, len(source[line_start:offset].decode("utf-8", "replace"))


# --------------------------------------------------------------------------------------------------
# lexing inside sentences


def _scan(text: str, keep_strings: bool, comment_fill: str, string_fill: str | None) -> tuple[str, bool]:
    """Remove comments (nested; strings inside comments respected) -> (text, balanced)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n:
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                out.append(text[i:] if keep_strings else '"')
                return "".join(out), False
            if keep_strings:
                out.append(text[i : j + 1])
            else:
                out.append('"' + (string_fill or "") + '"')
            i = j + 1
        elif text.startswith("(*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("(*", j):
                    depth += 1
                    j += 2
                elif text.startswith("*)", j):
                    depth -= 1
                    j += 2
                elif text[j] == '"':
                    k = j + 1
                    while k < n:
                        if text[k] == '"':
                            if text.startswith('""', k):
                                k += 2
                                continue
                            break
                        k += 1
                    j = k + 1
                else:
                    j += 1
            if depth:
                return "".join(out), False
            out.append(comment_fill)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out), True


def bracket_depths(text: str) -> Iterable[tuple[int, int]]:
    """(index, bracket depth after that character) for each character of `text` — `(`, `[`, `{` open, their twins
    close; what a caller scans to find a separator outside all brackets."""
    depth = 0
    for i, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        yield i, depth


def strip_comments(text: str) -> str:
    """Text with every (nested) comment replaced by one space; strings kept."""
    return _scan(text, True, " ", None)[0]


def mask_code(text: str) -> str:
    """Text without comments and with string contents removed: safe to search for keywords."""
    return _scan(text, False, " ", "")[0]


def blank_comments_and_strings(text: str) -> str:
    """`text` with every comment and string literal overwritten by spaces (newlines kept): same length, same
    line breaks, so offsets found in it are offsets in `text`. An unterminated comment or string runs to the end."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    def string_end(j: int) -> int:  # j: index after the opening quote; returns index after the closing one
        while j < n:
            if text[j] == '"':
                if j + 1 < n and text[j + 1] == '"':
                    j += 2
                    continue
                return j + 1
            j += 1
        return n

    while i < n:
        if text[i] == '"':
            j = string_end(i + 1)
            blank(i, j)
            i = j
        elif text.startswith("(*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("(*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*)", j):
                    depth, j = depth - 1, j + 2
                elif text[j] == '"':
                    j = string_end(j + 1)
                else:
                    j += 1
            blank(i, j)
            i = j
        else:
            i += 1
    return "".join(out)


_BULLETS = re.compile(r"\s*(?:[-+*]+|[{}])(?=\s|$|[{}])")


def script_sentences(text: str) -> list[str]:
    """A tactic script's sentences, each without its period, comments left out, bullets and braces dropped (they
    only focus: the same tactics in order reach the same states). A sentence ends at a period followed by white
    space or the end; a last sentence without one counts too."""
    masked = blank_comments_and_strings(text)
    out, start = [], 0
    for m in re.finditer(r"\.(?=\s|$)", masked):
        if m.start() > 0 and masked[m.start() - 1] == ".":
            continue  # `..` is not a sentence's end
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(text)))
    sentences = []
    for a, b in out:
        body = masked[a:b]
        while (m := _BULLETS.match(body)) is not None:
            a, body = a + m.end(), body[m.end():]
        piece = strip_comments(text[a:b]).strip()
        if piece:
            sentences.append(piece)
    return sentences


def lexically_balanced(text: str) -> bool:
    """True when every comment and string opened in `text` is closed in it."""
    return _scan(text, True, " ", None)[1]


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c in "_'"


_STRING_OR_SPACE = re.compile(r'"(?:[^"]|"")*"|\s+')


def canonical_text(text: str) -> str:
    """Comment-free text with white space normalised: runs become one space, and disappear next to a
    symbol when the other side is an identifier character (so `x:nat` and `x : nat` agree but `: =` and
    `:=` stay apart). Strings are kept verbatim."""
    s = strip_comments(text)
    out: list[str] = []
    pos = 0
    for m in _STRING_OR_SPACE.finditer(s):
        out.append(s[pos : m.start()])
        tok = m.group(0)
        if tok.startswith('"'):
            out.append(tok)
        else:
            prev = s[m.start() - 1] if m.start() > 0 else ""
            nxt = s[m.end() : m.end() + 1]
            if prev and nxt and (_is_ident_char(prev) == _is_ident_char(nxt)):
                out.append(" ")
            # else: at an identifier/symbol boundary, or at an end: drop
        pos = m.end()
    out.append(s[pos:])
    return "".join(out).strip()


# --------------------------------------------------------------------------------------------------
# classification

IDENT = r"[^\W\d][\w']*"
_ATTRS = re.compile(r"^\s*#\[([^\]]*)\]\s*")
_PREFIX = re.compile(
    r"^(?:(Local|Global|Polymorphic|Monomorphic|Cumulative|NonCumulative|Private|Program|Time|Instructions)\s+"
    r"|Timeout\s+\d+\s+|Redirect\s+\"[^\"]*\"\s+)"
)

THEOREM_KEYWORDS = ("Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Property")
DEFINITION_KEYWORDS = ("Definition", "Example", "Fixpoint", "CoFixpoint", "Let", "Instance")
DECLARATION_KEYWORDS = (
    "Axiom", "Axioms", "Parameter", "Parameters", "Conjecture", "Conjectures",
    "Variable", "Variables", "Hypothesis", "Hypotheses", "Context",
)  # fmt: skip
CLOSER_KEYWORDS = ("Qed", "Defined", "Admitted", "Abort", "Save")
LEMMA_LIKE = THEOREM_KEYWORDS  # closed with Qed; DEFINITION_KEYWORDS with Defined

_BULLET = re.compile(r"^(?:[-+*]+|\{|\}|(?:\d+|\[" + IDENT + r"\])\s*:\s*\{)$")
_PROOF_KW = re.compile(r"^Proof(?:\s+(?:using|with)\b.*)?\.$", re.S)
_HOLE_WORD = re.compile(r"(?<![\w'.])(admit|give_up)(?![\w'])")


@dataclass(frozen=True)
class SentenceInfo:
    """What one sentence does to the structure of the file."""

    kind: str  # opener | proof | closer | admit | bullet | section | module | end | decl | other
    keyword: str = ""  # Lemma, Qed, Section, Module, Axiom, admit, ...
    name: str = ""  # declared name (opener, section, module, end)
    names: tuple[str, ...] = ()  # decl: declared names; module: functor parameters
    module_kind: str = ""  # module | functor | modtype | declared (Declare Module)
    hole_word: bool = False  # the text mentions admit/give_up (outside comments and strings)
    proof_term: bool = False  # closer `Proof term.`


def head_text(sentence: str) -> tuple[str, frozenset[str]]:
    """Comment-free, white-space-collapsed sentence without attributes and prefixes like Local/Program;
    also returns the attribute and prefix words seen (lower-cased)."""
    s = " ".join(strip_comments(sentence).split())
    flags: set[str] = set()
    while True:
        m = _ATTRS.match(s)
        if m:
            flags.update(w.strip().lower() for w in re.split(r"[,\s()=\"]+", m.group(1)) if w.strip())
            s = s[m.end() :]
            continue
        m = _PREFIX.match(s)
        if m:
            if m.group(1):
                flags.add(m.group(1).lower())
            s = s[m.end() :]
            continue
        return s, frozenset(flags)


def _has_toplevel_assign(s: str) -> bool:
    """True when `:=` occurs outside brackets and outside `let ... in` in a masked sentence."""
    depth = 0
    lets: list[int] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            while lets and lets[-1] > depth:
                lets.pop()
        elif s.startswith(":=", i):
            if depth == 0 and not lets:
                return True
            i += 2
            continue
        elif (c.isalpha() or c == "_") and (i == 0 or not _is_ident_char(s[i - 1])):
            j = i
            while j < n and _is_ident_char(s[j]):
                j += 1
            word = s[i:j]
            if word == "let":
                lets.append(depth)
            elif word == "in" and lets and lets[-1] == depth:
                lets.pop()
            i = j
            continue
        i += 1
    return False


def _binder_names(body: str) -> tuple[str, ...]:
    """Names bound by `x y : T` or `(x : T) {y : U} `{H : C}` (declaration bodies)."""
    body = body.strip()
    groups: list[str] = []
    if body[:1] in "({[`!":
        depth, start = 0, -1
        for i, c in enumerate(body):
            if c in "({[":
                if depth == 0:
                    start = i + 1
                depth += 1
            elif c in ")}]":
                depth -= 1
                if depth == 0 and start >= 0:
                    groups.append(body[start:i])
                    start = -1
    else:
        groups.append(body)
    names: list[str] = []
    for g in groups:
        colon = re.search(r"(?<![:])\:(?![=:>])", g)
        if colon is None:
            continue
        for w in g[: colon.start()].split():
            w = re.sub(r"@\{[^}]*\}", "", w).strip("!`'")
            if re.fullmatch(IDENT, w):
                names.append(w)
    return tuple(names)


def _module_params(rest: str) -> tuple[str, ...]:
    params: list[str] = []
    rest = rest.lstrip()
    while rest.startswith("("):
        depth = 0
        for j, c in enumerate(rest):
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    break
        group = rest[1:j]
        m = re.match(r"\s*(?:(?:Import|Export)\s+)?([^:]+?)\s*:", group)
        if m:
            params.extend(w for w in m.group(1).split() if re.fullmatch(IDENT, w))
        rest = rest[j + 1 :].lstrip()
    return tuple(params)


def classify(sentence: str) -> SentenceInfo:
    """Classify one sentence cut by Coq (see `SentenceInfo.kind`)."""
    masked = mask_code(sentence)
    hole = bool(_HOLE_WORD.search(masked))
    s, flags = head_text(masked)
    words = s.split(" ", 2)
    first = words[0] if words else ""
    first = first.rstrip(".")
    second = words[1] if len(words) > 1 else ""
    if s in ("admit.", "give_up."):
        return SentenceInfo("admit", s[:-1], hole_word=True)
    if _BULLET.match(s):
        return SentenceInfo("bullet", s)
    if first in ("Fail", "Succeed"):
        return SentenceInfo("other", first, hole_word=hole)
    if first in THEOREM_KEYWORDS:
        m = re.match(IDENT, second)
        return SentenceInfo("opener", first, m.group(0) if m else "", hole_word=hole)
    if first in DEFINITION_KEYWORDS:
        opens = "refine" in flags or not _has_toplevel_assign(s)
        if not opens:
            return SentenceInfo("other", first, hole_word=hole)
        m = re.match(IDENT, second)
        name = m.group(0) if m and not (first == "Instance" and second.startswith(":")) else ""
        return SentenceInfo("opener", first, name, hole_word=hole)
    if first == "Goal":
        return SentenceInfo("opener", "Goal", hole_word=hole)
    if s.startswith("Next Obligation") or (first == "Obligation" and not s.startswith("Obligation Tactic")):
        return SentenceInfo("opener", "Obligation", hole_word=hole)
    if s.startswith("Add Morphism") or s.startswith("Add Parametric Morphism"):
        m = re.search(r"\bas\s+(" + IDENT + r")\s*\.$", s)
        return SentenceInfo("opener", "Morphism", m.group(1) if m else "", hole_word=hole)
    if _PROOF_KW.match(s):
        return SentenceInfo("proof", "Proof")
    if first == "Proof":
        return SentenceInfo("closer", "Proof", proof_term=True, hole_word=hole)
    if first in CLOSER_KEYWORDS:
        return SentenceInfo("closer", first, hole_word=hole)
    if first == "Section":
        m = re.match(IDENT, second)
        return SentenceInfo("section", "Section", m.group(0) if m else "")
    if first == "End":
        m = re.match(IDENT, second)
        return SentenceInfo("end", "End", m.group(0) if m else "")
    if first == "Declare" and second == "Module":
        m = re.match(r"Declare Module\s+(?:(?:Import|Export)\s+)?(" + IDENT + ")", s)
        return SentenceInfo("decl", "Declare Module", names=(m.group(1),) if m else (), module_kind="declared")
    if first == "Declare" and second == "Instance":
        m = re.match(r"Declare Instance\s+(" + IDENT + r")\s*[:{(\[`]", s)
        return SentenceInfo("decl", "Declare Instance", names=(m.group(1),) if m else ())
    if first == "Module":
        m = re.match(r"Module\s+(Type\s+)?(?:(?:Import|Export)\s+)?(" + IDENT + r")(.*)$", s, re.S)
        if not m or _has_toplevel_assign(m.group(3)):
            return SentenceInfo("other", "Module")
        params = _module_params(m.group(3))
        kind = "modtype" if m.group(1) else ("functor" if params else "module")
        return SentenceInfo("module", "Module", m.group(2), names=params, module_kind=kind)
    if first in DECLARATION_KEYWORDS:
        body = s[len(first) :].rstrip(".")
        return SentenceInfo("decl", first, names=_binder_names(body))
    return SentenceInfo("other", first, hole_word=hole)


_LEXICAL_END = re.compile(r"(?<!\.)\.(?=\s|$)")


def guess_admitted(source: bytes) -> list[tuple[int, str]]:
    """A guess, without running Coq, at each named proof closed by `Admitted.`: (byte offset just past that
    `Admitted.`, the name its opening sentence declares). Sentences are cut at a period followed by white space
    (comments and strings masked), which is right for ordinary files but not Coq's own cut: use the answer only
    where Coq later confirms it (the goals found by coqc), never as a fact."""
    text = source.decode("utf-8", "replace")
    masked = blank_comments_and_strings(text)
    out: list[tuple[int, str]] = []
    name: str | None = None
    start = 0
    for m in _LEXICAL_END.finditer(masked):
        sentence = masked[start : m.end()]
        start = m.end()
        info = classify(sentence)
        if info.kind == "opener":
            name = info.name or None
        elif info.kind == "closer" and not info.proof_term:
            if info.keyword == "Admitted" and name:
                out.append((len(text[: m.end()].encode("utf-8")), name))
            name = None
    return out


_LOADING = re.compile(r"^(?:From\s+\S+\s+)?(?:Require|Import|Export)\b")


def leading_requires(source: bytes, limit: int = 20) -> tuple[str, ...]:
    """The file's opening `Require`/`Import`/`Export` sentences, cut lexically as in `guess_admitted` (each as
    written, from its first token to its period): what loading the file starts with, known before Coq runs.
    A guess for warming a prover up, never a fact."""
    text = source.decode("utf-8", "replace")
    masked = blank_comments_and_strings(text)
    out: list[str] = []
    start = 0
    for m in _LEXICAL_END.finditer(masked):
        chunk = masked[start : m.end()]
        first = start + len(chunk) - len(chunk.lstrip())
        start = m.end()
        if not _LOADING.match(masked[first : m.end()]) or len(out) >= limit:
            break
        out.append(text[first : m.end()])
    return tuple(out)


_REQUIRE = re.compile(r"^\s*(?:From\s+\S+\s+)?Require\b")


def require_sentences(sentences: Sequence[str]) -> tuple[str, ...]:
    """The `Require` sentences among `sentences` (comments stripped), in order."""
    out = []
    for s in sentences:
        text = " ".join(strip_comments(s).split())
        if _REQUIRE.match(text):
            out.append(text if text.endswith(".") else text + ".")
    return tuple(out)


_LIBRARY_CACHE: dict[tuple[object, ...], frozenset[str] | None] = {}


def loaded_libraries(requires: Sequence[str], args: Sequence[str] = (), load_dir: Path | None = None,
                     timeout: float = 120.0) -> frozenset[str] | None:
    """Logical names of every library loaded after `requires` (Coq's `Print Libraries`); None if they fail."""
    key = (tuple(requires), tuple(args), str(load_dir))
    if key not in _LIBRARY_CACHE:
        source = "\n".join(requires) + '\nRedirect "autoprove_libraries" Print Libraries.\n'
        run = run_coqc(source.encode(), "autoprove_libraries", args, timeout=timeout, load_dir=load_dir,
                       time_sentences=False)
        _LIBRARY_CACHE[key] = parse_libraries(run.outputs.get("autoprove_libraries", "")) if run.ok else None
    return _LIBRARY_CACHE[key]


def parse_libraries(text: str) -> frozenset[str]:
    """Library names from the output of `Print Libraries`."""
    return frozenset(line.strip() for line in text.splitlines()
                     if line.startswith(" ") and re.fullmatch(r"[A-Za-z0-9_'.]+", line.strip()))


# --------------------------------------------------------------------------------------------------
# assembling checked copies (the original with pieces inserted or replaced, offsets mapped back)


@dataclass(frozen=True)
class Piece:
    """Bytes that replace original[start:end] (an insertion when start == end) in an `Assembly`."""

    start: int  # byte range in the original
    end: int
    text: bytes
    tag: str


class Assembly:
    """The original bytes with pieces replaced/inserted, and a map from new offsets back to the original."""

    def __init__(self, original: bytes, pieces: Iterable[Piece], truncate: int | None = None) -> None:
        out = bytearray()
        self.segments: list[tuple[int, int, int, str | None]] = []  # (new start, new end, orig start, tag)
        pos = 0
        limit = len(original) if truncate is None else truncate
        for p in sorted(pieces, key=lambda p: (p.start, p.end)):
            if p.start > limit:
                continue
            assert p.start >= pos, "overlapping pieces"
            if p.start > pos:
                self.segments.append((len(out), len(out) + p.start - pos, pos, None))
                out += original[pos : p.start]
            self.segments.append((len(out), len(out) + len(p.text), p.start, p.tag))
            out += p.text
            pos = p.end
        if limit > pos:
            self.segments.append((len(out), len(out) + limit - pos, pos, None))
            out += original[pos:limit]
        self.source = bytes(out)

    def locate(self, a: int, b: int | None = None) -> tuple[str | None, int] | None:
        """(tag, original offset) of the new offset `a`, or of the range [a, b) if it lies wholly in one
        segment; tag None means original bytes, and then the offset is exact."""
        for s, e, o, tag in self.segments:
            inside = s <= a < e if b is None or b <= a else s <= a and b <= e
            if inside:
                return tag, (o + a - s if tag is None else o)
        return None


# --------------------------------------------------------------------------------------------------
# the installed Coq

_VERSION: list[str] = []
_VERSION_LOCK = threading.Lock()


def coq_version() -> str:
    """`coqc --print-version` (e.g. "8.16.1 4.13.1"), asked once; "unknown" when coqc does not answer."""
    with _VERSION_LOCK:
        if not _VERSION:
            try:
                out = run([COQC, "--print-version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, timeout=60).stdout
            except (OSError, subprocess.TimeoutExpired):
                out = ""
            _VERSION.append(" ".join(out.split()) or "unknown")
        return _VERSION[0]
