"""Query parameters: max_results, next_token, status."""

import pytest

from ccftest import CONNECTORS, checksum, expect, expect_error, q


@pytest.fixture(scope="module")
def lists(client):
    """A connector with 5 documents and one job, and at least 3 connectors,
    so that every list has a second page at max_results=1 or 2."""
    cid = client.create_connector()["connector_id"]
    other = client.create_connector()["connector_id"]
    client.create_connector()
    client.put_documents(cid, [{"document_id": f"d{i}", "checksum": checksum(str(i))} for i in range(5)])
    client.put_documents(other, [{"document_id": f"d{i}", "checksum": checksum(str(i))} for i in range(5)])
    client.start_job(cid)
    return {
        "connectors": CONNECTORS,
        "jobs": f"{CONNECTORS}/{cid}/jobs",
        "documents": f"{CONNECTORS}/{cid}/documents",
        "other_documents": f"{CONNECTORS}/{other}/documents",
        "cid": cid,
        "other": other,
    }


BAD_MAX = [
    ("0", "max_results=0"),
    ("negative", "max_results=-1"),
    ("abc", "max_results=abc"),
    ("fraction", "max_results=1.5"),
    ("exponent", "max_results=1e1"),
    ("hex", "max_results=0x10"),
    ("empty", "max_results="),
    ("no-value", "max_results"),
    ("plus", "max_results=%2B5"),
    ("plus-is-space", "max_results=+5"),
    ("space", "max_results=%205"),
    ("trailing-space", "max_results=5%20"),
    ("huge", "max_results=99999999999999999999999"),
    ("int-overflow", "max_results=4294967297"),
    ("arabic-digit", "max_results=%D9%A1"),
    ("nul", "max_results=5%00"),
    ("twice", "max_results=5&max_results=5"),
    ("twice-one-bad", "max_results=5&max_results=0"),
    ("twice-one-encoded", "max_results=5&%6Dax_results=5"),
    ("many-times", "&".join(["max_results=5"] * 20)),
]


@pytest.mark.parametrize("query", [b[1] for b in BAD_MAX], ids=[b[0] for b in BAD_MAX])
@pytest.mark.parametrize("which", ["connectors", "jobs", "documents"])
def test_bad_max_results_is_400(client, lists, which, query):
    expect_error(client.get(f"{lists[which]}?{query}"), 400, mentions=("max_results",))


@pytest.mark.parametrize("which,n", [("connectors", 101), ("jobs", 101), ("documents", 1001)])
def test_max_results_above_range_is_400(client, lists, which, n):
    expect_error(client.get(lists[which] + q(max_results=n)), 400, mentions=("max_results",))


@pytest.mark.parametrize("which,n", [("connectors", 100), ("jobs", 100), ("documents", 1000), ("connectors", 1),
                                     ("jobs", 1), ("documents", 1), ("documents", 4)])
def test_max_results_in_range_is_accepted(client, lists, which, n):
    top = 1000 if which == "documents" else 100
    everything, _, _ = client.list_all(lists[which], which, max_results=top)
    page, token, r = client.list_page(lists[which], which, max_results=n)
    assert page == everything[:n], r
    assert (token is not None) == (len(everything) > n), r


def test_max_results_with_leading_zeros(client, lists):
    page, _, r = client.list_page(CONNECTORS, "connectors", max_results="002")
    assert len(page) == 2, r


def test_unknown_parameters_are_ignored(client, lists):
    for which in ("connectors", "jobs", "documents"):
        base, _, _ = client.list_page(lists[which], which, max_results=2)
        r = expect(client.get(lists[which] + q(("foo", "bar"), ("max_results", 2), ("x", ""))), 200)
        assert r.json[which] == base, r
        expect(client.get(lists[which] + "?flag&max_results=2&a=b=c"), 200)
        r = expect(client.get(lists[which] + "?&&max_results=2&"), 200)
        assert r.json[which] == base, r
        expect(client.get(lists[which] + "?"), 200)
        many = "&".join(f"p{i}={i}" for i in range(20))
        r = expect(client.get(lists[which] + "?" + many + "&max_results=2"), 200)
        assert r.json[which] == base, r


def test_query_on_get_connector_is_ignored(client, lists):
    expect(client.get(f"{CONNECTORS}/{lists['cid']}?foo=bar"), 200)


def test_percent_encoded_names_and_values(client, lists):
    page, _, r = client.list_page(CONNECTORS, "connectors", max_results=2)
    r2 = expect(client.get(CONNECTORS + "?%6Dax_results=%32"), 200)
    assert r2.json["connectors"] == page, r2


def _token(client, path, key, n=1, **params):
    page, token, r = client.list_page(path, key, max_results=n, **params)
    assert token, f"expected a next_token: {r}"
    return token


def test_token_pages_are_repeatable(client, lists):
    for which in ("connectors", "documents"):
        t = _token(client, lists[which], which, n=2)
        a, ta, _ = client.list_page(lists[which], which, max_results=2, next_token=t)
        b, tb, _ = client.list_page(lists[which], which, max_results=2, next_token=t)
        assert a == b and ta == tb
        assert a, "the page after a next_token must not be empty"


def test_token_with_other_max_results(client, lists):
    t = _token(client, lists["documents"], "documents", n=2)
    page, token, r = client.list_page(lists["documents"], "documents", max_results=3, next_token=t)
    assert [d["document_id"] for d in page] == ["d2", "d3", "d4"], r
    assert token is None, r


def _mutations(token):
    mid = len(token) // 2
    flipped = token[:mid] + ("A" if token[mid] != "A" else "B") + token[mid + 1:]
    return [
        ("truncated", token[:-1]),
        ("half", token[: len(token) // 2]),
        ("appended", token + "A"),
        ("flipped-middle", flipped),
        ("doubled", token + token),
    ]


GARBAGE_TOKENS = [
    ("abc", "abc"),
    ("empty", ""),
    ("long", "A" * 3000),
    ("max-len-garbage", "A" * 2048),
    ("nul", "%00"),
    ("non-ascii", "%C3%A9"),
    ("json", "%7B%22after%22%3A%22cc-000000000000%22%7D"),
    ("raw-id", "cc-0123456789ab"),
    ("base64-key", "Y2MtMDEyMzQ1Njc4OWFi"),
    ("spaces", "+++"),
    ("slashes", "..%2F..%2F"),
]


@pytest.mark.parametrize("token", [g[1] for g in GARBAGE_TOKENS], ids=[g[0] for g in GARBAGE_TOKENS])
@pytest.mark.parametrize("which", ["connectors", "jobs", "documents"])
def test_garbage_next_token_is_400(client, lists, which, token):
    expect_error(client.get(f"{lists[which]}?next_token={token}"), 400, mentions=("next_token", "token"))


@pytest.mark.parametrize("which", ["connectors", "documents"])
def test_tampered_next_token_is_400(client, lists, which):
    t = _token(client, lists[which], which)
    for name, bad in _mutations(t):
        r = client.get(lists[which] + q(next_token=bad))
        expect_error(r, 400, mentions=("next_token", "token"))


@pytest.mark.parametrize("which", ["connectors", "documents"])
def test_next_token_other_spelling_is_400(client, lists, which):
    """Only the string the server issued is a token. Changing the last
    character may change only unused bits of an encoding (base64's padding
    bits), so a server that accepts it accepts a string it never issued."""
    t = _token(client, lists[which], which)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    accepted = []
    for last in alphabet:
        if last != t[-1]:
            r = client.get(lists[which] + q(next_token=t[:-1] + last))
            if r.status != 400:
                accepted.append(str(r)[:300])
    assert not accepted, f"issued {t!r}; {len(accepted)} other spellings accepted, e.g.:\n" + "\n".join(accepted[:2])


@pytest.mark.parametrize("which", ["connectors", "documents"])
def test_next_token_twice_is_400(client, lists, which):
    t = _token(client, lists[which], which)
    expect_error(client.get(lists[which] + q(("next_token", t), ("next_token", t))), 400, mentions=("next_token",))


def test_token_of_one_list_on_another_is_400(client, lists):
    conn_t = _token(client, lists["connectors"], "connectors")
    doc_t = _token(client, lists["documents"], "documents")
    other_doc_t = _token(client, lists["other_documents"], "documents")
    cases = [
        ("connectors token on jobs", lists["jobs"], conn_t),
        ("connectors token on documents", lists["documents"], conn_t),
        ("documents token on connectors", lists["connectors"], doc_t),
        ("documents token on jobs", lists["jobs"], doc_t),
        ("documents token of A on B", lists["other_documents"], doc_t),
        ("documents token of B on A", lists["documents"], other_doc_t),
    ]
    for what, path, token in cases:
        r = client.get(path + q(next_token=token))
        assert r.status == 400, f"{what}: {r}"
        expect_error(r, 400)
    # The same tokens still work where they belong.
    expect(client.get(lists["connectors"] + q(next_token=conn_t)), 200)
    expect(client.get(lists["documents"] + q(next_token=doc_t)), 200)


BAD_STATUS = [
    ("lower", "status=started"),
    ("mixed", "status=Started"),
    ("unknown", "status=BOGUS"),
    ("completed", "status=COMPLETED"),
    ("empty", "status="),
    ("trailing-plus", "status=STARTED+"),
    ("list", "status=STARTED,STOPPING"),
    ("twice", "status=STARTED&status=STARTED"),
    ("twice-different", "status=STARTED&status=STOPPING"),
    ("connector-status", "status=AVAILABLE"),
]


@pytest.mark.parametrize("query", [b[1] for b in BAD_STATUS], ids=[b[0] for b in BAD_STATUS])
def test_bad_status_filter_is_400(client, lists, query):
    expect_error(client.get(f"{lists['jobs']}?{query}"), 400, mentions=("status",))


def test_status_filter_percent_encoded(client, lists):
    page, _, r = client.list_page(lists["jobs"], "jobs", status="STARTED")
    assert len(page) == 1, r
    r2 = expect(client.get(lists["jobs"] + "?status=%53TARTED"), 200)
    assert r2.json["jobs"] == page, r2
