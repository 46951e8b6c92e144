"""QBusinessCustomConnectorInterface: the original kit's sync into an Amazon
Q Business index, with its constructor and the names a connector uses.

What differs from the original, each a fix: documents stream from
get_documents_to_add() instead of being listed whole first; the CCF
checksum of a document is recorded only when Q Business took it (the
original recorded every document it tried, so one that failed was never
sent again); a document deleted from CCF only once Q Business deleted it;
documents skipped (too large without S3) are not recorded either.
"""

from custom_connector_framework.base_custom_connector_interfaces import BaseCustomConnectorInterface
from custom_connector_framework.logger import logger
from custom_connector_framework.models.qbusiness import (AccessConfiguration, BatchDeleteDocumentRequest,
                                                         BatchPutDocumentRequest, DocumentAttribute,
                                                         DocumentContent, DocumentToDelete, MemberRelation,
                                                         QBusinessDocument, Value)
from custom_connector_framework.utils import JsonSerializer

from ccf_connector.client import BATCH_MAX, batches

MIB = 1024 * 1024


class QBusinessConstants:
    BATCH_LIMITS = {"PUT_MAX_DOCS": 10, "PUT_MAX_TOTAL_SIZE": 10 * MIB, "PUT_MAX_SINGLE_SIZE": 50 * MIB,
                    "DELETE_MAX_DOCS": 10}


class QBusinessCustomConnectorInterface(BaseCustomConnectorInterface):
    def __init__(self, qbusiness_client, qbusiness_app_id, qbusiness_index_id, qbusiness_data_source_id,
                 ccf_client=None, s3_client=None, s3_bucket=None):
        super().__init__(ccf_client)
        self._qbusiness_client = qbusiness_client
        self._application_id = qbusiness_app_id
        self._index_id = qbusiness_index_id
        self._data_source_id = qbusiness_data_source_id
        self._s3_client = s3_client
        self._s3_bucket = s3_bucket
        self._sync_job_id = None

    def sync(self):
        """One sync job in Q Business: new and changed documents put, the
        ones get_documents_to_delete() names deleted, CCF told of what
        Q Business took."""
        try:
            logger.info("Starting sync job for data source %s...", self._data_source_id)
            self._sync_job_id = self._start_sync_job()
            try:
                stored = self.ccf_client.list_documents().documents if self.ccf_client else None
                if stored is not None:
                    logger.info("There are %s checksums from custom connector framework", len(stored))
                self._sync_documents(stored)
                self._sync_deletions()
            finally:
                if self._sync_job_id:
                    self._stop_sync_job()
        except Exception as error:
            logger.warning("Sync operation failed: %s", error)
            raise

    def _changed(self, stored):
        """(document, checksum) of the documents CCF does not hold as they are."""
        for doc in self.get_documents_to_add():
            checksum = doc.get_checksum() if stored is not None else None
            known = stored.get(doc.id) if stored is not None else None
            if known is not None and known.checksum == checksum:
                continue
            yield doc, checksum

    def _sync_documents(self, stored):
        seen = put = 0
        for chunk in batches(self._changed(stored), BATCH_MAX):
            seen += len(chunk)
            done = self._batch_put_documents(doc for doc, _ in chunk)
            put += len(done)
            if self.ccf_client:
                self.ccf_client.batch_put_documents({d.id: c for d, c in chunk if d.id in done})
        logger.info("Put %s of %s new or changed documents", put, seen)
        if put < seen:
            logger.warning("%s documents were not taken; they go again next sync", seen - put)

    def _sync_deletions(self):
        gone = 0
        for chunk in batches(self.get_documents_to_delete(), BATCH_MAX):
            done = self._batch_delete_documents(iter(chunk))
            gone += len(done)
            if self.ccf_client and done:
                self.ccf_client.batch_delete_documents([i for i in chunk if i in done])
        logger.info("Deleted %s documents", gone)

    def _start_sync_job(self):
        response = self._qbusiness_client.start_data_source_sync_job(
            applicationId=self._application_id, indexId=self._index_id, dataSourceId=self._data_source_id)
        return response["executionId"]

    def _stop_sync_job(self):
        self._qbusiness_client.stop_data_source_sync_job(
            applicationId=self._application_id, indexId=self._index_id, dataSourceId=self._data_source_id)

    def _handle_large_document(self, doc):
        if not self._s3_client or not self._s3_bucket:
            logger.warning("Skipping document %s > 10MB: S3 not configured.", doc.id)
            return None
        key = f"qbusiness-docs/{doc.id}{doc.file.file_path.suffix}"
        try:
            with open(doc.file.file_path, "rb") as f:
                self._s3_client.put_object(Bucket=self._s3_bucket, Key=key, Body=f)
        except Exception as error:  # noqa: BLE001 - the document is skipped, not the sync
            logger.error("Failed to upload document %s to S3: %s", doc.id, error)
            return None
        return {"bucket": self._s3_bucket, "key": key}

    def _attributes(self, doc):
        meta = doc.metadata
        named = [("_source_uri", meta.source_uri), ("_last_updated_at", meta.last_updated_at),
                 ("_created_at", meta.created_at)]
        out = [DocumentAttribute(name=n, value=Value(stringValue=v)) for n, v in named[:1]]
        out += [DocumentAttribute(name=n, value=Value(stringValue=v)) for n, v in named[1:] if v]
        out += [DocumentAttribute(name=n, value=Value(stringValue=str(v))) for n, v in meta.attributes.items()]
        return out

    def _prepare_document_for_upload(self, doc):
        """The Q Business shape of doc, or None when it is skipped."""
        size = doc.file.get_size()
        if size > QBusinessConstants.BATCH_LIMITS["PUT_MAX_SINGLE_SIZE"]:
            logger.warning("Skipping document %s due to size > 50MB.", doc.id)
            return None
        if size > QBusinessConstants.BATCH_LIMITS["PUT_MAX_TOTAL_SIZE"]:
            s3 = self._handle_large_document(doc)
            if not s3:
                return None
            content = DocumentContent(s3=s3)
        else:
            with open(doc.file.file_path, "rb") as f:
                content = DocumentContent(blob=f.read())
        access = None
        if doc.metadata.access_control_list:
            access = AccessConfiguration(accessControls=doc.metadata.access_control_list,
                                         memberRelation=MemberRelation.AND)
        return QBusinessDocument(id=doc.id, title=doc.metadata.title, contentType=doc.file.infer_content_type(),
                                 content=content, attributes=self._attributes(doc),
                                 accessConfiguration=access)

    def _batch_put_documents(self, documents):
        """Puts documents in Q Business's batches; returns the ids it took."""
        done, batch, size = set(), [], 0
        limits = QBusinessConstants.BATCH_LIMITS
        for doc in documents:
            try:
                prepared = self._prepare_document_for_upload(doc)
            except Exception as error:  # noqa: BLE001 - one bad file is not the whole sync
                logger.warning("Failed to prepare document %s: %s", doc.id, error)
                continue
            if prepared is None:
                continue
            batch.append(prepared)
            size += doc.file.get_size()
            if len(batch) == limits["PUT_MAX_DOCS"] or size >= limits["PUT_MAX_TOTAL_SIZE"]:
                done |= self._qbusiness_batch_put_documents(batch)
                batch, size = [], 0
        if batch:
            done |= self._qbusiness_batch_put_documents(batch)
        return done

    def _qbusiness_batch_put_documents(self, batch):
        ids = {d.id for d in batch}
        try:
            request = BatchPutDocumentRequest(applicationId=self._application_id, indexId=self._index_id,
                                              documents=batch, dataSourceSyncId=self._sync_job_id)
            response = self._qbusiness_client.batch_put_document(
                **JsonSerializer.serialize(request.model_dump(by_alias=True, exclude_none=True)))
        except Exception as error:  # noqa: BLE001 - the batch is not recorded, and goes again
            logger.error("Failed to batch upload documents: %s", error)
            return set()
        return ids - self._failed(response, "upload")

    def _batch_delete_documents(self, document_ids):
        """Deletes in Q Business's batches; returns the ids it deleted."""
        done = set()
        for chunk in batches(document_ids, QBusinessConstants.BATCH_LIMITS["DELETE_MAX_DOCS"]):
            done |= self._qbusiness_batch_delete_documents([DocumentToDelete(documentId=i) for i in chunk])
        return done

    def _qbusiness_batch_delete_documents(self, batch):
        ids = {d.document_id for d in batch}
        try:
            request = BatchDeleteDocumentRequest(applicationId=self._application_id, indexId=self._index_id,
                                                 documents=batch, dataSourceSyncId=self._sync_job_id)
            response = self._qbusiness_client.batch_delete_document(
                **JsonSerializer.serialize(request.model_dump(by_alias=True, exclude_none=True)))
        except Exception as error:  # noqa: BLE001
            logger.error("Failed to batch delete documents: %s", error)
            return set()
        return ids - self._failed(response, "delete")

    @staticmethod
    def _failed(response, what):
        failed = set()
        for item in (response or {}).get("failedDocuments", ()):
            logger.error("Failed to %s document %s: Error: %s", what, item.get("id"),
                         item.get("errorMessage", "Unknown error"))
            failed.add(item.get("id"))
        return failed
