"""The application services one Hotline process runs beside SIP and HTTP.

Built once after the store is open, started in dependency order and stopped in reverse
by `hotline.app`: speech recognition (``asr``), the CRM bridge (``crm_bridge``), the ACD
(``routing``) and the IVR flows (``ivr``). The SIP server hands each answered call to
``call_handler``; the web app mounts the desktop and supervisor pages over the same objects.

Each field is None until its package provides the service, so the composition root
stays one readable page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from crm_bridge.demo import seed_crm_demo
from crm_bridge.lookup import LOOKUPS
from crm_bridge.postgres import PostgresCrm
from hotline.config import Config
from hotline.store import Store
from media.call import Call
from media.calls import InviteHook

CallHandler = Callable[[Call], Awaitable[None]]
Step = Callable[[], Awaitable[None]]


@dataclass
class Services:
    """What the SIP side and the web side of one process share."""

    config: Config
    store: Store
    speech: Any = None  # asr.SpeechService
    crm: Any = None  # crm_bridge connector
    routing: Any = None  # routing service (the ACD)
    flows: Any = None  # ivr flow runtime
    call_handler: CallHandler | None = None
    #: told of each INVITE as it arrives (starts the caller's CRM look-up)
    on_invite: InviteHook | None = None
    #: stop steps, run in reverse order by hotline.app
    stops: list[tuple[str, Step]] = field(default_factory=list)


async def start_services(config: Config, store: Store) -> Services:
    """Build and start every application service for ``config``."""
    services = Services(config, store)
    await _start_crm(services)
    return services


async def _start_crm(services: Services) -> None:
    if services.config.demo:
        await seed_crm_demo(services.store)
    crm = PostgresCrm(services.store)
    await crm.start()
    services.crm = crm
    services.stops.append(("CRM outbox", crm.stop))
    services.on_invite = LOOKUPS.invite_hook(crm)
