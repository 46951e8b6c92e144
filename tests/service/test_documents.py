"""BatchPutCustomConnectorDocuments, BatchDeleteCustomConnectorDocuments,
ListCustomConnectorDocuments."""

import json
import time

import pytest

from ccftest import (
    CONNECTORS,
    DOC_KEYS,
    MISSING_CONNECTOR,
    checksum,
    expect,
    expect_error,
    not_found_connector,
    parse_time,
)


def docs_path(cid):
    return f"{CONNECTORS}/{cid}/documents"


def all_docs(client, cid, max_results=1000):
    items, _, _ = client.list_all(docs_path(cid), "documents", max_results=max_results)
    return items


def by_id(docs):
    return {d["document_id"]: d for d in docs}


def test_put_returns_202_and_list_shows_documents(client):
    cid = client.create_connector()["connector_id"]
    docs = [{"document_id": "b", "checksum": checksum("b")}, {"document_id": "a", "checksum": checksum("a")}]
    r = expect(client.post(docs_path(cid), {"documents": docs}), 202)
    assert r.json == {}, r
    r = expect(client.get(docs_path(cid)), 200)
    assert set(r.json) == {"documents"}, r
    got = r.json["documents"]
    assert [d["document_id"] for d in got] == ["a", "b"]
    for d in got:
        assert set(d) == DOC_KEYS, d
        assert d["checksum"] == checksum(d["document_id"])
        assert d["created_at"] == d["updated_at"] or parse_time(d["updated_at"]) >= parse_time(d["created_at"])


def test_list_empty(client):
    cid = client.create_connector()["connector_id"]
    r = expect(client.get(docs_path(cid)), 200)
    assert r.json == {"documents": []}, r


def test_list_is_ordered_bytewise(client):
    cid = client.create_connector()["connector_id"]
    ids = [
        "b", "a", "B", "A", "_", "a b", "a-b", "aa", "a/b", "~", "é", "ä", "Z9",
        "\ue000", "😀", "\uffff", "ﬀ", "0", "10", "9", "a\u0300",
    ]
    client.put_documents(cid, [{"document_id": i, "checksum": checksum(str(n))} for n, i in enumerate(ids)])
    got = [d["document_id"] for d in all_docs(client, cid)]
    assert got == sorted(ids, key=lambda s: s.encode("utf-8"))
    # \ue000 before U+1F600 bytewise (UTF-16 order would put the emoji first).
    assert got.index("\ue000") < got.index("😀")


def test_put_is_an_upsert_keeping_created_at(client):
    cid = client.create_connector()["connector_id"]
    client.put_documents(cid, [{"document_id": "doc", "checksum": checksum("old")}])
    (first,) = all_docs(client, cid)
    time.sleep(0.002)
    client.put_documents(
        cid, [{"document_id": "doc", "checksum": checksum("new")}, {"document_id": "other", "checksum": checksum()}]
    )
    docs = by_id(all_docs(client, cid))
    assert set(docs) == {"doc", "other"}
    second = docs["doc"]
    assert second["checksum"] == checksum("new")
    assert second["created_at"] == first["created_at"]
    assert parse_time(second["updated_at"]) > parse_time(first["updated_at"])


def test_batch_delete(client):
    cid = client.create_connector()["connector_id"]
    client.put_documents(cid, [{"document_id": i, "checksum": checksum(i)} for i in ("a", "b", "c", "d")])
    r = expect(client.delete(docs_path(cid), {"document_ids": ["b", "missing", "d"]}), 202)
    assert r.json == {}, r
    assert [d["document_id"] for d in all_docs(client, cid)] == ["a", "c"]
    client.delete_documents(cid, ["never-existed"])
    client.delete_documents(cid, ["a", "c"])
    assert all_docs(client, cid) == []


def test_same_document_id_in_two_connectors_is_two_documents(client):
    a = client.create_connector()["connector_id"]
    b = client.create_connector()["connector_id"]
    client.put_documents(a, [{"document_id": "shared", "checksum": checksum("A")}])
    client.put_documents(b, [{"document_id": "shared", "checksum": checksum("B")}])
    assert [d["checksum"] for d in all_docs(client, a)] == [checksum("A")]
    assert [d["checksum"] for d in all_docs(client, b)] == [checksum("B")]
    client.delete_documents(a, ["shared"])
    assert all_docs(client, a) == []
    assert [d["checksum"] for d in all_docs(client, b)] == [checksum("B")]


def test_duplicate_id_in_put_batch_is_400_and_writes_nothing(client):
    cid = client.create_connector()["connector_id"]
    client.put_documents(cid, [{"document_id": "keep", "checksum": checksum("1")}])
    before = all_docs(client, cid)
    docs = [
        {"document_id": "keep", "checksum": checksum("2")},
        {"document_id": "new", "checksum": checksum("3")},
        {"document_id": "dup", "checksum": checksum("4")},
        {"document_id": "dup", "checksum": checksum("5")},
    ]
    expect_error(client.post(docs_path(cid), {"documents": docs}), 400, mentions=("document_id", "dup", "duplicate"))
    assert all_docs(client, cid) == before


def test_duplicate_id_in_delete_batch_is_400_and_deletes_nothing(client):
    cid = client.create_connector()["connector_id"]
    client.put_documents(cid, [{"document_id": i, "checksum": checksum(i)} for i in ("a", "b")])
    before = all_docs(client, cid)
    expect_error(client.delete(docs_path(cid), {"document_ids": ["a", "b", "a"]}), 400)
    assert all_docs(client, cid) == before


def test_invalid_document_in_batch_writes_nothing(client):
    cid = client.create_connector()["connector_id"]
    docs = [{"document_id": f"ok{i}", "checksum": checksum()} for i in range(10)]
    docs.append({"document_id": "bad", "checksum": "short"})
    expect_error(client.post(docs_path(cid), {"documents": docs}), 400, mentions=("checksum",))
    assert all_docs(client, cid) == []


def test_batch_of_1000_is_accepted(client):
    cid = client.create_connector()["connector_id"]
    client.put_documents(cid, [{"document_id": f"d{i:04d}", "checksum": checksum(str(i))} for i in range(1000)])
    docs = all_docs(client, cid)
    assert [d["document_id"] for d in docs] == [f"d{i:04d}" for i in range(1000)]
    client.delete_documents(cid, [f"d{i:04d}" for i in range(1000)])
    assert all_docs(client, cid) == []


def test_batch_of_1001_is_400(client):
    cid = client.create_connector()["connector_id"]
    docs = [{"document_id": f"d{i}", "checksum": checksum()} for i in range(1001)]
    expect_error(client.post(docs_path(cid), {"documents": docs}), 400, mentions=("documents",))
    assert all_docs(client, cid) == []
    r = client.delete(docs_path(cid), {"document_ids": [f"d{i}" for i in range(1001)]})
    expect_error(r, 400, mentions=("document_ids",))


def test_empty_batches_are_400(client):
    cid = client.create_connector()["connector_id"]
    expect_error(client.post(docs_path(cid), {"documents": []}), 400, mentions=("documents",))
    expect_error(client.delete(docs_path(cid), {"document_ids": []}), 400, mentions=("document_ids",))


def test_unknown_connector_is_404(client):
    msg = not_found_connector(MISSING_CONNECTOR)
    p = docs_path(MISSING_CONNECTOR)
    expect_error(client.get(p), 404, message=msg)
    expect_error(client.post(p, {"documents": [{"document_id": "a", "checksum": checksum()}]}), 404, message=msg)
    expect_error(client.delete(p, {"document_ids": ["a"]}), 404, message=msg)


GOOD_IDS = [
    ("one-char", "a"),
    ("512-ascii", "a" * 512),
    ("512-emoji", "\U0001F600" * 512),
    ("512-two-byte", "é" * 512),
    ("spaces-and-symbols", " leading and trailing spaces / ? # & = % + "),
    ("json-like", '{"a": [1, 2]}'),
    ("quotes-backslash", 'q"\\b'),
    ("u00a0", "\u00a0"),
    ("u2028", "a\u2028b"),
    ("noncharacter", "\ufffe\uffff"),
    ("path-like", "../../etc/passwd"),
]


@pytest.mark.parametrize("doc_id", [g[1] for g in GOOD_IDS], ids=[g[0] for g in GOOD_IDS])
def test_valid_document_ids_round_trip(client, doc_id):
    cid = client.create_connector()["connector_id"]
    client.put_documents(cid, [{"document_id": doc_id, "checksum": checksum()}])
    (d,) = all_docs(client, cid)
    assert d["document_id"] == doc_id
    client.delete_documents(cid, [doc_id])
    assert all_docs(client, cid) == []


def test_escaped_surrogate_pair_is_one_code_point(client):
    cid = client.create_connector()["connector_id"]
    body = b'{"documents": [{"document_id": "\\ud83d\\ude00", "checksum": "' + checksum().encode() + b'"}]}'
    expect(client.post(docs_path(cid), body=body), 202)
    assert [d["document_id"] for d in all_docs(client, cid)] == ["\U0001F600"]


def _doc_body(doc_id_json, chk=None):
    chk = (chk or checksum()).encode()
    return b'{"documents": [{"document_id": ' + doc_id_json + b', "checksum": "' + chk + b'"}]}'


BAD_IDS = [
    ("empty", b'""'),
    ("513-ascii", json.dumps("a" * 513).encode()),
    ("513-emoji", json.dumps("\U0001F600" * 513, ensure_ascii=False).encode()),
    ("u0000", b'"a\\u0000b"'),
    ("u0001", b'"a\\u0001b"'),
    ("u001f", b'"\\u001f"'),
    ("tab", b'"a\\tb"'),
    ("newline", b'"a\\nb"'),
    ("u007f-escaped", b'"a\\u007fb"'),
    ("u007f-raw", b'"a\x7fb"'),
    ("u0085-escaped", b'"a\\u0085b"'),
    ("u0085-raw", b'"a\xc2\x85b"'),
    ("u009f-escaped", b'"\\u009f"'),
    ("lone-high-surrogate", b'"\\ud800"'),
    ("lone-low-surrogate", b'"a\\udc00"'),
    ("reversed-pair", b'"\\ude00\\ud83d"'),
    ("number", b"5"),
    ("null", b"null"),
    ("array", b'["a"]'),
]


# A lone surrogate escape fails in the JSON parser, before any field is known;
# its message may name the escape instead of the field.
SURROGATE_WORDS = ("document_id", "Unicode", "surrogate")


@pytest.mark.parametrize("raw", [b[1] for b in BAD_IDS], ids=[b[0] for b in BAD_IDS])
def test_bad_document_id_is_400(client, raw):
    cid = client.create_connector()["connector_id"]
    words = SURROGATE_WORDS if b"\\ud" in raw else ("document_id",)
    expect_error(client.post(docs_path(cid), body=_doc_body(raw)), 400, mentions=words)
    assert all_docs(client, cid) == []


@pytest.mark.parametrize("raw", [b'""', b'"a\\u0001"', b'"\\ud800"', json.dumps("a" * 513).encode(), b"7"],
                         ids=["empty", "control", "surrogate", "513", "number"])
def test_bad_document_id_in_delete_is_400(client, raw):
    cid = client.create_connector()["connector_id"]
    words = SURROGATE_WORDS if b"\\ud" in raw else ("document_id",)
    expect_error(client.delete(docs_path(cid), body=b'{"document_ids": [' + raw + b"]}"), 400, mentions=words)


GOOD_CHECKSUMS = [("32", "c" * 32), ("512", "c" * 512), ("all-printable", "".join(chr(c) for c in range(0x21, 0x7F)))]


@pytest.mark.parametrize("chk", [g[1] for g in GOOD_CHECKSUMS], ids=[g[0] for g in GOOD_CHECKSUMS])
def test_valid_checksums_round_trip(client, chk):
    cid = client.create_connector()["connector_id"]
    client.put_documents(cid, [{"document_id": "x", "checksum": chk}])
    assert all_docs(client, cid)[0]["checksum"] == chk


BAD_CHECKSUMS = [
    ("31", "c" * 31),
    ("513", "c" * 513),
    ("empty", ""),
    ("space", "c" * 20 + " " + "c" * 20),
    ("tab", "c" * 20 + "\t" + "c" * 20),
    ("del", "c" * 40 + "\x7f"),
    ("non-ascii", "c" * 40 + "é"),
    ("nul", "c" * 40 + "\x00"),
]


@pytest.mark.parametrize("chk", [b[1] for b in BAD_CHECKSUMS], ids=[b[0] for b in BAD_CHECKSUMS])
def test_bad_checksum_is_400(client, chk):
    cid = client.create_connector()["connector_id"]
    r = client.post(docs_path(cid), {"documents": [{"document_id": "x", "checksum": chk}]})
    expect_error(r, 400, mentions=("checksum",))
    assert all_docs(client, cid) == []


BAD_SHAPES_PUT = [
    ("missing-documents", {}, "documents"),
    ("documents-null", {"documents": None}, "documents"),
    ("documents-object", {"documents": {"document_id": "a", "checksum": "c" * 32}}, "documents"),
    ("documents-string", {"documents": "a"}, "documents"),
    ("item-number", {"documents": [1]}, "documents"),
    ("item-null", {"documents": [None]}, "documents"),
    ("missing-id", {"documents": [{"checksum": "c" * 32}]}, "document_id"),
    ("missing-checksum", {"documents": [{"document_id": "a"}]}, "checksum"),
    ("checksum-number", {"documents": [{"document_id": "a", "checksum": 12345}]}, "checksum"),
    ("checksum-null", {"documents": [{"document_id": "a", "checksum": None}]}, "checksum"),
    ("id-null", {"documents": [{"document_id": None, "checksum": "c" * 32}]}, "document_id"),
]


@pytest.mark.parametrize("body,field", [(b[1], b[2]) for b in BAD_SHAPES_PUT], ids=[b[0] for b in BAD_SHAPES_PUT])
def test_put_wrong_shapes_are_400(client, body, field):
    cid = client.create_connector()["connector_id"]
    expect_error(client.post(docs_path(cid), body), 400, mentions=(field,))


BAD_SHAPES_DELETE = [
    ("missing", {}),
    ("null", {"document_ids": None}),
    ("string", {"document_ids": "a"}),
    ("object", {"document_ids": {"a": 1}}),
    ("item-object", {"document_ids": [{"document_id": "a"}]}),
    ("item-null", {"document_ids": [None]}),
]


@pytest.mark.parametrize("body", [b[1] for b in BAD_SHAPES_DELETE], ids=[b[0] for b in BAD_SHAPES_DELETE])
def test_delete_wrong_shapes_are_400(client, body):
    cid = client.create_connector()["connector_id"]
    expect_error(client.delete(docs_path(cid), body), 400, mentions=("document_ids", "document_id"))


def test_largest_page(client):
    """1000 documents with 512-code-point ids of 4-byte characters and
    512-character checksums: a ~2.6 MB request and response."""
    cid = client.create_connector()["connector_id"]
    docs = [{"document_id": "\U0001F600" * 508 + f"{i:04d}", "checksum": checksum(str(i), 512)} for i in range(1000)]
    client.put_documents(cid, docs)
    page, token, r = client.list_page(docs_path(cid), "documents", max_results=1000)
    assert token is None, r
    assert [(d["document_id"], d["checksum"]) for d in page] == [(d["document_id"], d["checksum"]) for d in docs]


def test_documents_work_while_in_use(client):
    cid = client.create_connector()["connector_id"]
    client.start_job(cid)
    client.put_documents(cid, [{"document_id": "x", "checksum": checksum()}])
    client.delete_documents(cid, ["x"])
    assert all_docs(client, cid) == []
