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

from hotline.config import Config
from hotline.store import Store
from media.call import Call

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
    #: stop steps, run in reverse order by hotline.app
    stops: list[tuple[str, Step]] = field(default_factory=list)


async def start_services(config: Config, store: Store) -> Services:
    """Build and start every application service for ``config``."""
    services = Services(config, store)
    return services
