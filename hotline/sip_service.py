"""The seam between the composition root and the SIP server (``media.sip.server``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from hotline.addresses import advertised_host
from hotline.config import Config
from hotline.demo_ivr import PROMPTS as DEMO_PROMPTS
from hotline.demo_ivr import echo_digits
from hotline.services import Services
from hotline.sip_wiring import StoreCallRecords, StoreDirectory, WiredSipService
from hotline.store import Store
from media.prompts.tts import PromptCache
from media.sip.registrar import Binding
from media.sip.server import SipServer, SipSettings

log = logging.getLogger(__name__)


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


SipServiceFactory = Callable[[Config, Store, Services], SipService | None]


def load_sip_service(config: Config, store: Store, services: Services) -> SipService:
    """The SIP server wired to ``store``; calls go to the services' handler (the IVR).

    Without one, ``--demo`` answers with the digit-echo demo and otherwise calls are
    answered in silence.
    """
    settings = SipSettings(
        host=config.sip_host,
        port=config.sip_port,
        advertised_host=advertised_host(config.sip_host),
        rtp_host=config.sip_host,
        rtp_ports=config.rtp_ports,
        answer_delay=config.answer_delay,
        digest_algorithms=config.digest_algorithms,
        recordings=config.data_dir / "recordings" if config.record else None,
    )
    records = StoreCallRecords(store)
    directory = StoreDirectory(store, Binding)
    prompts = PromptCache(config.data_dir / "prompts")
    handler = services.call_handler or (echo_digits if config.demo else None)
    server = SipServer(settings, records, directory, prompts, handler, services.on_invite)
    return WiredSipService(server, records, prompts, warm=DEMO_PROMPTS if config.demo else ())
