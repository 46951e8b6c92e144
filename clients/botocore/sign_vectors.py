#!/usr/bin/python3
"""Prints requests exactly as Debian's botocore builds and signs them with the
ccf model, at a fixed instant and with fixed credentials, as raw HTTP
requests in C string literals for tests/test_auth_vectors.c (the botocore vectors
there were made with this; the invocation ids are random, and unsigned).

    /usr/bin/python3 clients/botocore/sign_vectors.py
"""
import datetime
import os
import sys
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_model  # noqa: E402  (sets AWS_DATA_PATH)
import botocore.auth  # noqa: E402

WHEN = datetime.datetime(2026, 11, 25, 12, 0, 0)
KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# Temporary credentials: another key, issued with a session token.
TOKEN_KEY, TOKEN = "ASIAIOSFODNN7EXAMPLE", "FwoGZXIvYXdzEBEaDCcfTOKENEXAMPLE0123456789"
CID = check_model.CID


class FixedClock(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return WHEN


botocore.auth.datetime.datetime = FixedClock
PYTHON_SIGNER = botocore.auth.SigV4Auth
try:  # botocore signs with awscrt when python3-awscrt is installed (awscli pulls it in)
    import botocore.crt.auth
    botocore.crt.auth.datetime.datetime = FixedClock
    CRT_SIGNER = botocore.crt.auth.CrtSigV4Auth
except ImportError:
    CRT_SIGNER = None

CASES = [
    ("list, query already sorted", {}, "list_custom_connectors",
     {"max_results": 2, "next_token": "abc"}),
    ("list, query unsorted on the wire, escapes", {}, "list_custom_connectors",
     {"next_token": "a b/c~", "max_results": 2}),
    ("create, JSON body", {}, "create_custom_connector",
     {"name": "my-conn", "description": "first one",
      "container_properties": {"command": ["/bin/echo", "hi"]}}),
    ("get, escape in the path (signed encoded twice)", {"validate": False},
     "get_custom_connector", {"connector_id": "cc-0123 456789ab"}),
    ("put checkpoint, session token", {"token": TOKEN}, "put_custom_connector_checkpoint",
     {"connector_id": CID, "checkpoint_data": "{\"cursor\": 42}"}),
    ("delete documents: DELETE with a body", {}, "batch_delete_custom_connector_documents",
     {"connector_id": CID, "document_ids": ["doc/1", "döc 2"]}),
]


def c_str(s):
    if isinstance(s, bytes):
        s = s.decode("utf-8")
    out = ""
    for ch in s:
        if ch in "\\\"":
            out += "\\" + ch
        elif ch == "\n":
            out += "\\n"
        elif 0x20 <= ord(ch) < 0x7f:
            out += ch
        else:
            out += "".join("\\x%02x\"\"" % b for b in ch.encode("utf-8"))
    return '"' + out + '"'


def signed(opts, op, kwargs, signer):
    botocore.auth.AUTH_TYPE_MAPS["v4"] = signer
    c = check_model.client(key=TOKEN_KEY if "token" in opts else KEY, secret=SECRET,
                           token=opts.get("token"), validate=opts.get("validate", True))
    return check_model.request_of(c, op, **kwargs)


def main():
    for title, opts, op, kwargs in CASES:
        method, url, headers, body = signed(opts, op, kwargs, PYTHON_SIGNER)
        if CRT_SIGNER:  # both signers must agree, or the vector proves half
            crt = signed(opts, op, kwargs, CRT_SIGNER)[2]["Authorization"]
            assert crt == headers["Authorization"], (title, crt, headers["Authorization"])
        u = urlsplit(url)
        target = u.path + ("?" + u.query if u.query else "")
        headers = dict(headers, Host=u.netloc)
        headers.pop("Content-Length", None)
        print("    {%s," % c_str(op + ": " + title))
        print("     %s" % c_str("%s %s HTTP/1.1\n" % (method, target)))
        for k, v in headers.items():
            print("     %s" % c_str("%s: %s\n" % (k, v)))
        print("     \"\\n\"%s}," % ((" " + c_str(body)) if body else ""))


if __name__ == "__main__":
    main()
