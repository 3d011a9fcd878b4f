"""The supervisors' flow editor page: ``/supervisor/flows`` and its script and style sheet.

Static files (``static/flows.*``), no build step; the page talks to ``/api/v1`` with the
bearer token of its own sign-in form.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

STATIC = Path(__file__).parent / "static"
PAGES = {  # URL -> file
    "/supervisor/flows": "flows.html",
    "/supervisor/flows.js": "flows.js",
    "/supervisor/flows.css": "flows.css",
}


def add_flow_pages(app: web.Application) -> None:
    """Serve the editor's three files (revalidated on every load, so an upgrade shows)."""
    for url, name in PAGES.items():
        app.router.add_get(url, _file(STATIC / name))


def _file(path: Path) -> Handler:
    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return serve
