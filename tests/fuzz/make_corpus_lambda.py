#!/usr/bin/python3
"""Seeds for the Lambda event fuzzers (fuzz_lambda_*.c), built from the
event shapes AWS's documentation shows: the API Gateway REST proxy event
(payload 1.0), a DynamoDB Streams record of NEW_AND_OLD_IMAGES, and the
"Batch Job State Change" EventBridge event, ccf's own events from
EventBridge Scheduler; plus broken variants. The
service tests build the same shapes (tests/service/lambdastub.py,
test_lambda.py). Run it again after changing them: it rewrites
corpus/lambda_*/seed-*."""

import copy
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "service"))

from lambdastub import api_event  # noqa: E402
from test_lambda import batch_event  # noqa: E402


def api_seeds():
    c = "/api/v1/custom-connectors"
    evs = [
        api_event("GET", c + "?max_results=2"),
        api_event("GET", c + "/@A"),
        api_event("POST", c, b'{"name":"n-1","container_properties":{"image_uri":"i"}}',
                  [("Content-Type", "application/json")]),
        api_event("POST", c + "/@A/jobs", b"{}", [("content-type", "application/json")]),
        api_event("POST", c + "/@C/jobs/@J/stop"),
        api_event("PUT", c + "/@C/checkpoint", b'{"checkpoint_data":"x"}',
                  [("Content-Type", "application/json"), ("If-Match", '"1"'),
                   ("If-Match", '"2"')]),
        api_event("POST", c + "/@C/documents", b'{"documents":[]}', base64_body=True),
        api_event("GET", c + "/@C/documents?max_results=1&max_results=2"),
        api_event("DELETE", c + "/@C/jobs/@E"),
    ]
    no_identity = copy.deepcopy(evs[0])
    no_identity["requestContext"]["identity"] = None
    evs.append(no_identity)
    single = copy.deepcopy(evs[2])
    single["multiValueHeaders"] = None
    evs.append(single)
    return [json.dumps(e).encode() for e in evs] + [
        b'{"httpMethod":"GET","path":"/x","requestContext":{"accountId":"123456789012"}}',
        b'{"httpMethod":"GET","path":"/x","body":"@@","isBase64Encoded":true,'
        b'"requestContext":{"accountId":"123456789012"}}',
    ]


def image(status, jid="ccj-0123456789ab"):
    return {"pk": {"S": "us-east-1#123456789012#cc-0123456789ab"}, "job_id": {"S": jid},
            "region": {"S": "us-east-1"}, "account_id": {"S": "123456789012"},
            "connector_id": {"S": "cc-0123456789ab"}, "status": {"S": status},
            "updated_at": {"N": "1764000000000000"}, "version": {"N": "2"}}


def record(name, seq, new=None, old=None):
    ddb = {"ApproximateCreationDateTime": 1764000000, "SequenceNumber": seq, "SizeBytes": 26,
           "StreamViewType": "NEW_AND_OLD_IMAGES",
           "Keys": {"pk": {"S": "us-east-1#123456789012#cc-0123456789ab"},
                    "job_id": {"S": "ccj-0123456789ab"}}}
    if new:
        ddb["NewImage"] = new
    if old:
        ddb["OldImage"] = old
    return {"eventID": "c4ca4238a0b923820dcc509a6f75849b", "eventName": name,
            "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "dynamodb": ddb,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/ccf-jobs/stream/"
                              "2015-06-27T00:48:05.899"}


def connector_image(properties='{"image_uri":"x"}', pk="us-east-1#123456789012"):
    """A connectors-table item (ConnectorsStreamMapping's records)."""
    return {"pk": {"S": pk}, "id": {"S": "cc-0123456789ab"}, "name": {"S": "n"},
            "properties": {"S": properties}, "status": {"N": "0"}, "version": {"N": "3"}}


def stream_seeds():
    batches = [
        [record("INSERT", "888", connector_image())],
        [record("MODIFY", "889", connector_image('{"image_uri":"y"}'), connector_image()),
         record("MODIFY", "890", connector_image(), connector_image()),
         record("MODIFY", "891", connector_image())],
        [record("INSERT", "892", connector_image(pk="us-east-1"))],
        [record("INSERT", "111", image("STARTED"))],
        [record("MODIFY", "222", image("STOPPING"), image("STARTED")),
         record("MODIFY", "333", image("STOPPED"), image("STOPPING")),
         record("REMOVE", "444", None, image("STOPPED"))],
        [record("MODIFY", "555", image("RUNNING"), image("RUNNING"))],
        [record("MODIFY", "666", image("RUNNING"))],
        [record("INSERT", "777", image("DONE"))],
    ]
    return [json.dumps({"Records": b}).encode() for b in batches]


def batch_seeds():
    cid, jid = "cc-0123456789ab", "ccj-0123456789ab"
    evs = [batch_event(cid, jid, "RUNNABLE"), batch_event(cid, jid, "RUNNING"),
           batch_event(cid, jid, "SUCCEEDED", exit_code=0),
           batch_event(cid, jid, "FAILED", exit_code=3, reason="Essential container exited"),
           batch_event(cid, jid, "FAILED", reason="Job attempt duration exceeded timeout"),
           batch_event(cid, jid, "FAILED", exit_code=300)]
    bad = copy.deepcopy(evs[1])
    bad["detail"]["container"]["environment"] = []
    evs.append(bad)
    return [json.dumps(e).encode() for e in evs]


def ccf_seeds():
    """ccf's own events (the EventBridge Scheduler schedules' input)."""
    ref = {"region": "us-east-1", "account_id": "123456789012", "connector_id": "cc-0123456789ab"}
    evs = [{"ccf_event": "tick"},
           {"ccf_event": "schedule.fire", **ref, "scheduled_time": "2026-12-07T10:00:00Z"},
           {"ccf_event": "schedule.fire", **ref, "scheduled_time": "2026-12-07T10:00:00.123Z"},
           {"ccf_event": "schedule.fire", **ref, "scheduled_time": "<aws.scheduler.scheduled-time>"},
           {"ccf_event": "job.next_attempt", **ref, "job_id": "ccj-0123456789ab"},
           {"ccf_event": "job.next_attempt", **ref},
           {"ccf_event": "reboot"}]
    return [json.dumps(e).encode() for e in evs]


def write_seeds(target, items):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    for data in items:
        (d / ("seed-" + hashlib.sha1(data).hexdigest()[:12])).write_bytes(data)


if __name__ == "__main__":
    write_seeds("lambda_api", api_seeds())
    write_seeds("lambda_stream", stream_seeds())
    write_seeds("lambda_batch", batch_seeds())
    write_seeds("lambda_ccf", ccf_seeds())
