"""The registrar's decision (RFC 3261 §10.3, steps 6-8), at a fixed wall-clock ``now``.

REGISTERs are wire text run through the parser; bindings are plain values,
so each rule is one call of :func:`process_register` and a look at what it
would store, delete and answer.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest

from media.sip.errors import RemoteProtocolError
from media.sip.headers import NameAddr
from media.sip.message import Request, parse_message
from media.sip.registrar import (
    DEFAULT_EXPIRES,
    MAX_EXPIRES,
    MIN_EXPIRES,
    Binding,
    IntervalTooBrief,
    RegisterDecision,
    address_of_record,
    process_register,
)

NOW = 1_700_000_000.0
AOR = "sip:alice@example.com"
CALL_ID = "843817637684230@998sdasdh09"
DESK = "sip:alice@192.0.2.4:5060"
MOBILE = "sip:alice@198.51.100.7:5062;transport=tcp"


def register(
    *contacts: str, expires: int | None = None, cseq: int = 2, call_id: str = CALL_ID
) -> Request:
    """A REGISTER for alice (after RFC 3261 §10.2) with these Contact header values."""
    lines = [
        "REGISTER sip:example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds7",
        "Max-Forwards: 70",
        "To: Alice <sip:alice@Example.COM>",
        "From: Alice <sip:alice@example.com>;tag=456248",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        "User-Agent: Softphone/1.0",
    ]
    lines += [f"Contact: {contact}" for contact in contacts]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    message = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def binding(
    contact: str = DESK, expires_at: float = NOW + 600, call_id: str = CALL_ID, cseq: int = 1
) -> Binding:
    return Binding(AOR, contact, expires_at, call_id, cseq)


def contacts_of(decision: RegisterDecision) -> dict[str, int]:
    """The 200's Contact list (§10.3 step 8): URI -> the expires it announces."""
    out: dict[str, int] = {}
    for name, value in decision.response_headers(NOW):
        if name == "Contact":
            assert isinstance(value, NameAddr) and value.expires is not None
            out[str(value.uri)] = value.expires
    return out


# -- step 5: the address-of-record ----------------------------------------------------------


def test_address_of_record_is_the_canonical_to_uri() -> None:
    assert address_of_record(register()) == AOR


# -- step 7: expiration ---------------------------------------------------------------------


def test_a_new_binding_without_expires_gets_the_default() -> None:
    decision = process_register(register(f"<{DESK}>"), [], NOW, source="192.0.2.4")
    (new,) = decision.upserts
    assert new == Binding(
        AOR, DESK, NOW + DEFAULT_EXPIRES, CALL_ID, 2, "192.0.2.4", "Softphone/1.0"
    )
    assert decision.removals == []
    assert decision.current == [new]
    assert contacts_of(decision) == {DESK: DEFAULT_EXPIRES}


def test_the_expires_header_applies_to_contacts_without_a_parameter() -> None:
    decision = process_register(register(f"<{DESK}>", f"<{MOBILE}>", expires=300), [], NOW)
    assert [b.expires_at for b in decision.upserts] == [NOW + 300, NOW + 300]
    assert contacts_of(decision) == {DESK: 300, MOBILE: 300}


def test_the_contact_parameter_wins_over_the_expires_header() -> None:
    request = register(f"<{DESK}>;expires=120", f"<{MOBILE}>", expires=900)
    decision = process_register(request, [], NOW)
    assert contacts_of(decision) == {DESK: 120, MOBILE: 900}


def test_expires_above_the_maximum_is_cut_down() -> None:
    decision = process_register(register(f"<{DESK}>;expires=86400"), [], NOW)
    assert decision.upserts[0].expires_at == NOW + MAX_EXPIRES
    decision = process_register(register(f"<{DESK}>"), [], NOW, max_expires=1800)
    assert contacts_of(decision) == {DESK: 1800}


@pytest.mark.parametrize("where", ["param", "header"])
def test_too_brief_an_interval_gets_423_with_min_expires(where: str) -> None:
    request = (
        register(f"<{DESK}>;expires=30") if where == "param" else register(f"<{DESK}>", expires=30)
    )
    with pytest.raises(IntervalTooBrief) as caught:
        process_register(request, [], NOW)
    assert caught.value.status == 423 and caught.value.min_expires == MIN_EXPIRES
    with pytest.raises(IntervalTooBrief) as caught:
        process_register(request, [], NOW, min_expires=120)
    assert caught.value.min_expires == 120
    assert process_register(request, [], NOW, min_expires=30).upserts  # at the minimum: fine


@pytest.mark.parametrize("raw", ["soon", "-5", "1.5"])
def test_a_malformed_expires_parameter_gets_400(raw: str) -> None:
    request = register(f"<{DESK}>;expires={raw}")
    with pytest.raises(RemoteProtocolError) as caught:
        process_register(request, [], NOW)
    assert caught.value.status == 400


def test_expires_zero_removes_the_binding() -> None:
    old = binding()
    decision = process_register(register(f"<{DESK}>;expires=0"), [old], NOW)
    assert decision.removals == [old] and decision.upserts == []
    assert decision.current == [] and contacts_of(decision) == {}


def test_expires_zero_for_an_unknown_contact_changes_nothing() -> None:
    other = binding(MOBILE)
    decision = process_register(register(f"<{DESK}>", expires=0), [other], NOW)
    assert decision.removals == [] and decision.upserts == []
    assert decision.current == [other]


# -- step 7: CSeq ordering per binding ------------------------------------------------------


def test_same_call_id_with_a_higher_cseq_refreshes_the_binding() -> None:
    old = binding(cseq=1)
    decision = process_register(register(f"<{DESK}>", expires=1200, cseq=2), [old], NOW)
    (new,) = decision.upserts
    assert (new.contact, new.expires_at, new.cseq) == (DESK, NOW + 1200, 2)
    assert decision.current == [new]


@pytest.mark.parametrize("cseq", [1, 5])
def test_same_call_id_with_a_cseq_not_higher_gets_500(cseq: int) -> None:
    old = binding(cseq=5)
    with pytest.raises(RemoteProtocolError) as caught:
        process_register(register(f"<{DESK}>", cseq=cseq), [old], NOW)
    assert caught.value.status == 500


def test_another_call_id_always_replaces_the_binding() -> None:
    old = binding(cseq=99, call_id="rebooted-phone")
    decision = process_register(register(f"<{DESK}>", cseq=1), [old], NOW)
    assert decision.upserts[0].call_id == CALL_ID and decision.upserts[0].cseq == 1


def test_contacts_are_matched_by_uri_equality() -> None:
    """§10.3 step 7 compares contacts with §19.1.4: the host is case-insensitive."""
    old = binding("sip:alice@phone.example.com:5060")
    request = register("<sip:alice@PHONE.Example.com:5060>;expires=0")
    decision = process_register(request, [old], NOW)
    assert decision.removals == [old]
    refresh = process_register(register("<sip:alice@Phone.example.com:5060>"), [old], NOW)
    assert [b.contact for b in refresh.upserts] == [old.contact]  # the stored key is kept
    assert len(refresh.current) == 1
    other_user = process_register(register("<sip:ALICE@phone.example.com:5060>"), [old], NOW)
    assert len(other_user.current) == 2  # the user part is case-sensitive


def test_a_contact_listed_twice_is_no_cseq_conflict_and_the_last_entry_wins() -> None:
    old = binding()
    request = register(f"<{DESK}>;expires=600", f"<{DESK}>;expires=0")
    decision = process_register(request, [old], NOW)
    assert decision.upserts == [] and decision.removals == [old]
    request = register(f"<{DESK}>;expires=0", f"<{DESK}>;expires=900")
    decision = process_register(request, [old], NOW)
    assert decision.removals == [] and [b.expires_at for b in decision.upserts] == [NOW + 900]


# -- step 6: Contact: * -----------------------------------------------------------------------


def test_contact_star_with_expires_zero_removes_every_binding() -> None:
    desk = binding(DESK, cseq=1)
    mobile = binding(MOBILE, call_id="other-call-id", cseq=50)
    decision = process_register(register("*", expires=0), [desk, mobile], NOW)
    assert decision.removals == [desk, mobile]
    assert decision.upserts == [] and decision.current == []
    assert contacts_of(decision) == {}


def test_contact_star_with_an_out_of_order_cseq_aborts_with_500() -> None:
    """Step 6: same Call-ID and a CSeq not higher: 'the update MUST be aborted'."""
    stale = binding(DESK, cseq=7)
    other = binding(MOBILE, call_id="other-call-id")
    with pytest.raises(RemoteProtocolError) as caught:
        process_register(register("*", expires=0, cseq=7), [other, stale], NOW)
    assert caught.value.status == 500


@pytest.mark.parametrize(
    ("contacts", "expires"),
    [(("*",), 3600), (("*",), None), (("*", f"<{DESK}>"), 0)],
    ids=["nonzero-expires", "no-expires", "with-another-contact"],
)
def test_contact_star_misused_gets_400(contacts: tuple[str, ...], expires: int | None) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        process_register(register(*contacts, expires=expires), [binding()], NOW)
    assert caught.value.status == 400


# -- step 8: the 200's Contact list ----------------------------------------------------------


def test_the_200_lists_every_binding_with_its_remaining_expires() -> None:
    desk = binding(DESK, expires_at=NOW + 1234.4)
    gone = binding("sip:alice@192.0.2.99", expires_at=NOW - 1)  # expired, not yet purged
    decision = process_register(register(f"<{MOBILE}>", expires=600), [desk, gone], NOW)
    assert contacts_of(decision) == {DESK: 1234, MOBILE: 600}
    headers = dict(decision.response_headers(NOW))
    assert parsedate_to_datetime(str(headers["Date"])).timestamp() == NOW


def test_a_query_without_contact_changes_nothing_and_lists_the_bindings() -> None:
    desk, mobile = binding(DESK, expires_at=NOW + 60), binding(MOBILE, expires_at=NOW + 3000)
    decision = process_register(register(), [desk, mobile], NOW)
    assert decision.upserts == [] and decision.removals == []
    assert contacts_of(decision) == {DESK: 60, MOBILE: 3000}


def test_remaining_expires_counts_down_with_the_clock() -> None:
    decision = process_register(register(f"<{DESK}>", expires=600), [], NOW)
    later = dict(decision.response_headers(NOW + 100))
    contact = later["Contact"]
    assert isinstance(contact, NameAddr) and contact.expires == 500
