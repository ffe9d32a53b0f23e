"""The clients' own HTTP path (rota/client/_http.py) and the sync Client's threads.

Against the real uvicorn of ``live_server``, and against canned servers on loopback sockets
for what a real server rarely does on cue (closing an idle connection, never answering,
chunked answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

import rota
from rota.client import AsyncClient, Client
from rota.core.states import TaskState
from tests.api.conftest import LiveServer

TASK = (
    b'{"id":"t1","queue":"default","kind":"noop","payload":{},"priority":20,'
    b'"state":"queued","attempt":0,"max_attempts":3,'
    b'"run_at":"2026-12-06T15:46:51.273129+00:00",'
    b'"created_at":"2026-12-06T15:46:51.273129+00:00"}'
)


def _queue() -> str:
    return f"q-{uuid.uuid4().hex[:12]}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _read_request(conn: socket.socket, pending: bytearray) -> bytes | None:
    """One request (head and Content-Length body) off ``conn``; None once it is closed."""
    while b"\r\n\r\n" not in pending:
        data = conn.recv(65536)
        if not data:
            return None
        pending += data
    end = pending.index(b"\r\n\r\n") + 4
    length = 0
    for line in bytes(pending[:end]).split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(pending) < end + length:
        data = conn.recv(65536)
        if not data:
            return None
        pending += data
    request = bytes(pending[: end + length])
    del pending[: end + length]
    return request


@pytest.fixture
def canned() -> Iterator[Callable[[Callable[[socket.socket, bytes, int], None]], str]]:
    """``canned(answer)``: a loopback server calling ``answer(conn, request, n)`` for the n-th
    request; its URL is returned and every request it read is in ``canned.requests``."""
    listeners: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def start(answer: Callable[[socket.socket, bytes, int], None]) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)
        count = [0]

        def serve(conn: socket.socket) -> None:
            pending = bytearray()
            with conn:
                while (request := _read_request(conn, pending)) is not None:
                    count[0] += 1
                    requests.append(request)
                    answer(conn, request, count[0])

        def accept() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                thread = threading.Thread(target=serve, args=(conn,), daemon=True)
                thread.start()

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        threads.append(thread)
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    requests: list[bytes] = []
    start.requests = requests  # type: ignore[attr-defined]
    yield start
    for listener in listeners:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way (Linux)
        listener.close()
    for thread in threads:
        thread.join(5)


def _task_answer(conn: socket.socket, request: bytes, n: int) -> None:
    head = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
    conn.sendall(head + b"content-length: %d\r\n\r\n" % len(TASK) + TASK)


# -- against the real server -------------------------------------------------------------


async def test_async_client_over_the_lean_path(live_server: LiveServer) -> None:
    queue = _queue()
    async with AsyncClient(live_server.url, timeout=30.0) as client:
        assert client._lean is not None, "plain http without a proxy: rota's own HTTP path"
        task = await client.submit("echo", {"n": 1}, queue=queue, priority="mid")
        assert task.state is TaskState.QUEUED
        assert (await client.get(task.id)).payload == {"n": 1}
        page = await client.list(queue=queue, limit=10)  # a query string
        assert [t.id for t in page.tasks] == [task.id]
        with pytest.raises(rota.NotFound, match=r"'a\?b c'"):  # quoted, not taken for a query
            await client.get("a?b c")
        with pytest.raises(rota.ValidationError):
            await client.submit("k", priority=101)
        made = await client.create_schedule("s", {"kind": "k", "queue": queue}, interval=60)
        assert await client.delete_schedule(made["id"]) is None  # 204, no body
        canceled = await client.cancel(task.id)  # a POST without a body
        assert canceled.state is TaskState.CANCELED


async def test_many_requests_at_once_on_one_async_client(live_server: LiveServer) -> None:
    queue = _queue()
    async with AsyncClient(live_server.url, timeout=30.0) as client:
        tasks = await asyncio.gather(
            *(client.submit("k", {"i": i}, queue=queue) for i in range(40))
        )
        page = await client.list(queue=queue, limit=100)
    assert sorted(t.payload["i"] for t in page.tasks) == list(range(40))
    assert {t.id for t in tasks} == {t.id for t in page.tasks}


def test_a_sync_client_shared_by_eight_threads(live_server: LiveServer) -> None:
    """Every thread's submits arrive, each exactly once, whichever loop ran them."""
    queue = _queue()
    with Client(live_server.url, timeout=30.0) as client:

        def submit(thread: int) -> list[str]:
            return [client.submit("k", {"t": thread, "i": i}, queue=queue).id for i in range(25)]

        with ThreadPoolExecutor(8) as pool:
            ids = [i for batch in pool.map(submit, range(8)) for i in batch]
        page = client.list(queue=queue, limit=500)
    assert len(ids) == len(set(ids)) == 200
    assert sorted(t.id for t in page.tasks) == sorted(ids)
    assert sorted((t.payload["t"], t.payload["i"]) for t in page.tasks) == [
        (t, i) for t in range(8) for i in range(25)
    ]


def test_a_long_call_does_not_hold_up_other_threads(live_server: LiveServer) -> None:
    queue = _queue()
    with Client(live_server.url, timeout=30.0) as client:
        task = client.submit("k", queue=queue)
        outcome: list[BaseException] = []

        def wait() -> None:
            try:
                client.wait_for(task.id, timeout=1)
            except BaseException as exc:  # checked below
                outcome.append(exc)

        waiting = threading.Thread(target=wait)
        waiting.start()
        try:
            other = client.submit("k", queue=queue)  # while wait_for holds the private loop
            assert client.get(other.id).id == other.id
        finally:
            waiting.join(10)
        assert not waiting.is_alive()
        assert [type(e) for e in outcome] == [TimeoutError]


async def test_a_sync_client_inside_a_running_loop(live_server: LiveServer) -> None:
    """Created, used and closed in a thread whose loop is running (blocking it meanwhile)."""
    queue = _queue()
    with Client(live_server.url, timeout=30.0) as client:
        task = client.submit("k", queue=queue)
        assert client.get(task.id).queue == queue
    with pytest.raises(RuntimeError):
        client.get(task.id)


def test_a_sync_client_used_then_closed_inside_a_loop(live_server: LiveServer) -> None:
    client = Client(live_server.url, timeout=30.0)
    task = client.submit("k", queue=_queue())  # no loop here: the private loop, inline

    async def inside() -> None:
        assert client.get(task.id).id == task.id  # a loop runs here: the background thread
        client.close()

    asyncio.run(inside())
    with pytest.raises(RuntimeError):
        client.submit("k")


def test_failover_to_the_next_server(live_server: LiveServer) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    with Client(f"{dead},{live_server.url}", timeout=30.0) as client:
        assert client.health()["status"] == "ok"
        assert client._async.url == live_server.url


async def test_no_server_reachable_is_a_client_error() -> None:
    urls = f"http://127.0.0.1:{_closed_port()},http://127.0.0.1:{_closed_port()}"
    async with AsyncClient(urls, timeout=5.0) as client:
        with pytest.raises(rota.ClientError, match="cannot connect"):
            await client.health()


# -- against canned servers ---------------------------------------------------------------


async def test_what_is_sent(canned: Callable[..., str]) -> None:
    url = canned(_task_answer)
    async with AsyncClient(url, token="s3cret") as client:
        task = await client.submit("noop", {"x": 1})
    assert task.id == "t1"
    (request,) = canned.requests  # type: ignore[attr-defined]
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /api/v1/tasks HTTP/1.1"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
    assert headers[b"authorization"] == b"Bearer s3cret"
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(body)
    assert body == b'{"kind":"noop","payload":{"x":1}}'


async def test_keep_alive_and_a_connection_the_server_closed(canned: Callable[..., str]) -> None:
    """Requests share a connection; one the server closed while idle is not used again."""
    closed = threading.Event()

    def answer(conn: socket.socket, request: bytes, n: int) -> None:
        _task_answer(conn, request, n)
        if n == 2:
            conn.shutdown(socket.SHUT_RDWR)
            closed.set()

    url = canned(answer)
    async with AsyncClient(url) as client:
        await client.submit("noop")
        await client.submit("noop")
        await asyncio.to_thread(closed.wait, 5)
        await asyncio.sleep(0.05)
        assert (await client.submit("noop")).id == "t1"
    assert len(canned.requests) == 3  # type: ignore[attr-defined]


def test_a_sync_client_after_the_server_closed_its_connection(
    canned: Callable[..., str],
) -> None:
    """Inline, the private loop does not run between calls: the closed socket is seen then."""
    closed = threading.Event()

    def answer(conn: socket.socket, request: bytes, n: int) -> None:
        _task_answer(conn, request, n)
        conn.shutdown(socket.SHUT_RDWR)
        closed.set()

    url = canned(answer)
    with Client(url) as client:
        for _ in range(3):
            closed.clear()
            assert client.submit("noop").id == "t1"
            assert closed.wait(5)


async def test_chunked_and_until_close_answers(canned: Callable[..., str]) -> None:
    def answer(conn: socket.socket, request: bytes, n: int) -> None:
        if n == 1:  # chunked, in pieces
            conn.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for at in range(0, len(TASK), 40):
                piece = TASK[at : at + 40]
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.sendall(b"0\r\n\r\n")
        else:  # no length: the body ends with the connection
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n" + TASK)
            conn.shutdown(socket.SHUT_RDWR)

    url = canned(answer)
    async with AsyncClient(url) as client:
        assert (await client.get("t1")).id == "t1"
        assert (await client.get("t1")).id == "t1"


async def test_an_error_answer_that_is_not_json(canned: Callable[..., str]) -> None:
    def answer(conn: socket.socket, request: bytes, n: int) -> None:
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 7\r\n\r\nupstrea")

    async with AsyncClient(canned(answer)) as client:
        with pytest.raises(rota.ServerError) as info:
            await client.health()
    assert info.value.status_code == 502
    assert info.value.message == "upstrea"


async def test_no_answer_in_time_is_a_client_error(canned: Callable[..., str]) -> None:
    def answer(conn: socket.socket, request: bytes, n: int) -> None:
        if n == 2:
            _task_answer(conn, request, n)  # the first request is never answered

    async with AsyncClient(canned(answer), timeout=0.3) as client:
        with pytest.raises(rota.ClientError, match="no answer within"):
            await client.get("t1")
        assert (await client.get("t1")).id == "t1"  # on a new connection


async def test_a_dropped_connection_is_a_client_error(canned: Callable[..., str]) -> None:
    def answer(conn: socket.socket, request: bytes, n: int) -> None:
        conn.shutdown(socket.SHUT_RDWR)

    async with AsyncClient(canned(answer)) as client:
        with pytest.raises(rota.ClientError, match="closed the connection"):
            await client.submit("noop")


def test_httpx_where_the_lean_path_does_not_go(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AsyncClient("http://127.0.0.1:1")._lean is not None
    assert AsyncClient("https://rota.example")._lean is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert AsyncClient("http://rota.example:8000")._lean is None
    monkeypatch.setenv("NO_PROXY", "rota.example")
    assert AsyncClient("http://rota.example:8000")._lean is not None
