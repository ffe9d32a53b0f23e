"""Traces across processes: a task carries the W3C trace context of the submit that made
it, and its run continues that trace.

The submit's ``traceparent`` header is kept with the task (its ``trace`` field). With the
``tracing`` extra installed (OpenTelemetry), rota adds spans: ``rota.enqueue`` (a child of
the submitter's span), ``rota.claim`` (linked to the tasks it leased) and ``rota.run``
around the handler (a child of ``rota.enqueue``); the task then carries the enqueue span's
context. Without it, rota stores the incoming ``traceparent`` as it came, so a handler can
continue the trace itself. Spans go wherever the application's tracer provider sends them;
rota installs none.

An invalid ``traceparent`` is dropped, as the W3C recommendation says: a trace is never a
reason to refuse a submit.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _trace() -> Any | None:
    """OpenTelemetry's ``trace`` module if this process has imported it, else None.

    A tracer provider cannot be installed without importing it, so until the application
    does, no span could be recorded and rota imports nothing (a worker starts ~30 ms
    sooner)."""
    return sys.modules.get("opentelemetry.trace")


#: version 00 as W3C Trace Context defines it: lower-case hex, ids not all zero
TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")


def parse(header: str | None) -> str | None:
    """The header if it is a valid ``traceparent``, else None."""
    if header is None:
        return None
    header = header.strip()
    return header if TRACEPARENT.fullmatch(header) else None


@contextmanager
def span(name: str, parent: str | None, **attributes: Any) -> Iterator[str | None]:
    """A span named ``name`` under the trace context ``parent`` (a traceparent, or None for
    a new trace); yields the traceparent to hand on: the new span's, or ``parent`` as it
    is when OpenTelemetry is not installed."""
    trace = _trace()
    if trace is None or not recording():
        yield parent  # nothing would record the span: hand the context on as it came
        return
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()
    context = propagator.extract({"traceparent": parent}) if parent else None
    tracer = trace.get_tracer("rota")
    kept = {k: v for k, v in attributes.items() if v is not None}
    with tracer.start_as_current_span(name, context=context, attributes=kept) as current:
        carrier: dict[str, str] = {}
        propagator.inject(carrier)
        yield carrier.get("traceparent", parent) if current.is_recording() else parent


def recording() -> bool:
    """Whether an application installed a tracer provider (else spans are dropped)."""
    trace = _trace()
    return trace is not None and not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )


def linked(name: str, traces: list[str | None], **attributes: Any) -> None:
    """A finished span (a new trace) linked to each of ``traces``: a claim that leased
    tasks of several traces. Nothing at all while no tracer provider is installed (a claim
    of a hundred tasks would otherwise parse a hundred contexts for nothing)."""
    trace = _trace()
    if trace is None or not recording() or not any(traces):
        return
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()
    links = []
    for parent in traces:
        if parent is not None:
            context = trace.get_current_span(propagator.extract({"traceparent": parent}))
            links.append(trace.Link(context.get_span_context()))
    kept = {k: v for k, v in attributes.items() if v is not None}
    trace.get_tracer("rota").start_span(name, links=links, attributes=kept).end()
