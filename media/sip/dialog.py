"""Dialogs (RFC 3261 §12): the peer-to-peer relationship an INVITE sets up.

A :class:`Dialog` is plain state: who we are, who they are, where requests go
(remote target and route set), and both CSeq spaces.  It builds in-dialog
requests (§12.2.1.1) and checks incoming ones (§12.2.2); it never sends.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from .errors import RemoteProtocolError
from .headers import CSeq, Headers, NameAddr, Via
from .ids import new_branch
from .message import Request, Response
from .uri import SipUri


class DialogState(enum.Enum):
    EARLY = "early"  # a provisional response with a To tag went out (§12.1)
    CONFIRMED = "confirmed"  # a 2xx went out or came in
    TERMINATED = "terminated"


DialogId = tuple[str, str, str]  # (Call-ID, local tag, remote tag), §12


@dataclass(eq=False)
class Dialog:
    """Dialog state; ``id`` is (Call-ID, local tag, remote tag)."""

    call_id: str
    local_tag: str
    remote_tag: str
    local: NameAddr  # our From in requests we send (their To)
    remote: NameAddr  # our To in requests we send (their From)
    remote_target: SipUri
    route_set: list[NameAddr] = field(default_factory=list)
    local_cseq: int = 0
    remote_cseq: int | None = None
    state: DialogState = DialogState.EARLY

    @property
    def id(self) -> DialogId:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def from_uas(cls, request: Request, local_tag: str, local_cseq: int = 0) -> Dialog:
        """The dialog a UAS builds from the request it answers (§12.1.1).

        The route set is the Record-Route list in order; the remote target is
        the request's Contact (§12.1.1), or its From URI when it sent none.
        """
        contact = request.contacts[0].uri if request.contacts else request.from_.uri
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_.tag or "",
            local=request.to.with_tag(local_tag),
            remote=request.from_,
            remote_target=contact,
            route_set=list(request.record_routes),
            local_cseq=local_cseq,
            remote_cseq=request.cseq.number,
        )

    @classmethod
    def from_uac(cls, request: Request, response: Response) -> Dialog:
        """The dialog a UAC builds from a 1xx (early) or 2xx with a To tag (§12.1.2)."""
        contact = response.contacts[0].uri if response.contacts else request.uri
        return cls(
            call_id=request.call_id,
            local_tag=request.from_.tag or "",
            remote_tag=response.to.tag or "",
            local=request.from_,
            remote=response.to,
            remote_target=contact,
            route_set=list(reversed(response.record_routes)),
            local_cseq=request.cseq.number,
            state=DialogState.CONFIRMED if response.status >= 200 else DialogState.EARLY,
        )

    def check_request(self, request: Request) -> None:
        """Apply §12.2.2 to an in-dialog request before it is acted on.

        A CSeq lower than the last one is out of order: 500 (§12.2.2).  An equal
        one, which §12.2.2 leaves undefined, is refused the same way: a request
        that reuses a number is a late copy, not a new request.  ACK and CANCEL
        reuse their INVITE's number and are not checked here.
        """
        if request.method in ("ACK", "CANCEL"):
            return
        number = request.cseq.number
        if self.remote_cseq is not None and number <= self.remote_cseq:
            raise RemoteProtocolError("CSeq out of order", 500)
        self.remote_cseq = number

    def refresh_target(self, message: Request | Response) -> None:
        """A target refresh (re-INVITE or its 2xx) replaces the remote target (§12.2)."""
        if message.contacts:
            self.remote_target = message.contacts[0].uri

    def create_request(
        self, method: str, via: Via, *, cseq: int | None = None, body: bytes = b""
    ) -> Request:
        """Build an in-dialog request (§12.2.1.1) with ``via`` as its only Via.

        With a loose-routing first route (``lr``) the Request-URI is the remote
        target and the route set becomes Route headers; with a strict router
        the first route becomes the Request-URI, less what a Request-URI may not
        carry (``method``, headers: §19.1.1), and the remote target goes last.
        """
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        uri, routes = self._request_uri_and_routes()
        headers = Headers([("Via", via.with_params(branch=new_branch()))])
        headers.add("Max-Forwards", 70)
        headers.add("From", self.local)
        headers.add("To", self.remote)
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", CSeq(cseq, method))
        for route in routes:
            headers.add("Route", route)
        return Request(method, uri, headers, body)

    def _request_uri_and_routes(self) -> tuple[SipUri, list[NameAddr]]:
        if not self.route_set:
            return self.remote_target, []
        first = self.route_set[0]
        if "lr" in first.uri.params:
            return self.remote_target, list(self.route_set)
        strict = [*self.route_set[1:], NameAddr(self.remote_target)]
        return replace(first.uri.without_params("method"), headers={}), strict
