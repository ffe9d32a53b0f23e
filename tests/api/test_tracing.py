"""Traces (rota.tracing, the ``tracing`` extra): a submit's ``traceparent`` is continued by
an ``rota.enqueue`` span, kept with the task, the claim links to it, and a worker's
``rota.run`` span continues it around the handler, whose own spans join the same trace; an
invalid header is dropped, never refused. Spans go to an in-memory exporter."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from rota.client import AsyncClient
from rota.worker import HttpSource, Registry, Worker, WorkerOptions
from tests.api.conftest import API, Api

EXPORTER = InMemorySpanExporter()


class Switched(SimpleSpanProcessor):
    """Exports only while a test of this module runs: OpenTelemetry allows one tracer
    provider per process, and the rest of the suite should not pile spans up."""

    on = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.on:
            super().on_end(span)


PROCESSOR = Switched(EXPORTER)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(PROCESSOR)
        trace.set_tracer_provider(provider)
    EXPORTER.clear()
    PROCESSOR.on = True
    try:
        yield EXPORTER
    finally:
        PROCESSOR.on = False
        EXPORTER.clear()


def named(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    (found,) = [s for s in exporter.get_finished_spans() if s.name == name]
    return found


async def test_the_submit_trace_is_continued_and_kept(
    api: Api, spans: InMemorySpanExporter
) -> None:
    with trace.get_tracer("test").start_as_current_span("submitter") as submitter:
        headers: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(headers)
        response = await api.http.post(
            f"{API}/tasks", json={"kind": "work", "queue": "traced"}, headers=headers
        )
    assert response.status_code == 201
    enqueue = named(spans, "rota.enqueue")
    trace_id = submitter.get_span_context().trace_id
    assert enqueue.context.trace_id == trace_id
    assert enqueue.parent is not None
    assert enqueue.parent.span_id == submitter.get_span_context().span_id
    kept = response.json()["trace"]  # the enqueue span's context, for the run to continue
    assert kept.startswith(f"00-{trace_id:032x}-{enqueue.context.span_id:016x}-")
    (claimed,) = await api.claim("w1", queues=["traced"])
    assert claimed["trace"] == kept
    claim = named(spans, "rota.claim")
    assert [link.context.span_id for link in claim.links] == [enqueue.context.span_id]


async def test_an_invalid_traceparent_is_dropped_not_refused(
    api: Api, spans: InMemorySpanExporter
) -> None:
    for header in ("garbage", "00-" + "0" * 32 + "-b7ad6b7169203331-01"):
        spans.clear()
        response = await api.http.post(
            f"{API}/tasks", json={"kind": "work"}, headers={"traceparent": header}
        )
        assert response.status_code == 201
        enqueue = named(spans, "rota.enqueue")  # in the request's own trace instead
        kept = response.json()["trace"]
        assert kept.split("-")[1] == f"{enqueue.context.trace_id:032x}" != "0" * 32


registry = Registry()


@registry.task("traced")
async def traced_handler() -> str:
    with trace.get_tracer("handler").start_as_current_span("handler-work"):
        await asyncio.sleep(0)
    return "done"


async def test_one_trace_from_the_submit_to_the_handlers_span(
    api: Api, client: AsyncClient, spans: InMemorySpanExporter
) -> None:
    with trace.get_tracer("test").start_as_current_span("submitter") as submitter:
        task = await client.submit("traced", queue="traced-run")  # the client sends no header
        headers: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(headers)
        response = await api.http.post(
            f"{API}/tasks", json={"kind": "traced", "queue": "traced-run"}, headers=headers
        )
    traced_id = response.json()["id"]
    options = WorkerOptions(concurrency=2, claim_wait=0.05, queues=["traced-run"])
    worker = Worker(HttpSource(client), registry, options=options)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(500):
            if {(await api.get(i))["state"] for i in (task.id, traced_id)} == {"succeeded"}:
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running
    trace_id = submitter.get_span_context().trace_id
    in_trace = {s.name: s for s in spans.get_finished_spans() if s.context.trace_id == trace_id}
    assert {"submitter", "rota.enqueue", "rota.run", "handler-work"} <= set(in_trace)
    run = in_trace["rota.run"]
    assert run.parent is not None and run.parent.span_id == in_trace["rota.enqueue"].context.span_id
    assert run.attributes is not None and run.attributes["task.id"] == traced_id
    work = in_trace["handler-work"]
    assert work.parent is not None and work.parent.span_id == run.context.span_id
    enqueues = {s.context.span_id for s in spans.get_finished_spans() if s.name == "rota.enqueue"}
    runs = [s for s in spans.get_finished_spans() if s.name == "rota.run"]
    assert len(runs) == 2  # with tracing on, a submit without a header starts its own trace
    assert all(r.parent is not None and r.parent.span_id in enqueues for r in runs)
