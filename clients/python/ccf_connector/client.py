"""The ccf API as a connector job uses it: one connector, paged lists as
generators, batches of at most 1000, every call retried on 429/503.

Requests go through botocore (SigV4, the job's own keys from the
environment) with the model shipped in this package. botocore's own retries
are off: retry.call() does them and honours Retry-After, which botocore's
do not. Nothing here knows about sources or targets.
"""

import os

import botocore.session
from botocore.config import Config

from . import _model, retry

BATCH_MAX = 1000         # the contract's largest put or delete batch
PAGE_MAX = 1000          # the contract's largest documents page
ENV_ENDPOINT = "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"
ENV_CONNECTOR = "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"
ENV_JOB = "CUSTOM_CONNECTOR_JOB_ID"


class ConfigError(Exception):
    """The environment lacks what a client needs (not run as a ccfd job?)."""


def batches(items, size=BATCH_MAX):
    """Lists of at most size items from any iterable, lazily."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Client:
    """One connector's documents and checkpoint. endpoint, connector_id and
    region default to the job's environment; credentials are botocore's
    usual chain (the job's AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN), or credentials=(key id, secret[, token]).
    on_retry(attempt, status, wait) hears of retries."""

    def __init__(self, endpoint=None, connector_id=None, region=None, env=None, on_retry=None,
                 max_attempts=retry.MAX_ATTEMPTS, sleep=None, credentials=None):
        env = os.environ if env is None else env
        endpoint = endpoint or env.get(ENV_ENDPOINT)
        self.connector_id = connector_id or env.get(ENV_CONNECTOR)
        region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        missing = [n for n, v in ((ENV_ENDPOINT, endpoint), (ENV_CONNECTOR, self.connector_id),
                                  ("AWS_REGION", region)) if not v]
        if missing:
            raise ConfigError("missing " + ", ".join(missing) + " (ccfd sets them in a job)")
        session = botocore.session.get_session()
        _model.add_to_session(session, first=True)
        keys = dict(zip(("aws_access_key_id", "aws_secret_access_key", "aws_session_token"),
                        credentials or ()))
        self._api = session.create_client(
            "ccf", endpoint_url=endpoint.rstrip("/"), region_name=region, **keys,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                          connect_timeout=10, read_timeout=120))
        self._on_retry = on_retry
        self._max_attempts = max_attempts
        self._sleep = sleep
        self.requests = 0

    @property
    def api(self):
        """The botocore client, for operations the kit does not wrap."""
        return self._api

    def call(self, operation, **params):
        """One operation by its botocore name, retried on 429/503."""
        method = getattr(self._api, operation)
        kwargs = {"max_attempts": self._max_attempts, "on_retry": self._on_retry}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep

        def once():
            self.requests += 1
            return method(connector_id=self.connector_id, **params)
        return retry.call(once, **kwargs)

    def pages(self, operation, key, **params):
        """Items of a paged list, one page in memory at a time."""
        token = None
        while True:
            extra = {"next_token": token} if token else {}
            page = self.call(operation, **params, **extra)
            yield from page.get(key, ())
            token = page.get("next_token")
            if not token:
                return

    def documents(self, not_seen_by_job=None, page_size=PAGE_MAX):
        """Stored documents ({document_id, checksum, created_at, updated_at}),
        by document_id; with not_seen_by_job, those that job did not put."""
        params = {"max_results": page_size}
        if not_seen_by_job:
            params["not_seen_by_job"] = not_seen_by_job
        return self.pages("list_custom_connector_documents", "documents", **params)

    def jobs(self, status=None, page_size=100):
        """This connector's jobs, newest first."""
        params = {"max_results": page_size}
        if status:
            params["status"] = status
        return self.pages("list_custom_connector_jobs", "jobs", **params)

    def job(self, job_id):
        return self.call("get_custom_connector_job", job_id=job_id)["job"]

    def put_documents(self, checksums):
        """checksums: (document_id, checksum) pairs, any number; sent in
        batches of BATCH_MAX. An id twice in one batch is a 400: the caller
        sends each id once."""
        for batch in batches(checksums):
            self.call("batch_put_custom_connector_documents",
                      documents=[{"document_id": i, "checksum": c} for i, c in batch])

    def delete_documents(self, ids):
        for batch in batches(ids):
            self.call("batch_delete_custom_connector_documents", document_ids=list(batch))

    def get_checkpoint(self):
        """The checkpoint's text, or None when there is none."""
        try:
            return self.call("get_custom_connector_checkpoint")["checkpoint"]["checkpoint_data"]
        except self._api.exceptions.ResourceNotFoundException:
            return None

    def put_checkpoint(self, text):
        self.call("put_custom_connector_checkpoint", checkpoint_data=text)

    def delete_checkpoint(self):
        try:
            self.call("delete_custom_connector_checkpoint")
        except self._api.exceptions.ResourceNotFoundException:
            pass
