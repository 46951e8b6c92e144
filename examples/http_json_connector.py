#!/usr/bin/python3
"""http_json_connector.py: an example ccf connector for an HTTP JSON API.

It reads every item of API_URL, an endpoint that answers either a JSON
array of items (as https://jsonplaceholder.typicode.com/posts does) or
pages {"items": [...], "next": "<url of the next page>" | null}; each item
has an "id" and any other fields. Each run writes the new and changed items
to TARGET_DIR/<id>.json (standing in for a search index) and removes the
items the API no longer lists. The checkpoint records when the last run
ended and how many items it saw (a dict: the kit stores it as JSON text).

Variables: API_URL, TARGET_DIR, and optionally ID_FIELD (default "id").
"""

import json
import os
import time
import urllib.parse
import urllib.request
from pathlib import Path

from ccf_connector import Connector, Document

PAGE_LIMIT = 100_000  # a source that never stops paging is a bug, not data


def file_name(doc_id):
    """An id as one file name: quoted, so that "../x" or "a/b" stays inside TARGET_DIR."""
    return urllib.parse.quote(doc_id, safe="") + ".json"


def fetch(url):
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "ccf-http-json-connector"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)


class HttpJson(Connector):
    def __init__(self):
        super().__init__()
        self.url = os.environ["API_URL"]
        self.target = Path(os.environ["TARGET_DIR"])
        self.id_field = os.environ.get("ID_FIELD", "id")
        self.seen = 0

    def items(self):
        url, pages = self.url, 0
        while url:
            pages += 1
            if pages > PAGE_LIMIT:
                raise RuntimeError(f"more than {PAGE_LIMIT} pages from {self.url}")
            body = fetch(url)
            if isinstance(body, list):
                yield from body
                return
            yield from body.get("items", ())
            url = body.get("next")

    def documents(self):
        if self.checkpoint:
            self.log(f"last run: {self.checkpoint}")
        for item in self.items():
            self.seen += 1
            # The item's canonical JSON is its content: any changed field is a change.
            text = json.dumps(item, sort_keys=True, ensure_ascii=False)
            yield Document(str(item[self.id_field]), content=text)

    def push(self, batch):
        self.target.mkdir(parents=True, exist_ok=True)
        failed = []
        for doc in batch:
            try:
                (self.target / file_name(doc.id)).write_bytes(doc.read())
            except OSError as e:  # a name too long for the file system, a full disk
                self.log(f"cannot write {doc.id}: {e}")
                failed.append(doc.id)
        return failed

    def delete(self, ids):
        for doc_id in ids:
            (self.target / file_name(doc_id)).unlink(missing_ok=True)
        return None

    def sync(self):
        stats = super().sync()
        self.save_checkpoint({"finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "items": self.seen})
        return stats


if __name__ == "__main__":
    HttpJson.main()
