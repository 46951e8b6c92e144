"""A directory connector written only against the original builder kit's
documented interface (its README's example and its web crawler's main):
QBusinessCustomConnectorInterface with get_documents_to_add() and
get_documents_to_delete(), Document/DocumentFile/DocumentMetadata, access
controls from models.qbusiness, CCFClient over boto3.client("ccf", ...),
get_checkpoint()/save_checkpoint() with a dict. Nothing here names ccf's
own kit; test_kit_compat.py runs it as a ccfd job with clients/python on
PYTHONPATH and no AWS_DATA_PATH.

Debian 12's botocore has no Amazon Q Business model, so the Q Business
client is a stand-in with the four calls the kit makes: it appends what it
is given to QB_OUT as JSON lines and refuses the ids in QB_FAIL
(comma-separated) with failedDocuments, as the service does.
"""

import json
import os
import sys
from pathlib import Path
from typing import Iterator

import boto3

from custom_connector_framework.ccf_client import CCFClient
from custom_connector_framework.custom_connector_interface import QBusinessCustomConnectorInterface
from custom_connector_framework.models.document import Document, DocumentFile, DocumentMetadata
from custom_connector_framework.models.qbusiness import (AccessControl, AccessType, MemberRelation,
                                                         MembershipType, Principal, PrincipalUser)


class StandInQBusiness:
    def __init__(self, out, refuse):
        self.out, self.refuse = out, refuse

    def _write(self, record):
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def start_data_source_sync_job(self, **kw):
        self._write({"op": "start", **kw})
        return {"executionId": "exec-1"}

    def stop_data_source_sync_job(self, **kw):
        self._write({"op": "stop", **kw})

    def batch_put_document(self, **kw):
        ids = [d["id"] for d in kw["documents"]]
        assert all(isinstance(d["content"]["blob"], bytes) for d in kw["documents"])
        self._write({"op": "put", "ids": ids, "sync": kw["dataSourceSyncId"],
                     "acl": kw["documents"][0].get("accessConfiguration")})
        return {"failedDocuments": [{"id": i, "errorCode": "InternalError", "errorMessage": "refused"}
                                    for i in ids if i in self.refuse]}

    def batch_delete_document(self, **kw):
        ids = [d["documentId"] for d in kw["documents"]]
        self._write({"op": "delete", "ids": ids})
        return {"failedDocuments": []}


class DirectoryConnector(QBusinessCustomConnectorInterface):
    def __init__(self, root, deleted, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.root = Path(root)
        self.deleted = deleted

    def get_documents_to_add(self) -> Iterator[Document]:
        acl = AccessControl(memberRelation=MemberRelation.OR, principals=[Principal(user=PrincipalUser(
            id="someone@example.com", access=AccessType.ALLOW, membershipType=MembershipType.INDEX))])
        for path in sorted(self.root.iterdir()):
            yield Document(id=path.name, file=DocumentFile(path),
                           metadata=DocumentMetadata(title=path.stem, source_uri=path.as_uri(),
                                                     attributes={"author": "Custom Connector Framework"},
                                                     access_control_list=[acl]))

    def get_documents_to_delete(self) -> Iterator[str]:
        return iter(self.deleted)


def main():
    env = os.environ
    ccf = CCFClient(ccf_client=boto3.client("ccf", endpoint_url=env["CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"],
                                            region_name=env["AWS_REGION"]),
                    connector_id=env["CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"])
    connector = DirectoryConnector(
        env["SRC_DIR"], [x for x in env.get("DELETE_IDS", "").split(",") if x],
        ccf_client=ccf, qbusiness_client=StandInQBusiness(env["QB_OUT"], set(env.get("QB_FAIL", "").split(","))),
        qbusiness_app_id="app-1", qbusiness_index_id="index-1", qbusiness_data_source_id="ds-1")
    before = connector.get_checkpoint()
    print("checkpoint before: " + json.dumps(before), flush=True)
    connector.sync()
    runs = int((before or {}).get("runs", "0")) + 1
    connector.save_checkpoint({"runs": str(runs), "source": str(connector.root)})
    print(f"stored after: {len(connector.get_ccf_documents().documents)}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        print(f"connector failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
