"""Refuse oversized request bodies before the app parses them.

Two bounds: the body's size (declared or streamed), and the number of JSON objects and
arrays in it (every ``{`` and ``[`` byte, those inside strings too, so the count can only
err high). The second bounds what parsing costs: a 13 MB body of a million ``{}`` would
build a million dicts (hundreds of MB, a third of a second) before any field is checked.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Pure ASGI middleware: 413 on a declared or streamed body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_containers: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_containers = max_containers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send, f"request body over {self.max_bytes} bytes")
                return
        # Read the body here, within the limit, count its containers, then replay it.
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(send, f"request body over {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if len(body) > self.max_containers and body.count(b"{") + body.count(b"[") > (
            self.max_containers
        ):
            await self._refuse(
                send, f"request body holds over {self.max_containers} JSON objects and arrays"
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, message: str) -> None:
        body = orjson.dumps({"error": "PayloadTooLarge", "message": message})
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
