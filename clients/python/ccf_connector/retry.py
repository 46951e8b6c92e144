"""When and how long to wait before a request is sent again.

ccfd answers 429 (a rate limit) and 503 (shutting down, storage away) with
Retry-After in whole seconds; the kit waits at least that long. Without the
header (a connection refused, a reset), it backs off exponentially with
jitter. Pure functions and one loop; nothing here knows botocore except
how to read a status and a header from its exception.
"""

import random
import time

RETRY_STATUS = (429, 503)
MAX_ATTEMPTS = 10      # the first try and nine more
MAX_WAIT = 300.0       # seconds; a larger Retry-After is cut to this
BASE_WAIT = 0.5        # seconds, the first backoff without a Retry-After
MAX_BACKOFF = 30.0


def parse_retry_after(value):
    """Retry-After as seconds (a float >= 0), or None when absent or not a
    number of seconds (an HTTP date is not something ccfd sends)."""
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


def delay(attempt, retry_after=None, rand=random.random):
    """Seconds to wait before attempt number attempt+1 (attempt counts from
    1). With a Retry-After: that, plus up to 10 % so that many clients told
    the same second do not all come back at once, never more than MAX_WAIT.
    Without: BASE_WAIT doubled per attempt, capped, with full jitter in its
    upper half."""
    if retry_after is not None:
        return min(MAX_WAIT, retry_after * (1.0 + 0.1 * rand()))
    cap = min(MAX_BACKOFF, BASE_WAIT * (2 ** (attempt - 1)))
    return cap / 2 + (cap / 2) * rand()


def status_and_retry_after(error):
    """(HTTP status, Retry-After seconds) of a botocore ClientError; (None,
    None) for anything else."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None, None
    meta = response.get("ResponseMetadata", {})
    headers = {k.lower(): v for k, v in (meta.get("HTTPHeaders") or {}).items()}
    return meta.get("HTTPStatusCode"), parse_retry_after(headers.get("retry-after"))


def is_connection_error(error):
    """A request that may not have reached the server, or whose answer was
    lost: botocore's connection and read-timeout errors."""
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError
    except ImportError:  # pragma: no cover - botocore is a dependency
        return False
    return isinstance(error, (BotoConnectionError, HTTPClientError))


def call(fn, *, max_attempts=MAX_ATTEMPTS, sleep=time.sleep, on_retry=None, rand=random.random):
    """fn() until it returns, retrying 429, 503 and connection errors.
    Every ccf operation the kit sends is idempotent (puts are upserts,
    deleting a missing id is no error), so sending one again is safe.
    on_retry(attempt, status, wait) is told of each retry."""
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as error:  # noqa: BLE001 - filtered just below
            status, retry_after = status_and_retry_after(error)
            if status not in RETRY_STATUS and not is_connection_error(error):
                raise
            if attempt >= max_attempts:
                raise
            wait = delay(attempt, retry_after, rand)
            if on_retry is not None:
                on_retry(attempt, status, wait)
            sleep(wait)
            attempt += 1
