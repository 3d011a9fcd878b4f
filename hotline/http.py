"""The aiohttp web server: the health endpoint and the REST API (``/api/v1``)."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from agent_desktop.api import add_api
from agent_desktop.desktop import add_desktop
from agent_desktop.flows_api import add_flows_api
from agent_desktop.flows_pages import add_flow_pages
from agent_desktop.live_api import add_live_api, add_wallboard
from hotline import __version__
from hotline.health import Health
from hotline.services import Services
from hotline.store import Store

HEALTH = web.AppKey("health", Health)
STORE = web.AppKey("store", Store)


def create_app(health: Health, store: Store, services: Services | None = None) -> web.Application:
    """The web application, with the process's `Health` and `Store` in typed app state.

    ``services`` (None in tests of the bare API) are the application services whose
    pages and endpoints are mounted beside the API.
    """
    app = web.Application()
    app[HEALTH] = health
    app[STORE] = store
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    crm = services.crm if services is not None else None
    routing = services.routing if services is not None else None
    add_api(
        app,
        store,
        extensions=[
            partial(add_flows_api, store=store, crm=crm),
            partial(add_live_api, routing=routing),
        ],
    )
    add_flow_pages(app)
    add_wallboard(app)
    add_desktop(app, store.tokens, routing)
    return app


async def healthz(request: web.Request) -> web.Response:
    """200 with a JSON summary when SIP, HTTP and the database are all up, else 503."""
    report = await request.app[HEALTH].check()
    return web.json_response(report.body, status=200 if report.ok else 503)


INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hotline</title>
<link rel="stylesheet" href="/static/common.css"></head>
<body><h1>Hotline {version}</h1><ul>
<li><a href="/login">Agent softphone</a></li>
<li><a href="/supervisor/flows">IVR flow editor</a> (supervisors)</li>
<li><a href="/supervisor/wallboard">Wallboard: queues and agents live</a> (supervisors)</li>
<li><a href="/healthz">/healthz</a>, REST API under <code>/api/v1</code></li>
</ul></body></html>
"""


async def index(request: web.Request) -> web.Response:
    """The front page: where agents and supervisors go."""
    return web.Response(text=INDEX.format(version=__version__), content_type="text/html")


class HttpServer:
    """Runs an app on one TCP address; `stop` finishes requests in flight, then closes."""

    def __init__(self, app: web.Application, shutdown_timeout: float = 5.0) -> None:
        # handle_signals=False: signals belong to hotline.app, which orders the whole shutdown.
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout)

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0: any free port, see `port`)."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except BaseException:
            await self._runner.cleanup()
            raise

    @property
    def port(self) -> int:
        """The TCP port actually bound."""
        address = self._runner.addresses[0]
        port: int = address[1]
        return port

    async def stop(self) -> None:
        """Stop listening, let requests in flight finish (bounded), release everything."""
        await self._runner.cleanup()
