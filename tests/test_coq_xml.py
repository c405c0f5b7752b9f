"""Pure tests of the coqidetop XML codec: round trips and replies recorded from Coq 8.16.1 (no process)."""

from __future__ import annotations

import pytest

from sidecar.provers import coq_xml as X

# ---------------------------------------------------------------------------------- replies recorded once
# Captured from `coqidetop.opt -main-channel stdfds` (Coq 8.16.1, Debian) with the calls named in each comment.

# Add "Lemma t : forall n m : nat, n + 0 = n /\ m = m." on state 1
ADD_GOOD = b'<value val="good"><pair><state_id val="2"/><union val="in_l"><unit/></union></pair></value>'

# Goal after the Lemma: feedback interleaved before the value, &nbsp; everywhere, richpp tags
GOAL_LEMMA = (
    b'<feedback object="state" route="0"><state_id val="2"/><feedback_content val="processingin"><string>master'
    b'</string></feedback_content></feedback><feedback object="state" route="0"><state_id val="1"/>'
    b'<feedback_content val="processed"/></feedback><feedback object="state" route="0"><state_id val="2"/>'
    b'<feedback_content val="processed"/></feedback><value val="good"><option val="some"><goals><list><goal>'
    b"<string>3</string><list/><richpp><_><pp><constr.keyword>forall</constr.keyword>&nbsp;n&nbsp;m&nbsp;:&nbsp;"
    b"<constr.variable>nat</constr.variable>,&nbsp;<constr.variable>n</constr.variable><constr.notation>&nbsp;+"
    b"</constr.notation>&nbsp;0<constr.notation>&nbsp;=</constr.notation>&nbsp;<constr.variable>n"
    b"</constr.variable><constr.notation>&nbsp;/\\</constr.notation>&nbsp;<constr.variable>m</constr.variable>"
    b"<constr.notation>&nbsp;=</constr.notation>&nbsp;<constr.variable>m</constr.variable></pp></_></richpp>"
    b'<option val="none"/></goal></list><list/><list/><list/></goals></option></value>'
)

# Goal after "intros.", "split.", "{": one focused goal, the other in the background focus level
GOAL_FOCUSED = (
    b'<feedback object="state" route="0"><state_id val="5"/><feedback_content val="processingin"><string>master'
    b'</string></feedback_content></feedback><feedback object="state" route="0"><state_id val="4"/>'
    b'<feedback_content val="processed"/></feedback><value val="good"><option val="some"><goals><list><goal>'
    b"<string>7</string><list><richpp><_><pp>n,&nbsp;m&nbsp;:&nbsp;<constr.variable>nat</constr.variable></pp>"
    b"</_></richpp></list><richpp><_><pp><constr.variable>n</constr.variable><constr.notation>&nbsp;+"
    b"</constr.notation>&nbsp;0<constr.notation>&nbsp;=</constr.notation>&nbsp;<constr.variable>n"
    b'</constr.variable></pp></_></richpp><option val="none"/></goal></list><list><pair><list/><list><goal>'
    b"<string>8</string><list><richpp><_><pp>n,&nbsp;m&nbsp;:&nbsp;<constr.variable>nat</constr.variable></pp>"
    b"</_></richpp></list><richpp><_><pp><constr.variable>m</constr.variable><constr.notation>&nbsp;="
    b'</constr.notation>&nbsp;<constr.variable>m</constr.variable></pp></_></richpp><option val="none"/>'
    b"</goal></list></pair></list><list/><list/></goals></option></value>"
)

# Goal after "foo.": execution error, with an error feedback message carrying a location
GOAL_FAIL = (
    b'<feedback object="state" route="0"><state_id val="6"/><feedback_content val="processingin"><string>master'
    b'</string></feedback_content></feedback><feedback object="state" route="0"><state_id val="5"/>'
    b'<feedback_content val="processed"/></feedback><feedback object="state" route="0"><state_id val="6"/>'
    b'<feedback_content val="message"><message><message_level val="error"/><option val="some"><loc start="0" '
    b'stop="3"/></option><richpp><_><pp>The&nbsp;reference&nbsp;foo&nbsp;was&nbsp;not&nbsp;found&nbsp;in&nbsp;'
    b"the&nbsp;current&nbsp;environment.</pp></_></richpp></message></feedback_content></feedback>"
    b'<value val="fail" loc_s="0" loc_e="3"><state_id val="5"/><richpp><_><pp>The&nbsp;reference&nbsp;foo&nbsp;'
    b"was&nbsp;not&nbsp;found&nbsp;in&nbsp;the&nbsp;current&nbsp;environment.</pp></_></richpp></value>"
)

# Add "intros ))." : parse error, answered by Add with state 0
ADD_SYNTAX_ERROR = (
    b'<value val="fail" loc_s="7" loc_e="8"><state_id val="0"/><richpp><_><pp>Syntax&nbsp;error:&nbsp;'
    b"[ltac_use_default]&nbsp;expected&nbsp;after&nbsp;[tactic]&nbsp;(in&nbsp;[tactic_command]).</pp></_></richpp>"
    b"</value>"
)

# Edit_at 5
EDIT_AT_GOOD = (
    b'<feedback object="state" route="0"><state_id val="5"/><feedback_content val="processed"/></feedback>'
    b'<value val="good"><union val="in_l"><unit/></union></value>'
)

# Status false
STATUS_GOOD = (
    b'<feedback object="state" route="0"><state_id val="5"/><feedback_content val="processed"/></feedback>'
    b'<value val="good"><status><list><string>Top</string></list><option val="some"><string>t</string></option>'
    b"<list><string>t</string></list><int>0</int></status></value>"
)

# Goal after 'Check "héllo ∀ <&>".': UTF-8, entities, byte offsets (6..22 is 16 bytes for 13 characters)
GOAL_UNICODE_FAIL = (
    b'<feedback object="state" route="0"><state_id val="7"/><feedback_content val="message"><message>'
    b'<message_level val="error"/><option val="some"><loc start="6" stop="22"/></option><richpp><_><pp>No&nbsp;'
    b"interpretation&nbsp;for&nbsp;string&nbsp;&quot;h\xc3\xa9llo&nbsp;\xe2\x88\x80&nbsp;&lt;&amp;&gt;&quot;."
    b'</pp></_></richpp></message></feedback_content></feedback><value val="fail" loc_s="6" loc_e="22">'
    b"<state_id val=\"5\"/><richpp><_><pp>No&nbsp;interpretation&nbsp;for&nbsp;string&nbsp;&quot;h\xc3\xa9llo"
    b"&nbsp;\xe2\x88\x80&nbsp;&lt;&amp;&gt;&quot;.</pp></_></richpp></value>"
)

# Any call after a SIGINT that arrived while Coq was idle
STALE_INTERRUPT = b'<value val="fail"><state_id val="0"/><richpp><_><pp>User&nbsp;interrupt.</pp></_></richpp></value>'


# ---------------------------------------------------------------------------------- encoding


def test_add_call_has_the_8_16_shape() -> None:
    assert X.add_call("intros.", 7) == (
        b'<call val="Add"><pair><pair><pair><pair><string>intros.</string><int>-1</int></pair>'
        b'<pair><state_id val="7"/><bool val="true"/></pair></pair><int>0</int></pair>'
        b"<pair><int>0</int><int>0</int></pair></pair></call>"
    )


def test_simple_calls() -> None:
    assert X.init_call() == b'<call val="Init"><option val="none"/></call>'
    assert X.goal_call() == b'<call val="Goal"><unit/></call>'
    assert X.edit_at_call(12) == b'<call val="Edit_at"><state_id val="12"/></call>'
    assert X.status_call() == b'<call val="Status"><bool val="false"/></call>'
    assert X.quit_call() == b'<call val="Quit"><unit/></call>'


@pytest.mark.parametrize(
    "text",
    [
        "intros.",
        'Definition s := "a < b && c > d ""quoted"" \'x\'".',
        "Lemma u : ∀ x : nat, x = x. (* ∀ é 日本 *)",
        "idtac \"&#60; &nbsp; &amp;\".",
        "line one\n  line two\ttab.",
        "emoji 🦀 and combining é.",
    ],
)
def test_add_round_trip(text: str) -> None:
    name, arg = X.decode_call(X.add_call(text, 42, verbose=False))
    assert name == "Add"
    assert arg == ((((text, -1), (X.StateId(42), False)), 0), (0, 0))


def test_escape_uses_only_entities_coq_knows() -> None:
    assert X.escape("<&>\"'") == "&lt;&amp;&gt;&quot;&apos;"
    assert X.escape("∀é") == "∀é"  # raw UTF-8: Coq's lexer has no numeric character references
    assert "&#" not in X.add_call("a &# b", 1).decode()


def test_other_calls_round_trip() -> None:
    assert X.decode_call(X.edit_at_call(3)) == ("Edit_at", X.StateId(3))
    assert X.decode_call(X.goal_call()) == ("Goal", None)
    assert X.decode_call(X.status_call(True)) == ("Status", True)
    assert X.decode_call(X.init_call()) == ("Init", None)


def test_goals_round_trip() -> None:
    g1 = X.CoqGoal("7", ("n, m : nat", "H : n <= m"), "n + 0 = n", None)
    g2 = X.CoqGoal("8", (), "∀ x, x = x /\\ \"a<b&c\"", "named")
    goals = X.CoqGoals(fg=(g1,), bg=(((), (g2,)), ((g1,), ())), shelved=(g2,), given_up=())
    reply = f'<value val="good"><option val="some">{X.xml_goals(goals)}</option></value>'
    decoded = X.decode_reply(reply.encode())
    assert decoded.good and decoded.value == goals
    assert decoded.value.bg_flat() == (g2, g1)


def test_generic_values_round_trip() -> None:
    xml = X.xml_pair(
        X.xml_list([X.xml_int(-3), X.xml_int(5)]),
        X.xml_pair(X.xml_option(X.xml_string("s p")), X.xml_union("in_r", X.xml_bool(False))),
    )
    reply = X.decode_reply(f'<value val="good">{xml}</value>')
    assert reply.value == ([-3, 5], ("s p", X.Union("in_r", False)))


# ---------------------------------------------------------------------------------- decoding real replies


def test_decode_add() -> None:
    reply = X.decode_reply(ADD_GOOD)
    assert reply.good
    assert reply.value == (X.StateId(2), X.Union("in_l", None))
    assert reply.feedback == ()


def test_decode_goal_with_feedback_and_nbsp() -> None:
    reply = X.decode_reply(GOAL_LEMMA)
    assert reply.good
    assert [f.kind for f in reply.feedback] == ["processingin", "processed", "processed"]
    assert [f.state_id for f in reply.feedback] == [2, 1, 2]
    goals = reply.value
    assert isinstance(goals, X.CoqGoals)
    assert goals.fg == (X.CoqGoal("3", (), "forall n m : nat, n + 0 = n /\\ m = m", None),)
    assert goals.bg == () and goals.shelved == () and goals.given_up == ()


def test_decode_focused_goals() -> None:
    goals = X.decode_reply(GOAL_FOCUSED).value
    assert isinstance(goals, X.CoqGoals)
    assert goals.fg == (X.CoqGoal("7", ("n, m : nat",), "n + 0 = n"),)
    assert goals.bg == (((), (X.CoqGoal("8", ("n, m : nat",), "m = m"),)),)


def test_decode_execution_failure() -> None:
    reply = X.decode_reply(GOAL_FAIL)
    assert not reply.good
    assert reply.fail_state == 5
    assert reply.loc == (0, 3)
    assert reply.message == "The reference foo was not found in the current environment."
    (err,) = reply.error_feedback()
    assert err.state_id == 6 and err.loc == (0, 3) and err.text == reply.message


def test_decode_syntax_error() -> None:
    reply = X.decode_reply(ADD_SYNTAX_ERROR)
    assert not reply.good and reply.fail_state == 0 and reply.loc == (7, 8)
    assert reply.message.startswith("Syntax error: [ltac_use_default] expected")


def test_decode_edit_at_and_status() -> None:
    assert X.decode_reply(EDIT_AT_GOOD).value == X.Union("in_l", None)
    assert X.decode_reply(STATUS_GOOD).value == X.CoqStatus(("Top",), "t", ("t",), 0)


def test_decode_unicode_and_entities() -> None:
    reply = X.decode_reply(GOAL_UNICODE_FAIL)
    assert reply.message == 'No interpretation for string "héllo ∀ <&>".'
    assert reply.loc == (6, 22)


def test_stale_interrupt() -> None:
    reply = X.decode_reply(STALE_INTERRUPT)
    assert not reply.good and reply.message == "User interrupt." and reply.loc is None


def test_literal_ampersand_hash_is_text() -> None:
    # Coq prints a '&' followed by '#' raw: it is text, not a character reference.
    reply = X.decode_reply(b'<value val="good"><string>a&#60;b&nbsp;c</string></value>')
    assert reply.value == "a&#60;b c"


def test_control_characters_do_not_break_parsing() -> None:
    reply = X.decode_reply(b'<value val="good"><string>x\x01y</string></value>')
    assert reply.value == "x\ufffdy"


@pytest.mark.parametrize(
    "garbage",
    [b"<value val=", b"<feedback></feedback>", b'<value val="maybe"><unit/></value>', b"no xml at all"],
)
def test_garbage_raises_protocol_error(garbage: bytes) -> None:
    with pytest.raises(X.ProtocolError):
        X.decode_reply(garbage)


# ---------------------------------------------------------------------------------- stream cutting


def test_reply_buffer_cuts_at_value_end_across_chunks() -> None:
    stream = GOAL_LEMMA + ADD_GOOD + GOAL_FAIL
    buf = X.ReplyBuffer()
    replies = []
    for i in range(0, len(stream), 7):  # small chunks split tags, entities and the end marker
        buf.feed(stream[i : i + 7])
        while (r := buf.pop()) is not None:
            replies.append(r)
    assert replies == [GOAL_LEMMA, ADD_GOOD, GOAL_FAIL]
    assert buf.pending() == 0


def test_reply_buffer_keeps_partial_reply() -> None:
    buf = X.ReplyBuffer()
    buf.feed(ADD_GOOD[:-3])
    assert buf.pop() is None
    buf.feed(ADD_GOOD[-3:] + b"<feedback")
    assert buf.pop() == ADD_GOOD
    assert buf.pending() == len(b"<feedback")
