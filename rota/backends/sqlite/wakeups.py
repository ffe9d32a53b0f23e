"""Wake-ups between processes that share one SQLite file.

SQLite has no LISTEN/NOTIFY, so a process learned of another's new tasks only by polling
``PRAGMA data_version``. Here each process that long-polls binds a Unix datagram socket in
a directory beside the database (``<file>.wake/``, one socket file per listener, named
``<pid>-<random>``), and a writer, after a commit that made tasks claimable, sends one
datagram to every socket there: the wake-up's text (:mod:`rota.core.wakeups`, the queues
that got tasks). It only says "look again", so a lost or duplicated one costs nothing but
a claim.

Sending never blocks and never raises into the writer: a full receive queue means that
listener has wake-ups pending already (perhaps for other queues: then the change counter
below wakes its claims within one poll); a refused send means its process is gone (killed
before it could clean up), and its socket file is removed. Where no socket can be bound
(a directory that is not writable, a path too long for ``sun_path``, no ``AF_UNIX``) the
listener says so once and the service keeps polling ``data_version``, which it does on
SQLite in any case, as the safety net for writers that do not announce.

Filesystem sockets rather than Linux's abstract namespace: a directory reaches every
process that can open the database file, including those in other containers sharing
the volume, whose network namespaces (and so abstract names) differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import socket
import sys
from collections.abc import Callable, Iterable

from rota.core import wakeups
from rota.core.wakeups import Queues

log = logging.getLogger("rota.sqlite")

#: a listener's socket name: its pid, a dash, 8 hex digits; nothing else there is touched
_NAME = re.compile(r"[0-9]+-[0-9a-f]{8}")
#: the longest ``sun_path`` that binds everywhere rota runs (104 on macOS, 108 on Linux)
_PATH_MAX = 103
#: None where there are no Unix datagram sockets (Windows): there the store polls
_AF_UNIX: int | None = None if sys.platform == "win32" else getattr(socket, "AF_UNIX", None)
#: the longest wake-up text sent as it is; a longer one goes as "look everywhere"
_DATAGRAM_MAX = 1024
#: directories whose trouble was reported already: one warning per directory per process
_warned: set[str] = set()


def wake_dir(db_path: str) -> str:
    """The directory of a database's listeners."""
    return os.path.abspath(db_path) + ".wake"


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, wake: Callable[[Queues], object]) -> None:
        self._wake = wake

    def datagram_received(self, data: bytes, addr: object) -> None:
        self._wake(wakeups.queues(data.decode(errors="replace")))

    def error_received(self, exc: Exception) -> None:  # nothing was sent from this socket
        return None


class Wakeups:
    """The listener and the announcer of one backend on one database file."""

    def __init__(self, db_path: str) -> None:
        self.directory = wake_dir(db_path)
        self._name: str | None = None  # our socket's name, while bound
        self._transport: asyncio.DatagramTransport | None = None
        self._sender: socket.socket | None = None

    @property
    def listening(self) -> bool:
        return self._transport is not None

    async def listen(self, wake: Callable[[Queues], object]) -> bool:
        """Bind this process's socket and call ``wake`` on every datagram; False (after one
        warning) where that cannot be done, and the caller keeps polling."""
        if self._transport is not None:
            return True
        if _AF_UNIX is None:
            return False
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        path = os.path.join(self.directory, name)
        if len(os.fsencode(path)) > _PATH_MAX:
            self._warn(f"its path is longer than a Unix socket's {_PATH_MAX} bytes")
            return False
        sock = socket.socket(_AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            for attempt in range(3):
                os.makedirs(self.directory, exist_ok=True)
                try:
                    sock.bind(path)
                    break
                except FileNotFoundError:  # a closing peer removed the empty directory
                    if attempt == 2:
                        raise
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(lambda: _Receiver(wake), sock=sock)
        except (OSError, NotImplementedError, ValueError) as exc:
            sock.close()
            _unlink(path)
            self._warn(str(exc))
            return False
        self._name = name
        self._transport = transport
        return True

    def announce(self, queues: Iterable[str] | None = None) -> None:
        """Wake every other listener on this file for tasks ready in ``queues`` (None: in
        any queue): call after the commit, never before. Never blocks and never raises:
        the commit has happened, whatever this does."""
        if _AF_UNIX is None:
            return
        try:
            names = os.listdir(self.directory)
        except OSError:  # no directory: nobody listens
            return
        try:
            text = wakeups.payload(queues)
            # past _DATAGRAM_MAX (a long list of queues) every listener looks: the smallest
            # datagram limit of the systems rota runs on is macOS's 2,048 bytes
            data = text.encode() if 0 < len(text) <= _DATAGRAM_MAX else b"!"
            if self._sender is None:
                self._sender = socket.socket(_AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            sender = self._sender
            for name in names:
                if name == self._name or not _NAME.fullmatch(name):
                    continue
                path = os.path.join(self.directory, name)
                try:
                    sender.sendto(data, path)
                except ConnectionRefusedError:  # nobody reads it: its process is gone
                    _unlink(path)
                except OSError:  # gone meanwhile, queue full (wakes pending), not ours
                    continue
        except Exception:  # a wake-up must never fail the write it follows
            log.debug("sending SQLite wake-ups failed", exc_info=True)

    def close(self) -> None:
        """Stop listening and remove our socket (and the directory, once it is empty)."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._name is not None:
            _unlink(os.path.join(self.directory, self._name))
            self._name = None
            with contextlib.suppress(OSError):  # others still listen there
                os.rmdir(self.directory)
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    def _warn(self, why: str) -> None:
        if self.directory in _warned:
            return
        _warned.add(self.directory)
        log.warning(
            "cannot listen for other processes' tasks in %s (%s); waiting claims will poll "
            "the database instead (every ROTA_POLL_INTERVAL)",
            self.directory,
            why,
        )


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
