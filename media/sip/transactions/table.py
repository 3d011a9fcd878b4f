"""Where the transaction layer keeps its transactions: indexes, and parking.

Every transaction gets a serial number.  The indexes — client key (§17.1.3),
server key (§17.2.3), the transaction a CANCEL names (§9.2), the §8.2.2.2
merge key — map the ``repr`` of a key to a serial, so they hold only strings
and numbers, which CPython's garbage collector does not track (a dict into
which fresh key tuples go would be tracked again at every insertion, and
walked whole by the next collection).

A server transaction that only absorbs retransmissions for 32 s (Completed,
Confirmed, Accepted) is *parked*: it is kept as bytes
(:meth:`ServerTransaction.park`), and rebuilt when a copy, an ACK, a CANCEL
or a timer comes (:meth:`ServerTransaction.unpark`).  At a few hundred
calls/s that is some 20,000 transactions every generation-2 collection would
otherwise walk with the event loop stopped.  While the transaction user still
holds the object, a weak reference finds it, so the TU's object is the one
that changes and gets reported.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterator

from .client import ClientTransaction
from .fsm import Transaction
from .server import BaseKey, Links, ServerTransaction

Key = tuple[object, ...]


class TransactionTable:
    """The layer's transactions by serial, their indexes, and the parked ones."""

    __slots__ = ("_active", "_cancellable", "_clients", "_held", "_links", "_merges",
                 "_parked", "_serials", "_servers")  # fmt: skip

    def __init__(self) -> None:
        self._serials = itertools.count()
        self._active: dict[int, Transaction] = {}
        self._parked: dict[int, bytes] = {}
        #: Connection handles of parked transactions that have one (reliable transports).
        self._links: dict[int, Links] = {}
        #: Parked transactions whose object someone (the TU) still holds.
        self._held = weakref.WeakValueDictionary[int, ServerTransaction]()
        self._clients: dict[str, int] = {}
        self._servers: dict[str, int] = {}
        self._cancellable: dict[str, int] = {}
        self._merges: dict[str, int] = {}

    # -- adding and removing ---------------------------------------------------------

    def add_client(self, transaction: ClientTransaction) -> None:
        self._clients[repr(transaction.key)] = self._add(transaction)

    def add_server(self, transaction: ServerTransaction) -> None:
        """Index a new server transaction; it replaces an older one with the same key."""
        serial = self._add(transaction)
        self._servers[repr(transaction.key)] = serial
        if transaction.method != "CANCEL":
            self._cancellable[repr(transaction.base)] = serial
        if transaction.merge is not None:
            self._merges.setdefault(repr(transaction.merge), serial)

    def _add(self, transaction: Transaction) -> int:
        transaction.serial = serial = next(self._serials)
        self._active[serial] = transaction
        return serial

    def settle(self, transaction: Transaction) -> None:
        """After a stimulus: (re-)park a compacted server transaction; others stay objects."""
        serial = transaction.serial
        if not isinstance(transaction, ServerTransaction) or not transaction.compacted:
            return
        if serial not in self._active and serial not in self._parked:
            return  # removed (terminated) meanwhile
        self._active.pop(serial, None)
        self._parked[serial], links = transaction.park()
        if links is None:
            self._links.pop(serial, None)
        else:
            self._links[serial] = links
        self._held[serial] = transaction

    def remove(self, transaction: Transaction) -> None:
        """Forget ``transaction``; an index entry a newer transaction owns stays."""
        serial = transaction.serial
        for entries in (self._active, self._parked, self._links, self._held):
            entries.pop(serial, None)
        if isinstance(transaction, ClientTransaction):
            _discard(self._clients, transaction.key, serial)
            return
        assert isinstance(transaction, ServerTransaction)
        _discard(self._servers, transaction.key, serial)
        _discard(self._cancellable, transaction.base, serial)
        if transaction.merge is not None:
            _discard(self._merges, transaction.merge, serial)

    # -- looking up -------------------------------------------------------------------

    def get(self, serial: int) -> Transaction | None:
        """The transaction numbered ``serial``: its object, or one rebuilt if parked."""
        found = self._active.get(serial)
        if found is not None:
            return found
        parked = self._parked.get(serial)
        if parked is None:
            return None
        return self._held.get(serial) or ServerTransaction.unpark(
            parked, self._links.get(serial)
        )

    def client(self, key: Key) -> ClientTransaction | None:
        serial = self._clients.get(repr(key))
        found = None if serial is None else self.get(serial)
        assert found is None or isinstance(found, ClientTransaction)
        return found

    def has_client(self, key: Key) -> bool:
        return repr(key) in self._clients

    def server(self, key: Key) -> ServerTransaction | None:
        return self._server_at(self._servers.get(repr(key)))

    def cancel_target(self, base: BaseKey) -> ServerTransaction | None:
        """The transaction a CANCEL with this base key names (§9.2), if any."""
        return self._server_at(self._cancellable.get(repr(base)))

    def is_merged(self, merge: Key) -> bool:
        return repr(merge) in self._merges

    def all_servers(self) -> Iterator[ServerTransaction]:
        """Every server transaction (parked ones rebuilt): for slow paths only."""
        for serial in list(self._servers.values()):
            found = self._server_at(serial)
            if found is not None:
                yield found

    def _server_at(self, serial: int | None) -> ServerTransaction | None:
        found = None if serial is None else self.get(serial)
        assert found is None or isinstance(found, ServerTransaction)
        return found

    @property
    def count(self) -> int:
        """Transactions by distinct key (a newer one with the same key hides the older)."""
        return len(self._clients) + len(self._servers)

    @property
    def is_empty(self) -> bool:
        return not (self._active or self._parked or self._clients or self._servers
                    or self._cancellable or self._merges)  # fmt: skip


def _discard(index: dict[str, int], key: object, serial: int) -> None:
    """Remove ``key`` only if it still names ``serial`` (a newer transaction may own it)."""
    name = repr(key)
    if index.get(name) == serial:
        del index[name]
