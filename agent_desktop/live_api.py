"""Live figures for supervisors: ``GET /api/v1/live`` (queues and agents, now).

The figures are derived, not stored (see `routing.acd.Acd.queue_figures`): waiting callers,
longest wait, service level, ASA, AHT, abandonment per queue; state and time in state per
agent. The wallboard page (`/supervisor/wallboard`) polls this endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from agent_desktop.auth import require_role
from agent_desktop.errors import ApiError
from routing.service import RoutingService

SUPERVISORS = ("supervisor", "admin")
LIVE: web.AppKey[RoutingService | None] = web.AppKey("live_routing")
routes = web.RouteTableDef()


STATIC = Path(__file__).parent / "static"


def add_live_api(api: web.Application, *, routing: RoutingService | None) -> None:
    """Add ``/live`` to the API sub-application; ``routing`` is the ACD (None: 503)."""
    api[LIVE] = routing
    api.add_routes(routes)


def add_wallboard(app: web.Application) -> None:
    """Serve the wallboard page and its script at ``/supervisor/wallboard``."""
    for url, name in (
        ("/supervisor/wallboard", "wallboard.html"),
        ("/supervisor/wallboard.js", "wallboard.js"),
    ):
        app.router.add_get(url, _file(STATIC / name))


def _file(path: Path) -> Handler:
    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return serve


@routes.get("/live")
@require_role(*SUPERVISORS)
async def live(request: web.Request) -> web.Response:
    routing = request.app[LIVE]
    if routing is None:
        raise ApiError(503, "the ACD is not running in this process")
    figures = routing.metrics()
    agents = {
        name: {key: value for key, value in agent.items() if key != "since"}  # process clock
        for name, agent in figures["agents"].items()
    }
    return web.json_response(_rounded({"queues": figures["queues"], "agents": agents}))


def _rounded(value: Any) -> Any:
    """Seconds and ratios to 3 decimals: a wallboard needs no nanoseconds."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value
