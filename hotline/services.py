"""The application services one Hotline process runs beside SIP and HTTP.

Built once after the store is open, started in dependency order and stopped in reverse
by `hotline.app`: speech recognition (``asr``), the CRM bridge (``crm_bridge``), the ACD
(``routing``) and the IVR flows (``ivr``). The SIP server hands each answered call to
``call_handler``; the web app mounts the desktop and supervisor pages over the same objects.

Tests build a `Services` with only the parts they need (the others stay None).
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from asr import SpeechService
from crm_bridge.demo import seed_crm_demo
from crm_bridge.lookup import LOOKUPS
from crm_bridge.postgres import PostgresCrm
from hotline.config import Config
from hotline.demo_ivr import echo_digits
from hotline.store import Store
from ivr.demo import seed_demo_flow
from ivr.runtime import FlowRuntime
from media.call import Call
from media.calls import InviteHook
from routing.crm import crm_write_back
from routing.demo import seed_routing_demo
from routing.service import RoutingService

CallHandler = Callable[[Call], Awaitable[None]]
Step = Callable[[], Awaitable[None]]


@dataclass
class Services:
    """What the SIP side and the web side of one process share."""

    config: Config
    store: Store
    speech: SpeechService | None = None
    crm: PostgresCrm | None = None
    routing: RoutingService | None = None  # the ACD
    flows: FlowRuntime | None = None
    call_handler: CallHandler | None = None
    #: told of each INVITE as it arrives (starts the caller's CRM look-up)
    on_invite: InviteHook | None = None
    #: stop steps, run in reverse order by hotline.app
    stops: list[tuple[str, Step]] = field(default_factory=list)


async def start_services(config: Config, store: Store) -> Services:
    """Build and start every application service for ``config``."""
    services = Services(config, store)
    await _start_speech(services)
    await _start_crm(services)
    await _start_routing(services)
    await _start_flows(services)  # last: the IVR uses speech, the CRM and the ACD
    return services


async def _start_speech(services: Services) -> None:
    speech = SpeechService(vosk_model=services.config.vosk_model)
    await speech.start()
    services.speech = speech
    services.stops.append(("speech", speech.stop))


async def _start_crm(services: Services) -> None:
    if services.config.demo:
        await seed_crm_demo(services.store)
    crm = PostgresCrm(services.store)
    await crm.start()
    services.crm = crm
    services.stops.append(("CRM outbox", crm.stop))
    services.on_invite = LOOKUPS.invite_hook(crm)


async def _start_routing(services: Services) -> None:
    if services.config.demo:
        await seed_routing_demo(services.store)
    config = services.config
    routing = RoutingService(
        services.store,
        node=f"{socket.gethostname()}:{config.sip_port}",  # stable: a restart cleans its leftovers
        voicemail_dir=config.data_dir / "voicemail",
    )
    if services.crm is not None:
        routing.wrap_up_hooks.append(crm_write_back(services.store, services.crm))
    await routing.start()
    services.routing = routing
    services.stops.append(("ACD", routing.stop))


async def _start_flows(services: Services) -> None:
    config = services.config
    if config.demo:
        await seed_demo_flow(services.store)
    runtime = FlowRuntime(
        services.store,
        speech=services.speech,
        crm=services.crm,
        queueing=services.routing,
        data_dir=config.data_dir,
        # numbers without a flow keep the digit-echo demo (sip:hotline@ in the README)
        fallback=echo_digits if config.demo else None,
    )
    services.flows = runtime
    services.call_handler = runtime.handle
