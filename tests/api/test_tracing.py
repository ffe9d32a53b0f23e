"""Traces (rota.tracing, the ``tracing`` extra): a submit's ``traceparent`` is continued by
an ``rota.enqueue`` span, kept with the task, and the claim links to it; an invalid header
is dropped, never refused. Spans go to an in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

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
