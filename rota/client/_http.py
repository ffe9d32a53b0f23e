"""A lean HTTP/1.1 keep-alive client on asyncio: AsyncClient's path to a plain-http server.

httpx spends some 2,500 Python function calls on one small request (the client, httpcore's
pool, anyio, h11), several times what the request costs the server. Here a request is one
write of its head and body on a pooled connection and one future, set by the protocol once
the answer's body is in. AsyncClient sends every call through it when the server's URL is
``http://``, no proxy is configured and no httpx transport was given; httpx does the rest.

Only what rota's API needs: answers with a Content-Length, chunked or closing ones; no
redirects, cookies, compression or upgrades.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Callable
from urllib.parse import SplitResult

_IDLE_KEPT = 20  # as httpx: idle connections kept per client
_MAX_OPEN = 100  # as httpx: connections open at once per client; more requests wait
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


class ConnectFailed(Exception):
    """No connection to the server: the request was never sent."""


class RequestFailed(Exception):
    """The request was (or may have been) sent, and no whole answer came back."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.fd = -1
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.head = False  # the head of the current answer has been read
        self.status = 0
        self.length: int | None = None
        self.chunked = False
        self.reusable = True
        self.lost = False

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        self.fd = -1 if sock is None else sock.fileno()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None:
            self._answer(eof=False)

    def eof_received(self) -> None:
        self.reusable = False
        self._answer(eof=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.reusable = False
        self._fail(RequestFailed(f"the server closed the connection ({exc!r})"))

    # -- the answer ---------------------------------------------------------------------

    def _fail(self, error: BaseException) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _answer(self, *, eof: bool) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        try:
            found = self._parse(eof)
        except (ValueError, IndexError) as exc:
            self.reusable = False
            waiter.set_exception(RequestFailed(f"malformed answer: {exc!r}"))
            return
        if found is not None:
            waiter.set_result(found)
        elif eof:
            self.reusable = False
            waiter.set_exception(RequestFailed("the server closed the connection mid-answer"))

    def _parse(self, eof: bool) -> tuple[int, bytes] | None:
        buffer = self.buffer
        while not self.head:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return None
            lines = bytes(buffer[:end]).split(b"\r\n")
            del buffer[: end + 4]
            version, code = lines[0].split(b" ", 2)[:2]
            status = int(code)
            if 100 <= status < 200:  # an interim answer: the real one follows
                continue
            self.status, self.length, self.chunked = status, None, False
            close = version == b"HTTP/1.0"
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    self.length = int(value)
                elif name == b"transfer-encoding":
                    self.chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    close = b"close" in value.lower() or (
                        close and b"keep-alive" not in value.lower()
                    )
            if close:
                self.reusable = False
            if status in (204, 304):
                self.length = 0
            self.head = True
        if self.chunked:
            body = _dechunk(buffer)
            if body is None:
                return None
        elif self.length is not None:
            if len(buffer) < self.length:
                return None
            body = bytes(buffer[: self.length])
            del buffer[: self.length]
        else:  # the body runs until the server closes the connection
            if not eof:
                return None
            body = bytes(buffer)
            buffer.clear()
        self.head = False
        return self.status, body

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()


def _dechunk(buffer: bytearray) -> bytes | None:
    """The whole chunked body at the start of ``buffer`` (removed from it), or None yet."""
    parts: list[bytes] = []
    at = 0
    while True:
        eol = buffer.find(b"\r\n", at)
        if eol < 0:
            return None
        size = int(bytes(buffer[at:eol]).split(b";", 1)[0], 16)
        at = eol + 2
        if size == 0:
            if buffer[at : at + 2] == b"\r\n":
                end = at + 2
            else:  # trailers, up to an empty line
                found = buffer.find(b"\r\n\r\n", at)
                if found < 0:
                    return None
                end = found + 4
            del buffer[:end]
            return b"".join(parts)
        if len(buffer) < at + size + 2:
            return None
        parts.append(bytes(buffer[at : at + size]))
        at += size + 2


def _readable(fd: int) -> bool:
    """Whether an idle connection has something to read: the server closed it, or worse."""
    if fd < 0:
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _expire(waiter: asyncio.Future[tuple[int, bytes]], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(RequestFailed(f"no answer within {timeout} s"))


class Pool:
    """Keep-alive connections to one server (``http://host:port/prefix``), for one loop."""

    def __init__(self, url: SplitResult, headers: dict[str, str]) -> None:
        self._idle: list[_Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.point_at(url)

    def point_at(self, url: SplitResult) -> None:
        """Send to another server from now on (failover); idle connections are closed."""
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.prefix = url.path.rstrip("/")
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        if url.port is not None and url.port != 80:
            netloc = f"{netloc}:{url.port}"
        self._fixed = f" HTTP/1.1\r\nHost: {netloc}\r\n{self._extra}".encode("latin-1")
        self._drop_idle()

    def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        if idle:
            await asyncio.sleep(0)  # connection_lost runs, the sockets are closed

    async def request(
        self, method: str, target: str, body: bytes | None, timeout: float
    ) -> tuple[int, bytes]:
        """``method`` ``target`` (the path under the prefix, quoted, with its query)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # the connections of another loop cannot serve this one
            self._idle, self._loop = [], loop
            self._slots = asyncio.Semaphore(_MAX_OPEN)
        slots = self._slots
        assert slots is not None
        await slots.acquire()
        try:
            return await self._send(loop, method, target, body, timeout)
        finally:
            slots.release()

    async def _send(
        self,
        loop: asyncio.AbstractEventLoop,
        method: str,
        target: str,
        body: bytes | None,
        timeout: float,
    ) -> tuple[int, bytes]:
        connection = self._take_idle()
        if connection is None:
            connection = await self._connect(loop, timeout)
        if body is not None:
            tail = b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            message = b"".join((method.encode(), b" ", target.encode(), self._fixed, tail, body))
        else:
            tail = b"\r\n" if method in _NO_BODY_METHODS else b"Content-Length: 0\r\n\r\n"
            message = b"".join((method.encode(), b" ", target.encode(), self._fixed, tail))
        waiter: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        connection.waiter = waiter
        timer = loop.call_later(timeout, _expire, waiter, timeout)
        try:
            assert connection.transport is not None
            connection.transport.write(message)  # one write: head and body in one segment
            answer = await waiter
        except BaseException:
            connection.close()  # where the answer stands is unknown: never reuse it
            raise
        finally:
            timer.cancel()
            connection.waiter = None
        if connection.reusable and not connection.buffer and len(self._idle) < _IDLE_KEPT:
            self._idle.append(connection)
        else:
            connection.close()
        return answer

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()  # the most recent: the others may expire unused
            if connection.reusable and not connection.buffer and not _readable(connection.fd):
                return connection
            connection.close()
        return None

    async def _connect(self, loop: asyncio.AbstractEventLoop, timeout: float) -> _Connection:
        factory: Callable[[], _Connection] = _Connection
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(factory, self.host, self.port)
        except OSError as exc:  # refused, unreachable, unknown host, timed out (TimeoutError)
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port}: {exc!r}") from exc
        return connection
