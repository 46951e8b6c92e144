"""CCFClient: the original kit's wrapper of a boto3 "ccf" client for one
connector, with its names and signatures, and its defects fixed:

- list_documents pages with max_results and next_token, which our model
  (registered on import) declares, so it sees every document, not the
  first page;
- the checkpoint goes on the wire as the string the API takes (the dict as
  JSON text) and comes back as the dict;
- batches are the API's 1000, not 10, and 429/503 are sent again after the
  server's Retry-After.
"""

import json
from collections.abc import Mapping

from ccf_connector import retry
from ccf_connector.client import BATCH_MAX, PAGE_MAX, batches

from custom_connector_framework.logger import logger
from custom_connector_framework.models._base import Field, Model


class CCFDocument(Model):
    """A stored document; every field a str (the timestamps are RFC 3339)."""

    FIELDS = {"document_id": Field(), "checksum": Field(), "created_at": Field(), "updated_at": Field()}

    def __init__(self, **data):
        super().__init__(**data)
        for name in self.FIELDS:
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"CCFDocument.{name}: expected str, got {type(getattr(self, name)).__name__}")


class ListDocumentsResponse(Model):
    FIELDS = {"documents": Field(), "next_token": Field(None)}

    def __init__(self, **data):
        super().__init__(**data)
        self.documents = [CCFDocument.model_validate(d) for d in self.documents]


class CCFDocumentsMap(Model):
    FIELDS = {"documents": Field()}


class BatchPutDocumentsRequest(Model):
    FIELDS = {"documents": Field()}


class BatchDeleteDocumentsRequest(Model):
    FIELDS = {"document_ids": Field()}


class CheckpointData(Model):
    """Any keys: the checkpoint as the connector saved it."""

    def __init__(self, **data):
        super().__init__()
        self.__dict__.update(data)

    def model_dump(self, **_):
        return dict(self.__dict__)


class Checkpoint(Model):
    FIELDS = {"checkpoint_data": Field(), "connector_id": Field(None)}


class GetCheckpointResponse(Model):
    FIELDS = {"checkpoint": Field()}


class PutCheckpointRequest(Model):
    FIELDS = {"checkpoint_data": Field()}


class CCFClient:
    """Documents and checkpoint of one connector through a boto3 ccf client."""

    BATCH_PUT_DOCUMENT_MAX_SIZE = BATCH_MAX
    BATCH_DELETE_DOCUMENT_MAX_SIZE = BATCH_MAX

    def __init__(self, ccf_client, connector_id):
        self._client = ccf_client
        self._connector_id = connector_id

    def _call(self, operation, **params):
        method = getattr(self._client, operation)
        return retry.call(lambda: method(connector_id=self._connector_id, **params),
                          on_retry=lambda n, status, wait: logger.warning(
                              "CCF %s: %s, retry %d in %.1f s", operation, status, n, wait))

    def list_documents(self):
        """Every stored document, page after page: {document_id: CCFDocument}."""
        documents, token = {}, None
        while True:
            params = {"max_results": PAGE_MAX}
            if token:
                params["next_token"] = token
            page = ListDocumentsResponse.model_validate(self._call("list_custom_connector_documents", **params))
            for doc in page.documents:
                documents[doc.document_id] = doc
            token = page.next_token
            if not token:
                return CCFDocumentsMap(documents=documents)

    def batch_put_documents(self, document_checksums: Mapping):
        items = ({"document_id": i, "checksum": c} for i, c in document_checksums.items())
        for batch in batches(items, self.BATCH_PUT_DOCUMENT_MAX_SIZE):
            self._call("batch_put_custom_connector_documents", documents=batch)

    def batch_delete_documents(self, document_ids):
        for batch in batches(document_ids, self.BATCH_DELETE_DOCUMENT_MAX_SIZE):
            self._call("batch_delete_custom_connector_documents", document_ids=batch)

    def get_checkpoint(self):
        """The saved checkpoint as a dict; None when there is none, or when
        it is not a JSON object (a warning says which)."""
        try:
            response = self._call("get_custom_connector_checkpoint")
        except Exception as error:  # noqa: BLE001 - the original answers None on any failure
            if type(error).__name__ != "ResourceNotFoundException":
                logger.warning("Failed to get checkpoint: %s", error)
            return None
        text = response["checkpoint"]["checkpoint_data"]
        try:
            value = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            value = None
        if not isinstance(value, dict):
            logger.warning("Checkpoint of %s is not a JSON object; ignored", self._connector_id)
            return None
        return value

    def save_checkpoint(self, checkpoint_data):
        """Store the dict as the checkpoint, as JSON text (the API's string)."""
        text = json.dumps(dict(checkpoint_data), separators=(",", ":"), ensure_ascii=False)
        self._call("put_custom_connector_checkpoint", checkpoint_data=text)
