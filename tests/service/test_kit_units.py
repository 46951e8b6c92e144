"""The author kit's pure-Python parts, without ccfd: batching, retry timing,
checksums, the stored index, the diff of the sync loop against an
in-memory API, and the compatibility package's client and models."""

import hashlib
import io
import json
import sys

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from kitjobs import KIT

sys.path.insert(0, str(KIT))

from ccf_connector import Connector, Document, batches, load_checkpoint, retry  # noqa: E402
from ccf_connector.connector import _Batch  # noqa: E402
from ccf_connector.document import id_problem, valid_checksum  # noqa: E402
from ccf_connector.index import StoredIndex  # noqa: E402


def client_error(status, retry_after=None, code="ThrottlingException"):
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return ClientError({"Error": {"Code": code, "Message": "x"},
                        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers}}, "Op")


def test_the_packaged_model_is_clients_botocore():
    """gen_models.py writes both copies; an edit of one alone shows here."""
    for name in ("service-2.json", "paginators-1.json"):
        ours = KIT / "ccf_connector" / "data" / "ccf" / "2026-11-25" / name
        assert ours.read_bytes() == (KIT.parent / "botocore" / "ccf" / "2026-11-25" / name).read_bytes()


# ---- batching ----
def test_batches_are_at_most_the_size_and_lazy():
    assert [len(b) for b in batches(range(2500))] == [1000, 1000, 500]
    assert list(batches([])) == []
    taken = []

    def source():
        for i in range(5):
            taken.append(i)
            yield i
    first = next(batches(source(), 2))
    assert first == [0, 1] and taken == [0, 1]
    with pytest.raises(ValueError):
        list(batches([1], 0))


def test_batch_sends_an_id_seen_twice_in_the_next_batch():
    b = _Batch(3)
    assert not b.add("a", 1) and not b.add("b", 2)
    assert b.add("a", 3)  # a duplicate: the batch must go first
    assert b.take() == [1, 2] and b.take() == [3] and b.take() == []
    assert not b.add("x", 1) and not b.add("y", 2) and b.add("z", 3)
    assert b.take() == [1, 2, 3]


# ---- retry timing ----
def test_retry_after_is_honoured_with_at_most_ten_percent_more():
    assert retry.delay(1, 3.0, rand=lambda: 0.0) == 3.0
    assert retry.delay(5, 3.0, rand=lambda: 1.0) == pytest.approx(3.3)
    assert retry.delay(1, 10_000, rand=lambda: 0.5) == retry.MAX_WAIT


def test_backoff_without_retry_after_doubles_and_is_capped():
    waits = [retry.delay(n, None, rand=lambda: 1.0) for n in range(1, 10)]
    assert waits[:4] == [0.5, 1.0, 2.0, 4.0] and max(waits) == retry.MAX_BACKOFF
    assert retry.delay(3, None, rand=lambda: 0.0) == 1.0  # never under half the cap


def test_parse_retry_after():
    assert retry.parse_retry_after("2") == 2.0 and retry.parse_retry_after(" 1 ") == 1.0
    for bad in (None, "", "soon", "-1", "nan", "Wed, 21 Oct 2015 07:28:00 GMT"):
        assert retry.parse_retry_after(bad) is None, bad


def test_call_retries_429_and_503_then_returns():
    errors = [client_error(429, 2), client_error(503, 1), EndpointConnectionError(endpoint_url="x")]
    slept, heard = [], []

    def fn():
        if errors:
            raise errors.pop(0)
        return "ok"
    assert retry.call(fn, sleep=slept.append, rand=lambda: 0.0,
                      on_retry=lambda *a: heard.append(a)) == "ok"
    assert slept == [2.0, 1.0, 1.0]  # the third: attempt 3 of the backoff and [h[1] for h in heard] == [429, 503, None]


def test_call_does_not_retry_other_errors_and_gives_up():
    with pytest.raises(ClientError):
        retry.call(lambda: (_ for _ in ()).throw(client_error(400, code="BadRequestException")),
                   sleep=lambda s: pytest.fail("slept"))
    slept = []
    with pytest.raises(ClientError):
        retry.call(lambda: (_ for _ in ()).throw(client_error(429, 1)), max_attempts=3,
                   sleep=slept.append, rand=lambda: 0.0)
    assert slept == [1.0, 1.0]


# ---- documents ----
def test_checksums(tmp_path):
    assert Document("a", content=b"hello").checksum == hashlib.sha256(b"hello").hexdigest()
    assert Document("a", content="é").checksum == hashlib.sha256("é".encode()).hexdigest()
    big = tmp_path / "big"
    big.write_bytes(b"x" * (3 << 20))
    assert Document("b", path=big).checksum == hashlib.sha256(b"x" * (3 << 20)).hexdigest()
    titled = Document("a", content=b"hello", title="T")
    assert titled.checksum != Document("a", content=b"hello").checksum
    assert titled.checksum != Document("a", content=b"hello", title="U").checksum
    given = "v" * 40
    assert Document("c", checksum=given).checksum == given
    short = Document("c", checksum="etag-1").checksum  # not the contract's: hashed
    assert valid_checksum(short) and short == hashlib.sha256(b"etag-1").hexdigest()
    with pytest.raises(ValueError):
        Document("d")
    with pytest.raises(TypeError):
        Document("d", content=12)


def test_id_problems():
    assert id_problem("ok/ü") is None and id_problem("x" * 512) is None
    for bad in ("", "x" * 513, "a\nb", "a\x85", "\ud800", 5):
        assert id_problem(bad), bad


def test_load_checkpoint():
    assert load_checkpoint(None) is None
    assert load_checkpoint('{"a": 1}') == {"a": 1}
    assert load_checkpoint("cursor=42") == "cursor=42" and load_checkpoint("[1]") == "[1]"


def test_stored_index_pages_unseen_ids_and_removes_its_file(tmp_path):
    with StoredIndex(tmp_path) as index:
        index.add((f"d{i:04d}", f"c{i}") for i in range(2500))
        assert index.get("d0007") == "c7" and index.get("nope") is None
        for i in range(0, 2500, 2):
            index.mark_seen(f"d{i:04d}")
        unseen = list(index.unseen(batch=300))
        assert unseen == [f"d{i:04d}" for i in range(1, 2500, 2)]
        path = index.path
    assert not list(tmp_path.iterdir()), path


# ---- the sync loop against an in-memory API ----
class FakeApi:
    """ccf's documents and checkpoint as Client offers them, with the
    job's notion of 'seen' (the last job that put each document)."""

    def __init__(self, docs=None):
        self.docs = dict(docs or {})
        self.put_by = {}
        self.checkpoint = None
        self.job = None
        self.batch_sizes = []

    def get_checkpoint(self):
        return self.checkpoint

    def put_checkpoint(self, text):
        assert isinstance(text, str)
        self.checkpoint = text

    def documents(self, not_seen_by_job=None):
        for i in sorted(self.docs):
            if not_seen_by_job is None or self.put_by.get(i) != not_seen_by_job:
                yield {"document_id": i, "checksum": self.docs[i]}

    def put_documents(self, pairs):
        pairs = list(pairs)
        if pairs:
            assert len({i for i, _ in pairs}) == len(pairs) <= 1000
            self.batch_sizes.append(len(pairs))
        for i, c in pairs:
            self.docs[i] = c
            self.put_by[i] = self.job

    def delete_documents(self, ids):
        for i in ids:
            self.docs.pop(i, None)


class Fixed(Connector):
    def __init__(self, api, source, refuse=(), refuse_delete=(), job=None):
        super().__init__(client=api, out=io.StringIO())
        api.job = self.job_id = job
        self.source, self.refuse, self.refuse_delete = source, set(refuse), set(refuse_delete)
        self.pushed, self.deleted = [], []

    def documents(self):
        for i, content in self.source.items():
            yield Document(i, content=content)

    def push(self, batch):
        assert len(batch) <= self.batch_size
        failed = [d.id for d in batch if d.id in self.refuse]
        self.pushed += [d.id for d in batch if d.id not in failed]
        return failed

    def delete(self, ids):
        failed = [i for i in ids if i in self.refuse_delete]
        self.deleted += [i for i in ids if i not in failed]
        return failed


def h(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("job", [None, "ccj-000000000001"])
def test_sync_sends_only_changes_and_keeps_what_failed(job):
    api = FakeApi({"a": h("1"), "b": h("1"), "gone": h("1"), "stuck": h("1")})
    c = Fixed(api, {"a": "1", "b": "2", "new": "1", "bad-new": "1", "bad-old": "2"},
              refuse={"bad-new", "bad-old"}, refuse_delete={"stuck"}, job=job)
    api.docs["bad-old"] = h("1")
    stats = c.sync()
    assert sorted(c.pushed) == ["b", "new"] and sorted(c.deleted) == ["gone"]
    assert api.docs == {"a": h("1"), "b": h("2"), "new": h("1"), "bad-old": h("1"), "stuck": h("1")}
    assert (stats.seen, stats.unchanged, stats.pushed, stats.push_failed, stats.deleted,
            stats.delete_failed) == (5, 1, 2, 2, 1, 1)


def test_sync_batches_by_batch_size_and_reads_the_checkpoint():
    api = FakeApi()
    api.checkpoint = '{"since": "2026"}'
    c = Fixed(api, {f"d{i:05d}": str(i) for i in range(2345)}, job="ccj-000000000002")
    c.batch_size = 1000
    c.sync()
    assert c.checkpoint == {"since": "2026"} and api.batch_sizes == [1000, 1000, 345]
    c.save_checkpoint({"since": "2027"})
    assert json.loads(api.checkpoint) == {"since": "2027"} and c.checkpoint == {"since": "2027"}
    c.save_checkpoint("plain")
    assert api.checkpoint == "plain"
    with pytest.raises(TypeError):
        c.save_checkpoint(42)
    with pytest.raises(ValueError):
        c.save_checkpoint("")


def test_sync_skips_invalid_ids_and_fails_on_what_is_not_a_document():
    api = FakeApi()
    c = Fixed(api, {"ok": "1", "bad\nid": "1"})
    assert c.sync().invalid == 1 and list(api.docs) == ["ok"]

    class Vanishing(Fixed):
        def documents(self):
            yield Document("gone", path="/nonexistent/file")
            yield from super().documents()
    assert Vanishing(FakeApi(), {"ok": "1"}).sync().invalid == 1

    class Wrong(Fixed):
        def documents(self):
            yield ("not", "a document")
    with pytest.raises(TypeError):
        Wrong(FakeApi(), {}).sync()


# ---- the compatibility package ----
class FakeBoto:
    """A boto3 ccf client's four document and checkpoint calls."""

    def __init__(self, n):
        self.ids = [f"d{i:04d}" for i in range(n)]
        self.calls = []
        self.checkpoint = None

    def list_custom_connector_documents(self, connector_id, max_results=50, next_token=None):
        self.calls.append(("list", max_results, next_token))
        start = int(next_token or 0)
        page = self.ids[start:start + max_results]
        out = {"documents": [{"document_id": i, "checksum": "c" * 32, "created_at": "t", "updated_at": "t"}
                             for i in page]}
        if start + max_results < len(self.ids):
            out["next_token"] = str(start + max_results)
        return out

    def put_custom_connector_checkpoint(self, connector_id, checkpoint_data):
        self.checkpoint = checkpoint_data

    def get_custom_connector_checkpoint(self, connector_id):
        return {"checkpoint": {"connector_id": connector_id, "checkpoint_data": self.checkpoint}}

    def batch_put_custom_connector_documents(self, connector_id, documents):
        self.calls.append(("put", len(documents)))


def test_compat_client_pages_and_keeps_the_checkpoint_a_string():
    from custom_connector_framework.ccf_client import CCFClient
    boto = FakeBoto(2500)
    client = CCFClient(ccf_client=boto, connector_id="cc-000000000001")
    assert len(client.list_documents().documents) == 2500
    assert [c[2] for c in boto.calls] == [None, "1000", "2000"]
    client.save_checkpoint({"cursor": "42", "é": "ü"})
    assert isinstance(boto.checkpoint, str) and json.loads(boto.checkpoint) == {"cursor": "42", "é": "ü"}
    assert client.get_checkpoint() == {"cursor": "42", "é": "ü"}
    boto.checkpoint = "not json"
    assert client.get_checkpoint() is None
    client.batch_put_documents({f"x{i}": "c" * 32 for i in range(1500)})
    assert boto.calls[-2:] == [("put", 1000), ("put", 500)]


def test_compat_models_take_names_or_aliases_and_check_fields():
    from custom_connector_framework.models.qbusiness import DocumentContent, PrincipalUser, Value
    assert PrincipalUser(access="ALLOW", membershipType="INDEX").membership_type == "INDEX"
    assert Value(string_value="x").model_dump(by_alias=True, exclude_none=True) == {"stringValue": "x"}
    with pytest.raises(TypeError):
        PrincipalUser(access="ALLOW", colour="red")
    with pytest.raises(TypeError):
        PrincipalUser(id="x")
    with pytest.raises(ValueError):
        DocumentContent()


def test_index_goes_to_tmpdir_else_the_jobs_own_directory(monkeypatch, tmp_path):
    c = Fixed(FakeApi(), {})
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert c._scratch_dir() is None  # not a job: the system's temporary directory
    c.job_id = "ccj-000000000003"
    assert c._scratch_dir() == str(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t"))
    assert c._scratch_dir() == str(tmp_path / "t")
