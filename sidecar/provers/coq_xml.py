"""Encoding and decoding of the coqidetop XML protocol, version 20220205 (Coq 8.16); pure, no processes.

Calls are built as bytes ready to write to coqidetop's stdin (`init_call`, `add_call`, `goal_call`,
`edit_at_call`, `status_call`, `quit_call`). Replies are cut out of the output stream by `ReplyBuffer`
(each reply ends with `</value>`, preceded by any number of `<feedback>` elements) and decoded by
`decode_reply` into a `Reply`: the feedback messages plus either a good value (decoded generically into
Python values, see `decode_value`) or a failure (state id, location, message as plain text).

Quirks of Coq's own XML printer and lexer that this module handles (ide/coqide/protocol/xml_printer.ml,
xml_lexer.mll at V8.16.1):

- every space in text is printed as `&nbsp;`, which is not an XML entity: it is replaced by a space;
- a `&` directly followed by `#` is printed raw, so `&#` in a reply is literal text, never a character
  reference: it is re-escaped before parsing;
- Coq's lexer knows only the entities nbsp, gt, lt, amp, apos, quot (no numeric references), so text is
  sent as raw UTF-8 with only `& < > " '` escaped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "PROTOCOL_VERSION",
    "ProtocolError",
    "StateId",
    "Union",
    "CoqGoal",
    "CoqGoals",
    "CoqStatus",
    "Feedback",
    "Reply",
    "ReplyBuffer",
    "escape",
    "xml_unit",
    "xml_bool",
    "xml_int",
    "xml_string",
    "xml_state_id",
    "xml_pair",
    "xml_list",
    "xml_option",
    "xml_union",
    "xml_richpp",
    "xml_goal",
    "xml_goals",
    "encode_call",
    "init_call",
    "add_call",
    "goal_call",
    "edit_at_call",
    "status_call",
    "about_call",
    "quit_call",
    "decode_call",
    "decode_value",
    "decode_reply",
    "richpp_text",
]

PROTOCOL_VERSION = "20220205"


class ProtocolError(ValueError):
    """The bytes are not a well-formed coqidetop message of the expected shape."""


@dataclass(frozen=True)
class StateId:
    """A Coq document state id (`<state_id val="N"/>`)."""

    value: int


@dataclass(frozen=True)
class Union:
    """A protocol union value: `side` is "in_l" or "in_r"."""

    side: Literal["in_l", "in_r"]
    value: object


@dataclass(frozen=True)
class CoqGoal:
    """One goal as coqidetop prints it (hypotheses and conclusion as plain text)."""

    id: str
    hypotheses: tuple[str, ...]
    conclusion: str
    name: str | None = None


@dataclass(frozen=True)
class CoqGoals:
    """The goals structure of a `Goal` reply."""

    fg: tuple[CoqGoal, ...] = ()
    bg: tuple[tuple[tuple[CoqGoal, ...], tuple[CoqGoal, ...]], ...] = ()  # focus levels, innermost first
    shelved: tuple[CoqGoal, ...] = ()
    given_up: tuple[CoqGoal, ...] = ()

    def bg_flat(self) -> tuple[CoqGoal, ...]:
        """All background goals of every focus level, innermost level first."""
        return tuple(g for before, after in self.bg for g in (*before, *after))


@dataclass(frozen=True)
class CoqStatus:
    """The value of a `Status` reply."""

    path: tuple[str, ...]
    proof_name: str | None
    all_proofs: tuple[str, ...]
    proof_num: int


@dataclass(frozen=True)
class Feedback:
    """One `<feedback>` element: `kind` is the feedback_content val (e.g. "message", "processed")."""

    state_id: int | None
    kind: str
    level: str | None = None  # message level for kind "message": debug, info, notice, warning, error
    text: str = ""  # message text for kind "message"
    loc: tuple[int, int] | None = None  # byte offsets in the sentence, for kind "message"


@dataclass(frozen=True)
class Reply:
    """One complete reply: the feedback that preceded it and the good value or the failure."""

    good: bool
    value: object = None  # decoded good value (see `decode_value`)
    fail_state: int | None = None  # for a failure: the state id Coq reports (last good state, or 0)
    loc: tuple[int, int] | None = None  # for a failure: byte offsets of the error in the sentence
    message: str = ""  # for a failure: the error text
    feedback: tuple[Feedback, ...] = ()

    def error_feedback(self) -> tuple[Feedback, ...]:
        """Feedback messages of level "error"."""
        return tuple(f for f in self.feedback if f.kind == "message" and f.level == "error")


# ---------------------------------------------------------------------------------------------- encoding

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
_ESCAPE_RE = re.compile(r"[&<>\"']")


def escape(text: str) -> str:
    """Escape text for Coq's XML lexer (named entities only; non-ASCII stays raw UTF-8)."""
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], text)


def xml_unit() -> str:
    """`<unit/>`."""
    return "<unit/>"


def xml_bool(b: bool) -> str:
    """A protocol bool."""
    return f'<bool val="{"true" if b else "false"}"/>'


def xml_int(i: int) -> str:
    """A protocol int."""
    return f"<int>{int(i)}</int>"


def xml_string(s: str) -> str:
    """A protocol string."""
    return f"<string>{escape(s)}</string>"


def xml_state_id(sid: int) -> str:
    """A protocol state id."""
    return f'<state_id val="{int(sid)}"/>'


def xml_pair(a: str, b: str) -> str:
    """A protocol pair of two encoded values."""
    return f"<pair>{a}{b}</pair>"


def xml_list(items: list[str] | tuple[str, ...]) -> str:
    """A protocol list of encoded values."""
    return "<list>" + "".join(items) + "</list>" if items else "<list/>"


def xml_option(inner: str | None) -> str:
    """A protocol option: None, or an encoded value."""
    return '<option val="none"/>' if inner is None else f'<option val="some">{inner}</option>'


def xml_union(side: Literal["in_l", "in_r"], inner: str) -> str:
    """A protocol union."""
    return f'<union val="{side}">{inner}</union>'


def xml_richpp(text: str) -> str:
    """Plain text as Coq prints a richpp document (spaces as `&nbsp;`, as coqidetop does)."""
    return "<richpp><_><pp>" + escape(text).replace(" ", "&nbsp;") + "</pp></_></richpp>"


def xml_goal(goal: CoqGoal) -> str:
    """A goal as coqidetop prints it."""
    hyps = xml_list([xml_richpp(h) for h in goal.hypotheses])
    name = xml_option(None if goal.name is None else xml_string(goal.name))
    return f"<goal>{xml_string(goal.id)}{hyps}{xml_richpp(goal.conclusion)}{name}</goal>"


def xml_goals(goals: CoqGoals) -> str:
    """A goals structure as coqidetop prints it."""

    def glist(gs: tuple[CoqGoal, ...]) -> str:
        return xml_list([xml_goal(g) for g in gs])

    bg = xml_list([xml_pair(glist(b), glist(a)) for b, a in goals.bg])
    return f"<goals>{glist(goals.fg)}{bg}{glist(goals.shelved)}{glist(goals.given_up)}</goals>"


def encode_call(name: str, arg: str) -> bytes:
    """A complete call with an encoded argument, as UTF-8 bytes."""
    return f'<call val="{name}">{arg}</call>'.encode("utf-8")


def init_call() -> bytes:
    """`Init` with no file: answers the initial state id."""
    return encode_call("Init", xml_option(None))


def add_call(text: str, state_id: int, edit_id: int = -1, verbose: bool = True) -> bytes:
    """`Add` one sentence on top of `state_id` (which must be the tip): answers the new state id."""
    inner = xml_pair(
        xml_pair(
            xml_pair(xml_pair(xml_string(text), xml_int(edit_id)), xml_pair(xml_state_id(state_id), xml_bool(verbose))),
            xml_int(0),  # offset of the sentence (bp), for locations
        ),
        xml_pair(xml_int(0), xml_int(0)),  # line number, beginning of line
    )
    return encode_call("Add", inner)


def goal_call() -> bytes:
    """`Goal`: executes the document up to the tip and answers its goals (option)."""
    return encode_call("Goal", xml_unit())


def edit_at_call(state_id: int) -> bytes:
    """`Edit_at`: make `state_id` the tip, discarding the later states."""
    return encode_call("Edit_at", xml_state_id(state_id))


def status_call(force: bool = False) -> bytes:
    """`Status`: executes the document up to the tip and answers a small status record."""
    return encode_call("Status", xml_bool(force))


def query_call(text: str, state_id: int) -> bytes:
    """`Query`: run a command (e.g. `Guarded.`) at `state_id` without adding it to the document; fails as it fails."""
    return encode_call("Query", xml_pair('<route_id val="0"/>', xml_pair(xml_string(text), xml_state_id(state_id))))


def about_call() -> bytes:
    """`About`: answers Coq's version information; cheap and always succeeds."""
    return encode_call("About", xml_unit())


def quit_call() -> bytes:
    """`Quit`: ask coqidetop to exit."""
    return encode_call("Quit", xml_unit())


# ---------------------------------------------------------------------------------------------- decoding

# Characters XML 1.0 forbids; Coq may print them (e.g. inside string literals).
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _parse(text: str) -> ET.Element:
    """Parse Coq's XML after repairing its non-XML quirks; the result is a synthetic `<r>` root."""
    text = text.replace("&nbsp;", " ").replace("&#", "&amp;#")
    text = _INVALID_XML_CHARS.sub("\ufffd", text)
    try:
        return ET.fromstring("<r>" + text + "</r>")
    except ET.ParseError as e:
        raise ProtocolError(f"malformed XML from coqidetop: {e}") from e


def richpp_text(elem: ET.Element) -> str:
    """The plain text of a richpp (or any) element: tags stripped, text kept."""
    return "".join(elem.itertext())


def _int_attr(elem: ET.Element, name: str) -> int:
    """An integer attribute, or ProtocolError."""
    raw = elem.get(name)
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise ProtocolError(f"<{elem.tag}> has no integer {name!r} attribute") from e


def _children(elem: ET.Element, n: int) -> list[ET.Element]:
    """Exactly `n` children, or ProtocolError."""
    kids = list(elem)
    if len(kids) != n:
        raise ProtocolError(f"<{elem.tag}> has {len(kids)} children, expected {n}")
    return kids


def _decode_goal(elem: ET.Element) -> CoqGoal:
    """A `<goal>` element."""
    gid, hyps, ccl, name = _children(elem, 4)
    goal_name = decode_value(name)
    return CoqGoal(
        id=str(decode_value(gid)),
        hypotheses=tuple(richpp_text(h) for h in hyps),
        conclusion=richpp_text(ccl),
        name=None if goal_name is None else str(goal_name),
    )


def _goal_tuple(elem: ET.Element) -> tuple[CoqGoal, ...]:
    """A `<list>` of goals."""
    if elem.tag != "list":
        raise ProtocolError(f"expected <list> of goals, got <{elem.tag}>")
    return tuple(_decode_goal(g) for g in elem)


def _decode_goals(elem: ET.Element) -> CoqGoals:
    """A `<goals>` element."""
    fg, bg, shelved, given_up = _children(elem, 4)
    levels = []
    for pair in bg:
        before, after = _children(pair, 2)
        levels.append((_goal_tuple(before), _goal_tuple(after)))
    return CoqGoals(_goal_tuple(fg), tuple(levels), _goal_tuple(shelved), _goal_tuple(given_up))


def decode_value(elem: ET.Element) -> object:
    """Decode one protocol value into Python.

    unit and option none → None; option some → its value; bool, int, string → bool, int, str;
    pair → 2-tuple; list → list; union → `Union`; state_id → `StateId`; goals → `CoqGoals`;
    goal → `CoqGoal`; status → `CoqStatus`; coq_info → 4-tuple of str; richpp → str (plain text).
    """
    tag = elem.tag
    if tag == "unit":
        return None
    if tag == "bool":
        val = elem.get("val")
        if val not in ("true", "false"):
            raise ProtocolError(f"bad bool {val!r}")
        return val == "true"
    if tag == "int":
        try:
            return int((elem.text or "").strip())
        except ValueError as e:
            raise ProtocolError(f"bad int {elem.text!r}") from e
    if tag == "string":
        if len(elem):
            raise ProtocolError("<string> with child elements")
        return elem.text or ""
    if tag == "state_id":
        return StateId(_int_attr(elem, "val"))
    if tag == "pair":
        a, b = _children(elem, 2)
        return (decode_value(a), decode_value(b))
    if tag == "list":
        return [decode_value(x) for x in elem]
    if tag == "option":
        if elem.get("val") == "none":
            return None
        if elem.get("val") == "some":
            return decode_value(_children(elem, 1)[0])
        raise ProtocolError(f"bad option {elem.get('val')!r}")
    if tag == "union":
        side = elem.get("val")
        if side not in ("in_l", "in_r"):
            raise ProtocolError(f"bad union side {side!r}")
        return Union(side, decode_value(_children(elem, 1)[0]))  # type: ignore[arg-type]
    if tag == "goals":
        return _decode_goals(elem)
    if tag == "goal":
        return _decode_goal(elem)
    if tag == "richpp":
        return richpp_text(elem)
    if tag == "coq_info":
        return tuple(str(decode_value(x)) for x in _children(elem, 4))
    if tag == "status":
        path, name, proofs, num = (decode_value(x) for x in _children(elem, 4))
        if not isinstance(path, list) or not isinstance(proofs, list) or not isinstance(num, int):
            raise ProtocolError("malformed <status>")
        return CoqStatus(tuple(map(str, path)), None if name is None else str(name), tuple(map(str, proofs)), num)
    raise ProtocolError(f"unknown value element <{tag}>")


def decode_call(data: bytes | str) -> tuple[str, object]:
    """Decode a call (as built by the encoders) into its name and decoded argument."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    root = _parse(text)
    calls = list(root)
    if len(calls) != 1 or calls[0].tag != "call" or calls[0].get("val") is None:
        raise ProtocolError("expected exactly one <call val=...>")
    return str(calls[0].get("val")), decode_value(_children(calls[0], 1)[0])


def _decode_feedback(elem: ET.Element) -> Feedback:
    """One `<feedback>` element."""
    sid: int | None = None
    kind = "unknown"
    level: str | None = None
    text = ""
    loc: tuple[int, int] | None = None
    for child in elem:
        if child.tag in ("state_id", "edit_id"):
            sid = _int_attr(child, "val")
        elif child.tag == "feedback_content":
            kind = child.get("val", "unknown")
            if kind == "message":
                msg = child.find("message")
                if msg is not None:
                    lvl = msg.find("message_level")
                    level = None if lvl is None else lvl.get("val")
                    loc_elem = msg.find("option/loc")
                    if loc_elem is not None:
                        loc = (_int_attr(loc_elem, "start"), _int_attr(loc_elem, "stop"))
                    pp = msg.find("richpp")
                    text = "" if pp is None else richpp_text(pp)
    return Feedback(sid, kind, level, text, loc)


def decode_reply(data: bytes | str) -> Reply:
    """Decode one reply: feedback elements followed by exactly one `<value>`.

    Raises:
        ProtocolError: not well-formed, no `<value>`, or a value of an unexpected shape.
    """
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    root = _parse(text)
    feedback: list[Feedback] = []
    value_elem: ET.Element | None = None
    for child in root:
        if child.tag == "feedback":
            feedback.append(_decode_feedback(child))
        elif child.tag == "value":
            if value_elem is not None:
                raise ProtocolError("more than one <value> in a reply")
            value_elem = child
        # anything else (e.g. <ltac_debug>) is ignored
    if value_elem is None:
        raise ProtocolError("reply without <value>")
    fb = tuple(feedback)
    status = value_elem.get("val")
    if status == "good":
        return Reply(True, decode_value(_children(value_elem, 1)[0]), feedback=fb)
    if status == "fail":
        kids = list(value_elem)
        if not kids or kids[0].tag != "state_id":
            raise ProtocolError("fail value without state_id")
        loc = None
        if value_elem.get("loc_s") is not None and value_elem.get("loc_e") is not None:
            loc = (_int_attr(value_elem, "loc_s"), _int_attr(value_elem, "loc_e"))
        message = "".join(richpp_text(k) for k in kids[1:]).strip()
        return Reply(False, None, _int_attr(kids[0], "val"), loc, message, fb)
    raise ProtocolError(f"value neither good nor fail: {status!r}")


class ReplyBuffer:
    """Accumulates coqidetop's output and cuts it into complete replies (each ending at `</value>`)."""

    _END = b"</value>"

    def __init__(self) -> None:
        self._buf = bytearray()
        self._scanned = 0  # bytes already searched for the end marker

    def feed(self, data: bytes) -> None:
        """Append output bytes."""
        self._buf += data

    def pop(self) -> bytes | None:
        """The next complete reply (bytes up to and including `</value>`), or None if none is complete."""
        start = max(0, self._scanned - len(self._END) + 1)
        idx = self._buf.find(self._END, start)
        if idx < 0:
            self._scanned = len(self._buf)
            return None
        end = idx + len(self._END)
        reply = bytes(self._buf[:end])
        del self._buf[:end]
        self._scanned = 0
        return reply

    def pending(self) -> int:
        """Bytes received that do not yet form a complete reply."""
        return len(self._buf)

    def clear(self) -> None:
        """Drop everything buffered."""
        self._buf.clear()
        self._scanned = 0
