"""The seam between the composition root and the SIP server (``media.sip.server``)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from hotline.addresses import advertised_host
from hotline.config import Config
from hotline.sip_wiring import StoreCallRecords, StoreDirectory, WiredSipService
from hotline.store import Store

log = logging.getLogger(__name__)

SIP_SERVER_MODULE = "media.sip.server"
SIP_REGISTRAR_MODULE = "media.sip.registrar"


class SipService(Protocol):
    """What `hotline.app` needs from the SIP side of the process."""

    async def start(self) -> None:
        """Bind UDP and TCP and start accepting requests; return once calls can come in."""

    async def stop(self) -> None:
        """Stop accepting new calls, end established dialogs with BYE, close the transports."""

    def status(self) -> dict[str, Any]:
        """A JSON-serializable summary shown under ``sip`` in ``/healthz``.

        A ``"running"`` key, if present, must be False whenever calls are not being accepted
        (``/healthz`` then answers 503). Anything else (listening addresses, calls) is free-form.
        """
        ...


SipServiceFactory = Callable[[Config, Store], SipService | None]


def load_sip_service(config: Config, store: Store) -> SipService | None:
    """``media.sip.server``'s SIP server wired to ``store``; None while that module is absent."""
    try:
        server_module = importlib.import_module(SIP_SERVER_MODULE)
    except ModuleNotFoundError as exc:
        # TODO(sip): remove once media.sip.server lands
        # Only the module itself may be missing; a missing dependency inside it is a real bug.
        if exc.name != SIP_SERVER_MODULE:
            raise
        log.warning("%s is not available: running without SIP", SIP_SERVER_MODULE)
        return None
    registrar = importlib.import_module(SIP_REGISTRAR_MODULE)
    settings = server_module.SipSettings(
        host=config.sip_host,
        port=config.sip_port,
        advertised_host=advertised_host(config.sip_host),
        rtp_ports=config.rtp_ports,
        answer_delay=config.answer_delay,
        digest_algorithms=config.digest_algorithms,
    )
    records = StoreCallRecords(store)
    directory = StoreDirectory(store, registrar.Binding)
    server = server_module.SipServer(settings, records, directory)
    return WiredSipService(server, records)
