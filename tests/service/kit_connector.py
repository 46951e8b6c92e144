"""A small connector written against the original framework's builder kit
interface (aws-samples "sample-amazon-q-business-custom-connector-framework",
custom-connector-framework-builder-kit), run as a ccfd job through boto3 and
the botocore model named by AWS_DATA_PATH.

What it relies on are the kit's documented facts, not its code:
- a CCF client wraps a boto3 "ccf" client and one connector id; its
  list_documents() pages ListCustomConnectorDocuments with only connector_id
  and next_token (the service's default page size) until no next_token comes
  back, and returns a map document_id -> document;
- a document record has document_id, checksum, created_at and updated_at,
  all typed str (the kit validates them as str: "ISO-formatted timestamp");
- batch_put_documents / batch_delete_documents send batches of at most 10;
- a connector implements get_documents_to_add() and get_documents_to_delete()
  and its sync() compares checksums with what the framework stored.

The source it syncs is synthetic, from the environment: KIT_DOCS documents
s0000.. whose checksum is sha256(id + KIT_VERSION) for the first KIT_CHANGED
of them and sha256(id + "v1") for the rest, and KIT_DELETE ids to delete.
It prints one line, "kit-sync: listed N, put P, deleted D, newest T".
"""

import hashlib
import os
import sys

import boto3

BATCH_MAX = 10  # the kit's batch size for put and delete


class CCFDocument:
    """A stored document as the kit types it: every field a str."""

    FIELDS = ("document_id", "checksum", "created_at", "updated_at")

    def __init__(self, raw):
        for f in self.FIELDS:
            v = raw.get(f)
            if not isinstance(v, str):
                raise TypeError(f"document field {f}: expected str, got {type(v).__name__}")
            setattr(self, f, v)


class CCFClient:
    def __init__(self, client, connector_id):
        self._client = client
        self._connector_id = connector_id

    def list_documents(self):
        docs, token = {}, None
        while True:
            params = {"connector_id": self._connector_id}
            if token:
                params["next_token"] = token
            page = self._client.list_custom_connector_documents(**params)
            for raw in page.get("documents", []):
                d = CCFDocument(raw)
                docs[d.document_id] = d
            token = page.get("next_token")
            if not token:
                return docs

    def batch_put_documents(self, checksums):
        items = [{"document_id": k, "checksum": v} for k, v in checksums.items()]
        for i in range(0, len(items), BATCH_MAX):
            self._client.batch_put_custom_connector_documents(
                connector_id=self._connector_id, documents=items[i:i + BATCH_MAX])

    def batch_delete_documents(self, ids):
        for i in range(0, len(ids), BATCH_MAX):
            self._client.batch_delete_custom_connector_documents(
                connector_id=self._connector_id, document_ids=ids[i:i + BATCH_MAX])


def digest(doc_id, version):
    return hashlib.sha256(f"{doc_id}/{version}".encode()).hexdigest()


class SyntheticConnector:
    """get_documents_to_add / get_documents_to_delete, and the kit's sync."""

    def __init__(self, ccf_client, env):
        self.ccf_client = ccf_client
        self.count = int(env["KIT_DOCS"])
        self.changed = int(env.get("KIT_CHANGED", "0"))
        self.version = env.get("KIT_VERSION", "v1")
        self.delete = [x for x in env.get("KIT_DELETE", "").split(",") if x]

    def get_documents_to_add(self):
        for i in range(self.count):
            doc_id = f"s{i:04d}"
            yield doc_id, digest(doc_id, self.version if i < self.changed else "v1")

    def get_documents_to_delete(self):
        return iter(self.delete)

    def sync(self):
        stored = self.ccf_client.list_documents()
        todo = {k: v for k, v in self.get_documents_to_add()
                if k not in stored or stored[k].checksum != v}
        self.ccf_client.batch_put_documents(todo)
        gone = list(self.get_documents_to_delete())
        self.ccf_client.batch_delete_documents(gone)
        # The timestamps as the kit uses them: strings that sort as times.
        newest = max((d.updated_at for d in stored.values()), default="")
        print(f"kit-sync: listed {len(stored)}, put {len(todo)}, deleted {len(gone)}, "
              f"newest {newest}", flush=True)


def main():
    env = os.environ
    client = boto3.session.Session().client(
        "ccf", endpoint_url=env["CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"].rstrip("/"),
        region_name=env["AWS_REGION"])
    cid = env["CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"]
    SyntheticConnector(CCFClient(client, cid), env).sync()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # the job's log says why, its exit status that it failed
        print(f"kit-sync failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
