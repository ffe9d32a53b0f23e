"""``/ui``: the dashboard, plain ES modules and CSS shipped in the package (no CDN, no
build step), served like ``/docs``. It holds no data, so it is public; everything it shows
comes from the API with the token the operator logs in with (kept in sessionStorage and
sent as ``Authorization: Bearer``: no cookie, so no CSRF surface). Every sub-path serves
the same page, which routes in the browser. The Content-Security-Policy allows scripts and
styles from this server only: even a rendering bug could not run a stranger's script."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

ROOT = "/ui"
ASSETS_DIR = Path(__file__).with_name("ui_assets")
#: what the page may load and where it may send: this server only
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}


class _Assets(StaticFiles):
    """The static files, with the same headers as the page."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await super().__call__(scope, receive, headed)


async def _page(_: Request) -> FileResponse:
    return FileResponse(ASSETS_DIR / "index.html", headers=HEADERS)


def install(app: FastAPI) -> None:
    app.mount(f"{ROOT}/assets", _Assets(directory=str(ASSETS_DIR)), name="ui-assets")
    app.add_route(ROOT, _page, include_in_schema=False)
    app.add_route(f"{ROOT}/{{path:path}}", _page, include_in_schema=False)
