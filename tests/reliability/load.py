"""A submit load for the server and database scenarios: threads that submit tasks with
their own ids and record every answer, so that the test can compare what was acknowledged
with what the store holds afterwards."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True, slots=True)
class Answer:
    sent: float
    answered: float
    ids: tuple[str, ...]
    status: int  # 0: no HTTP answer (transport error or timeout)
    error: str = ""


@dataclass
class SubmitLoad:
    """``threads`` submitters: odd requests carry one task, even ones a batch of ``batch``."""

    api_url: str
    threads: int = 3
    batch: int = 10
    timeout: float = 10.0
    ms: int = 2
    pause: float = 0.005  # seconds between two requests of one thread
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for k in range(self.threads):
            thread = threading.Thread(target=self._run, args=(k,), daemon=True)
            thread.start()
            self._workers.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=self.timeout + 5)

    def _run(self, k: int) -> None:
        n = 0
        with httpx.Client(base_url=self.api_url, timeout=self.timeout) as http:
            while not self._stop.is_set():
                n += 1
                task = {"kind": "work", "payload": {"ms": self.ms}, "max_attempts": 50}
                if n % 2:
                    ids: tuple[str, ...] = (f"t{k}-{n}",)
                    path, body = "/tasks", {**task, "id": ids[0]}
                else:
                    ids = tuple(f"t{k}-{n}-{j}" for j in range(self.batch))
                    path, body = "/tasks/batch", {"tasks": [{**task, "id": i} for i in ids]}
                sent = time.time()
                try:
                    response = http.post(path, json=body)
                except httpx.TransportError as exc:
                    self._add(Answer(sent, time.time(), ids, 0, type(exc).__name__))
                    time.sleep(0.02)
                    continue
                self._add(Answer(sent, time.time(), ids, response.status_code))
                time.sleep(0.02 if response.status_code >= 500 else self.pause)

    def _add(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def acked(self) -> set[str]:
        return {i for a in self.snapshot() if 200 <= a.status < 300 for i in a.ids}

    def statuses(self) -> Counter[str]:
        return Counter(str(a.status) if a.status else a.error for a in self.snapshot())
