"""Every size and count limit in one place (documented in docs/limits.md)."""

from __future__ import annotations

MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 128  # queue, kind, tenant, job name, worker id
MAX_PAYLOAD_BYTES = 256 * 1024  # one task's payload, as compact JSON
MAX_RESULT_BYTES = 256 * 1024
MAX_ERROR_CHARS = 16 * 1024  # longer errors are truncated, not rejected
MAX_JSON_DEPTH = 32
MAX_BATCH = 1000  # tasks per POST /tasks/batch or /jobs, items per report
MAX_CLAIM = 1000  # tasks per claim
MAX_WAIT_SECONDS = 30.0  # long-poll bound for claims
MAX_WAITING_CLAIMS = 10_000  # long-polls one process holds; more are answered at once
MAX_BODY_BYTES = 16 * 1024 * 1024  # one HTTP request body
MAX_BODY_CONTAINERS = 200_000  # JSON objects and arrays in one request body
MAX_ATTEMPTS = 100
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600.0
MAX_LEASE_SECONDS = MAX_TIMEOUT_SECONDS  # a lease a caller asks for (compat routers)
MAX_DELAY_SECONDS = 52 * MAX_TIMEOUT_SECONDS  # delay, expires_in: about a year
MAX_LIST_LIMIT = 1000
MAX_TOKEN = 2**53 - 1  # lease tokens and cursors: exact in a double (JavaScript, Lua)
MAX_CAPABILITIES = 32  # a task's requires, a worker's capabilities
MAX_RANK = 2**44  # a rank is 0 <= rank < this: Redis scores (100 - priority) * 2^45 + rank
