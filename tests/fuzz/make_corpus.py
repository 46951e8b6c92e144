#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target (tests/fuzz/corpus/<target>/seed-*)
and the dictionaries (tests/fuzz/dict/<target>.dict). The seeds are small,
valid or nearly valid inputs for every operation, so that the fuzzers start
deep in the code; found crashes are kept next to them as regress-* files and
are never rewritten here. Run it again after changing the input formats."""

import hashlib
import hmac
import json
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
C = "/api/v1/custom-connectors"
SUM = "0123456789abcdef0123456789abcdef"

PROPS = {
    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/connector:latest",
    "execution_role_arn": "arn:aws:iam::123456789012:role/ccf-execution",
    "job_role_arn": "arn:aws:iam::123456789012:role/ccf-job",
    "resource_requirements": {"cpu": 1.5, "memory": 4096},
    "timeout": 600,
}

BODIES = {
    "create": {"name": "docs-sync", "description": "a connector", "container_properties": PROPS},
    "create-command": {
        "name": "cmd",
        "container_properties": {
            "command": ["/bin/sh", "-c", "echo hi"],
            "environment": [{"name": "A_B", "value": "1"}],
        },
    },
    "update": {"description": None, "container_properties": {"timeout": 5, "command": ["x"]}},
    "update-null-rr": {"container_properties": {"resource_requirements": {"cpu": None}}},
    "update-empty": {"container_properties": {}},
    "start": {"environment": [{"name": "FOO", "value": "bar"}, {"name": "X1", "value": ""}]},
    "start-reserved": {"environment": [{"name": "CUSTOM_CONNECTOR_X", "value": "1"}]},
    "put": {"documents": [{"document_id": "a.txt", "checksum": SUM},
                          {"document_id": "\u00e9t\u00e9/\U0001f600", "checksum": SUM + "!~"}]},
    "put-dup": {"documents": [{"document_id": "a", "checksum": SUM}, {"document_id": "a", "checksum": SUM}]},
    "delete": {"document_ids": ["a.txt", "b/c.txt", "zz"]},
    "checkpoint": {"checkpoint_data": "cursor\u0000=42"},
}

RAW_BODIES = [
    b'{"name":"x","name":"y"}',
    b'{"documents":[{"document_id":"\\ud800","checksum":"' + SUM.encode() + b'"}]}',
    b'{"container_properties":{"resource_requirements":{"memory":2048.0}}}',
    b'[1,2]',
    b'{"a":' * 20 + b'1' + b'}' * 20,
]

# method, target, content type (None: no header), body
REQUESTS = [
    ("GET", "/healthz", None, b""),
    ("POST", C, "application/json", json.dumps(BODIES["create"]).encode()),
    ("POST", C, "application/json; charset=utf-8", json.dumps(BODIES["create-command"]).encode()),
    ("POST", C, "text/plain", b"{}"),
    ("GET", C + "?max_results=1", None, b""),
    ("GET", C + "?max_results=100&next_token=AAAA", None, b""),
    ("GET", C + "/@C", None, b""),
    ("PUT", C + "/@A", "application/json", json.dumps(BODIES["update"]).encode()),
    ("PUT", C + "/@C", None, json.dumps(BODIES["update-null-rr"]).encode()),
    ("DELETE", C + "/@A", None, b""),
    ("DELETE", C + "/@C", None, b""),
    ("PATCH", C + "/@C", None, b""),
    ("POST", C + "/@A/jobs", "application/json", json.dumps(BODIES["start"]).encode()),
    ("POST", C + "/@C/jobs", None, b""),
    ("GET", C + "/@C/jobs?status=STARTED&max_results=1", None, b""),
    ("GET", C + "/@C/jobs/@J", None, b""),
    ("GET", C + "/@A/jobs/@J", None, b""),
    ("POST", C + "/@C/jobs/@J/stop", None, b""),
    ("POST", C + "/@C/jobs/@E/stop", None, b""),
    ("GET", C + "/@C/jobs/@E/logs?offset=-5&limit=3", None, b""),
    ("POST", C + "/@C/documents", "application/json", json.dumps(BODIES["put"]).encode()),
    ("DELETE", C + "/@C/documents", "application/json", json.dumps(BODIES["delete"]).encode()),
    ("GET", C + "/@C/documents?max_results=2", None, b""),
    ("PUT", C + "/@C/checkpoint", "application/json", json.dumps(BODIES["checkpoint"]).encode()),
    ("GET", C + "/@C/checkpoint", None, b""),
    ("DELETE", C + "/@C/checkpoint", None, b""),
    ("GET", C + "/cc-%30123456789ab/jobs/ccj-ZZ", None, b""),
    ("GET", "/api/v1/custom-connectors/@C/../@A", None, b""),
]

TOKENS = [
    (0, b"AAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    (0, b"not a token!"),
    (1, b"00000000000003e8:cc-0123456789ab"),
    (1, b"0005f3b2c1d00000:ccj-0123456789ab"),
    (1, "\u00e9t\u00e9/\U0001f600/\u4e2d\u6587".encode()),
    (1, "\U0001f600".encode() * 40),
    (2, b"\x00" + b"00000000000003e8:cc-0123456789ab"),
    (2, b"\x01\x00\x00\x80\x00\x10\x00"),
    (2, b"\x01" + b"\xff" * 30),
]

CONFIGS = [
    "listen = 127.0.0.1:0\ndata-dir = /tmp/x\nsynchronous = normal\n",
    "; comment\n# also\nthreads = 4\nconnection_limit = 10\nconnection-timeout = 5\n",
    "listen = [::1]:8787\nlog-level = debug\nlog-format = json\nexecutor = none\n",
    "listen = 0.0.0.0:80\nallow-insecure-listen = yes\napi-endpoint = http://h/\n",
    "job-path = /bin:/usr/bin\nmax-jobs = 3\ncpu-budget = 1.5\nmemory-budget = 2048\n",
    "stop-grace = 2\njob-log-max = 4096\nretention = 60\naccount-id = 123456789012\n",
    "[section]\nlisten = 127.0.0.1:1\n",
    "region = eu-west-1\nregion\n",
    "listen = localhost:65535\nlisten = 127.0.0.1:65536\n",
    # A first line CCF_NAME=VALUE is an environment variable (fuzz_config.c).
    "CCF_THREADS=3\nthreads = 2\n",
    "CCF_REGION=ap-south-1\nregion = eu-central-1\n",
    "CCF_ACCESS_LOG=off\naccess-log = on\n",
    "CCF_LISTEN=0.0.0.0:1\nallow-insecure-listen = true\n",
    "CCF_NO_SUCH_KEY=1\nlog-level = warn\n",
    # store: sqlite or a libpq URI (store-experimental, no longer needed, still
    # accepted); the value is never echoed.
    "store = postgresql://ccf:secret@127.0.0.1:5432/ccf\nstore-experimental = on\n",
    "store = postgres://h/db\n",
    "store = sqlite\nstore = mysql://x\n",
    "CCF_STORE=postgresql://u@h/d\nstore-experimental = yes\n",
]

# fuzz_sigv4's credentials (tests/fuzz/fuzz_sigv4.c) and its server time.
KEYS = {
    "AKIDEXAMPLE00000": ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    "ASIATOKEN0000000": ("tokensecret0000000000000000000000000000", "FQoGZXIvYXdzEXAMPLETOKEN"),
    "AKIASCOPED000000": ("scopedsecret000000000000000000000000000", None),
}
AMZ_DATE = "20150830T123600Z"


def _enc(s, safe):
    return urllib.parse.quote(s, safe=safe)


def sigv4(method, target, headers, body, key_id):
    """The Authorization value for a request signed as botocore does."""
    secret, _ = KEYS[key_id]
    path, _, query = target.partition("?")
    pairs = sorted((_enc(urllib.parse.unquote(k), "-_.~"), _enc(urllib.parse.unquote(v), "-_.~"))
                   for k, _, v in (p.partition("=") for p in query.split("&") if p))
    names = sorted(h.lower() for h in headers)
    creq = "\n".join([
        method, _enc(path, "/-_.~"), "&".join(f"{k}={v}" for k, v in pairs),
        "".join(f"{n}:{' '.join(headers[[h for h in headers if h.lower() == n][0]].split())}\n"
                for n in names),
        ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = f"{AMZ_DATE[:8]}/us-east-1/execute-api/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", AMZ_DATE, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (AMZ_DATE[:8], "us-east-1", "execute-api", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return (f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={';'.join(names)}, "
            f"Signature={sig}")


SIGNED = [
    ("GET", C, {}, b"", "AKIDEXAMPLE00000"),
    ("GET", C + "?max_results=2&next_token=abc%2Fd", {}, b"", "AKIDEXAMPLE00000"),
    ("POST", C, {"Content-Type": "application/json"}, json.dumps(BODIES["create"]).encode(),
     "AKIDEXAMPLE00000"),
    ("PUT", C + "/cc-0123456789ab/checkpoint", {"X-Amz-Content-Sha256": None},
     b'{"checkpoint_data":"x"}', "AKIASCOPED000000"),
    ("DELETE", C + "/cc-0123456789ab", {"X-Amz-Security-Token": "FQoGZXIvYXdzEXAMPLETOKEN"}, b"",
     "ASIATOKEN0000000"),
    ("GET", "/api/v1/custom-connectors/a%20b/../c//d", {"X-Custom": "  two   spaces "}, b"",
     "AKIDEXAMPLE00000"),
]


def sigv4_seeds():
    out = []
    for method, target, extra, body, key_id in SIGNED:
        headers = {"Host": "127.0.0.1:8787", "X-Amz-Date": AMZ_DATE}
        for k, v in extra.items():
            headers[k] = v if v is not None else hashlib.sha256(body).hexdigest()
        headers["Authorization"] = sigv4(method, target, headers, body, key_id)
        head = "".join(f"{k}: {v}\n" for k, v in headers.items())
        out.append(b"\x00" + f"{method}\n{target}\n{head}\n".encode() + body)
        unsigned = "".join(f"{k}: {v}\n" for k, v in extra.items() if v is not None)
        out.append(b"\x01" + f"{method}\n{target}\n{unsigned}\n".encode() + body)
    return out


CREDFILES = [
    b"\x00[AKIDEXAMPLE00000]\nsecret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n"
    b"account_id = 123456789012\n",
    b"\x00# keys\n[AKIAAAAAAAAAAAAAAAAA]\nsecret_access_key=0123456789abcdef0123\naccount_id=000000000000\n"
    b"session_token = tok\nconnector_id = cc-0123456789ab\nexpires_at = 2026-12-31T23:59:59Z\n"
    b"[AKIBBBBBBBBBBBBBBBBB]\nsecret_access_key=0123456789abcdef0123\naccount_id=000000000001\n"
    b"expires_at = 1767225599\n",
    b"\x00[AKIDEXAMPLE00000]\naccount_id = 123456789012\n",
    b"\x00[lower]\nsecret_access_key = x\n",
    b"\x01[ASIAJOB000000000]\nsecret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n"
    b"account_id = 123456789012\nsession_token = tok\nconnector_id = cc-0123456789ab\n"
    b"job_id = ccj-0123456789ab\nregion = us-east-1\nexpires_at = 2026-12-31T23:59:59.5+01:00\n",
]

DICT = {
    "request": [
        "GET", "POST", "PUT", "DELETE", "HEAD", "/api/v1/", "/api/v1/custom-connectors", "/@A",
        "/@C", "/@J", "/@E", "/jobs", "/documents", "/checkpoint", "/stop", "/logs", "?",
        "&", "=", "%", "%2F", "%00", "+", "max_results=", "next_token=", "status=", "offset=",
        "limit=", "RUNNING", "STOPPED", "application/json", "; charset=utf-8", "cc-",
        "ccj-", '"name"', '"description"', '"container_properties"', '"image_uri"',
        '"execution_role_arn"', '"job_role_arn"', '"command"', '"environment"',
        '"resource_requirements"', '"cpu"', '"memory"', '"timeout"', '"value"', '"documents"',
        '"document_id"', '"checksum"', '"document_ids"', '"checkpoint_data"', "null", "true",
        "1e3", "2048.0", "\\u0000", "\\ud800", "\\u0085", '"' + SUM + '"',
    ],
    "body": [],
    "router": [],
    "config": [
        "listen", "data-dir", "data_dir", "region", "account-id", "log-level", "log-format",
        "threads", "synchronous", "connection-limit", "connection-timeout",
        "allow-insecure-listen", "executor", "api-endpoint", "job-path", "max-jobs",
        "cpu-budget", "memory-budget", "stop-grace", "job-log-max", "retention", "config",
        " = ", "[", "]", ";", "#", "127.0.0.1:", "[::1]:", "localhost:", "http://", "https://",
        "FULL", "NORMAL", "OFF", "none", "local", "true", "off", "\n", "\r\n", "access-log",
        "CCF_", "CCF_THREADS=", "CCF_LISTEN=", "CCF_DATA_DIR=", "CCF_ACCESS_LOG=", "CCF_CONFIG=",
        "store", "store-experimental", "sqlite", "postgresql://", "postgres://", "CCF_STORE=",
    ],
}
DICT["sigv4"] = [
    "Authorization: ", "AWS4-HMAC-SHA256 ", "Credential=", "SignedHeaders=", "Signature=",
    "/aws4_request", "/us-east-1/execute-api", "20150830", AMZ_DATE, "X-Amz-Date: ",
    "X-Amz-Security-Token: ", "X-Amz-Content-Sha256: ", "UNSIGNED-PAYLOAD", "Host: ",
    "host;x-amz-date", "Date: Sun, 30 Aug 2015 12:36:00 GMT", "AKIDEXAMPLE00000",
    "ASIATOKEN0000000", "AKIASCOPED000000", "%2F", "%20", "/./", "/../", "//",
]
DICT["credfile"] = [
    "[AKIDEXAMPLE00000]", "secret_access_key", "account_id", "session_token", "connector_id",
    "expires_at", "job_id", "region", " = ", "123456789012", "cc-0123456789ab",
    "ccj-0123456789ab", "2026-12-31T23:59:59Z", "+01:00", ".5", "\n", ";", "#",
]
DICT["body"] = [w for w in DICT["request"] if w.startswith('"') or w in ("null", "true", "1e3", "2048.0", "\\u0000", "\\ud800", "\\u0085")]
DICT["router"] = [w for w in DICT["request"] if not w.startswith('"')]


# fuzz_schedule: zone, '\n', expression, '\n', 8 bytes of "after"; and
# whole schedule / retry_strategy objects.
SCHEDULES = [
    ("UTC", "cron(0 10 * * ? *)"), ("Europe/Paris", "cron(30 2 * * ? *)"),
    ("America/New_York", "cron(30 1 ? * SUN#1 *)"), ("Australia/Lord_Howe", "cron(15 2 * * ? *)"),
    ("UTC", "cron(0/15 8-18 ? * MON-FRI 2026-2030/2)"), ("UTC", "cron(0 0 LW * ? *)"),
    ("UTC", "cron(0 0 15W JAN,JUL ? *)"), ("UTC", "cron(0 0 ? * 6L *)"),
    ("UTC", "cron(0 0 30 2 ? *)"), ("Asia/Kolkata", "rate(5 minutes)"), ("UTC", "rate(1 day)"),
    ("Europe/Paris", "at(2026-03-29T02:30:00)"), ("../etc/passwd", "cron(* * * * ? *)"),
]
SCHEDULE_OBJECTS = [
    {"expression": "cron(0 3 ? * MON-FRI *)", "timezone": "Europe/Paris", "state": "ENABLED",
     "environment": [{"name": "SYNC_MODE", "value": "FULL"}], "catch_up": True},
    {"attempts": 3, "evaluate_on_exit": [{"on_exit_code": "75", "action": "RETRY"},
                                         {"on_reason": "timed out*", "action": "RETRY"},
                                         {"on_exit_code": "*", "action": "EXIT"}],
     "backoff": {"initial_seconds": 10, "multiplier": 1.5, "max_seconds": 3600}},
]
DICT["schedule"] = ["cron(", "rate(", "at(", ")", " * ", " ? ", "L", "LW", "W", "#", "/", "-",
                    ",", "MON", "FRI", "JAN", "DEC", "minutes", "hour", "days", "Europe/Paris",
                    "T02:30:00", "\"expression\"", "\"timezone\"", "\"attempts\"",
                    "\"evaluate_on_exit\"", "\"on_exit_code\"", "\"on_reason\"", "\"backoff\""]


def schedule_seeds():
    t = (1774748000).to_bytes(8, "little")  # 2026-03-29, Paris' spring-forward day
    return ([f"{z}\n{e}\n".encode() + t for z, e in SCHEDULES] +
            [json.dumps(o).encode() for o in SCHEDULE_OBJECTS])


def write_seeds(target, items):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    for data in items:
        (d / ("seed-" + hashlib.sha1(data).hexdigest()[:12])).write_bytes(data)


def write_dict(target, words):
    d = HERE / "dict"
    d.mkdir(exist_ok=True)
    lines = ['"' + "".join(c if 0x20 <= ord(c) < 0x7f and c not in '"\\' else "\\x%02x" % ord(c)
                           for c in w) + '"' for w in words if all(ord(c) < 0x80 for c in w)]
    (d / f"{target}.dict").write_text("\n".join(lines) + "\n")


def main():
    bodies = [json.dumps(b).encode() for b in BODIES.values()] + RAW_BODIES
    write_seeds("body", bodies)
    req = []
    for i, (m, t, ct, body) in enumerate(REQUESTS):
        flags = (2 if ct is None else 0) | (1 if i % 7 == 3 else 0)
        req.append(bytes([flags]) + f"{m}\n{t}\n{ct or ''}\n".encode() + body)
    write_seeds("request", req)
    write_seeds("router", [bytes([i % 5 == 2]) + f"{m}\n{t}".encode() for i, (m, t, _, _) in enumerate(REQUESTS)])
    write_seeds("token", [bytes([mode]) + data for mode, data in TOKENS])
    write_seeds("config", [c.encode() for c in CONFIGS])
    write_seeds("sigv4", sigv4_seeds())
    write_seeds("credfile", CREDFILES)
    write_seeds("schedule", schedule_seeds())
    for t, words in DICT.items():
        write_dict(t, words)


if __name__ == "__main__":
    main()
