#!/usr/bin/python3
"""Writes ccf's two published API descriptions from one source, so that they
never disagree: the botocore service model (clients/botocore/ccf/2026-11-25/
service-2.json and paginators-1.json) and the OpenAPI 3.0 document
(docs/openapi.json). The source is the botocore model below, written from
CONTRACT.md; the OpenAPI document is derived from it.

    python3 clients/gen_models.py          # rewrite the files
    python3 clients/gen_models.py --check  # exit 1 if a file is out of date

Change the contract, change SHAPES/OPERATIONS here, run it, commit all three.
"""
import copy
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API_VERSION = "2026-11-25"
MODEL_DIR = os.path.join(ROOT, "clients", "botocore", "ccf", API_VERSION)
SERVICE_PATH = os.path.join(MODEL_DIR, "service-2.json")
PAGINATORS_PATH = os.path.join(MODEL_DIR, "paginators-1.json")
OPENAPI_PATH = os.path.join(ROOT, "docs", "openapi.json")
# The author kit ships the same two files inside its package (clients/python),
# so that an installed kit needs no AWS_DATA_PATH and no checkout.
KIT_MODEL_DIR = os.path.join(ROOT, "clients", "python", "ccf_connector", "data", "ccf", API_VERSION)

BASE = "/api/v1/custom-connectors"
CONNECTOR_PATH = BASE + "/{connector_id}"
JOBS_PATH = CONNECTOR_PATH + "/jobs"
JOB_PATH = JOBS_PATH + "/{job_id}"

# ---- errors (CONTRACT.md, "Errors") ----
ERRORS = [
    ("BadRequestException", 400,
     "Malformed JSON, a validation failure, a bad query parameter or a malformed next_token."),
    ("MissingAuthenticationTokenException", 403, "The request has no Authorization header."),
    ("InvalidSignatureException", 403,
     "The signature is malformed, expired (X-Amz-Date more than 5 minutes from server time), "
     "scoped to another date, region or service, or does not match."),
    ("UnrecognizedClientException", 403,
     "The access key is unknown, expired or revoked, or its session token is missing or wrong."),
    ("AccessDeniedException", 403,
     "The access key is scoped to one connector (per-job credentials) and the request is "
     "outside that scope."),
    ("ResourceNotFoundException", 404,
     "Unknown connector, job, checkpoint or route; also a record of another tenant."),
    ("MethodNotAllowedException", 405, "A known path with a wrong method (see the Allow header)."),
    ("ConflictException", 409, "A state conflict, e.g. a start or a delete while IN_USE."),
    ("PayloadTooLargeException", 413, "The body is over 8 MiB."),
    ("UnsupportedMediaTypeException", 415, "A body with a Content-Type other than JSON."),
    ("ThrottlingException", 429, "The rate limit was exceeded; retry after Retry-After."),
    ("InternalServerErrorException", 500, "A bug or a storage failure; logged with the request id."),
    ("ServiceUnavailableException", 503, "Shutting down or storage unavailable; retry later."),
]
COMMON_ERRORS = [e[0] for e in ERRORS if e[1] in (400, 403, 404, 413, 415, 429, 500, 503)]


def error_shapes():
    shapes = {}
    for name, status, doc in ERRORS:
        s = {
            "type": "structure",
            "members": {
                "message": {"shape": "ErrorMessage"},
                "errorType": {"shape": "ErrorType"},
            },
            "error": {"httpStatusCode": status},
            "exception": True,
            "documentation": doc,
        }
        if status >= 500:
            s["fault"] = True
        else:
            s["error"]["senderFault"] = True
        if status in (429, 503):
            s["retryable"] = {"throttling": status == 429}
        shapes[name] = s
    return shapes


def errors_for(*extra):
    names = list(COMMON_ERRORS)
    for e in extra:
        names.insert(names.index("ThrottlingException"), e)
    return [{"shape": n} for n in names]


# ---- shapes (CONTRACT.md, the resource sections) ----
def string(mn=None, mx=None, pattern=None, doc=None, enum=None):
    s = {"type": "string"}
    if mn is not None:
        s["min"] = mn
    if mx is not None:
        s["max"] = mx
    if pattern:
        s["pattern"] = pattern
    if enum:
        s["enum"] = enum
    if doc:
        s["documentation"] = doc
    return s


def member(shape, doc=None, **kw):
    m = {"shape": shape}
    m.update(kw)
    if doc:
        m["documentation"] = doc
    return m


def structure(members, required=(), doc=None, ext=()):
    s = {"type": "structure", "members": members}
    if required:
        s["required"] = list(required)
    if doc:
        s["documentation"] = doc
    if ext:
        s["x-ccf-extension-members"] = list(ext)  # stripped from service-2.json
    return s


ARN_ROLE = r"^arn:aws:iam::[0-9]{12}:role/.+$"
SHAPES = {
    "ErrorMessage": string(1, 1024),
    "ErrorType": string(),
    "ConnectorId": string(15, 15, r"^cc-[0-9a-f]{12}$", "cc- and 12 lowercase hex digits."),
    "JobId": string(16, 16, r"^ccj-[0-9a-f]{12}$", "ccj- and 12 lowercase hex digits."),
    "ConnectorArn": string(doc="arn:aws:ccf:{region}:{account_id}:custom-connector/{connector_id}"),
    "ConnectorName": string(3, 128, r"^[a-zA-Z0-9-]+$"),
    "Description": string(3, 1000),
    "ImageUri": string(20, 2048, r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/.+$"),
    "RoleArn": string(20, 2048, ARN_ROLE),
    "Cpu": {"type": "double", "min": 1, "max": 16, "documentation": "vCPUs, 1 to 16 (default 1)."},
    "Memory": {"type": "integer", "min": 1024, "max": 122880,
               "documentation": "MiB, 1024 to 122880 (default 2048)."},
    "Timeout": {"type": "integer", "min": 1, "max": 604800,
                "documentation": "Seconds from RUNNING, 1 to 604800 (default 3600)."},
    "CommandArgument": string(1, 4096),
    "Command": {"type": "list", "member": {"shape": "CommandArgument"}, "min": 1, "max": 64,
                "documentation": "(ext) The program and arguments the local executor runs."},
    "EnvironmentName": string(1, 128, r"^[a-zA-Z][a-zA-Z0-9_]*$"),
    "EnvironmentValue": string(0, 4096),
    "EnvironmentVariable": structure({
        "name": member("EnvironmentName"),
        "value": member("EnvironmentValue"),
    }, required=["name", "value"]),
    "Environment": {"type": "list", "member": {"shape": "EnvironmentVariable"}, "min": 0, "max": 50},
    "ResourceRequirements": structure({
        "cpu": member("Cpu"),
        "memory": member("Memory"),
    }),
    "ContainerProperties": structure({
        "image_uri": member("ImageUri"),
        "execution_role_arn": member("RoleArn"),
        "job_role_arn": member("RoleArn"),
        "resource_requirements": member("ResourceRequirements"),
        "timeout": member("Timeout"),
        "command": member("Command"),
        "environment": member("Environment", "(ext) Default variables for every job of this "
                                             "connector; a job's own override them by name."),
    }, doc="image_uri and both role ARNs are required unless command is given.",
        ext=["command", "environment"]),
    "ConnectorStatus": string(enum=["AVAILABLE", "IN_USE"]),
    # A string, not botocore's "timestamp": the original's generated model
    # types these as strings, and its builder kit validates them as str;
    # a datetime would break every connector written against it.
    "Timestamp": string(doc="RFC 3339, UTC, microseconds: 2026-11-24T23:54:14.123456Z"),
    "CustomConnector": structure({
        "connector_id": member("ConnectorId"),
        "arn": member("ConnectorArn"),
        "name": member("ConnectorName"),
        "description": member("Description"),
        "status": member("ConnectorStatus"),
        "active_job_id": member("JobId", "(ext) The active job while IN_USE."),
        "created_at": member("Timestamp"),
        "updated_at": member("Timestamp"),
        "container_properties": member("ContainerProperties",
                                       "Only in GetCustomConnector's answer."),
    }, required=["connector_id", "arn", "name", "status", "created_at", "updated_at"],
        ext=["active_job_id"]),
    "CustomConnectorList": {"type": "list", "member": {"shape": "CustomConnector"}},
    "JobStatus": string(enum=["STARTED", "RUNNING", "STOPPING", "SUCCEEDED", "FAILED", "STOPPED"]),
    "ExitCode": {"type": "integer"},
    "FailureReason": string(0, 1024),
    "CustomConnectorJob": structure({
        "job_id": member("JobId"),
        "connector_id": member("ConnectorId"),
        "status": member("JobStatus"),
        "created_at": member("Timestamp"),
        "updated_at": member("Timestamp"),
        "started_at": member("Timestamp"),
        "completed_at": member("Timestamp"),
        "exit_code": member("ExitCode"),
        "failure_reason": member("FailureReason"),
    }, required=["job_id", "connector_id", "status", "created_at", "updated_at"]),
    "CustomConnectorJobList": {"type": "list", "member": {"shape": "CustomConnectorJob"}},
    "DocumentId": string(1, 512, doc="Any Unicode except control characters."),
    "Checksum": string(32, 512, r"^[\x21-\x7e]+$"),
    "Document": structure({
        "document_id": member("DocumentId"),
        "checksum": member("Checksum"),
    }, required=["document_id", "checksum"]),
    "DocumentBatch": {"type": "list", "member": {"shape": "Document"}, "min": 1, "max": 1000},
    "DocumentIdBatch": {"type": "list", "member": {"shape": "DocumentId"}, "min": 1, "max": 1000},
    "DocumentSummary": structure({
        "document_id": member("DocumentId"),
        "checksum": member("Checksum"),
        "created_at": member("Timestamp"),
        "updated_at": member("Timestamp"),
    }, required=["document_id", "checksum", "created_at", "updated_at"]),
    "DocumentSummaryList": {"type": "list", "member": {"shape": "DocumentSummary"}},
    "CheckpointData": string(1, 1048576, doc="1 to 1048576 bytes of UTF-8, stored verbatim."),
    "Checkpoint": structure({
        "connector_id": member("ConnectorId"),
        "checkpoint_data": member("CheckpointData"),
        "created_at": member("Timestamp"),
        "updated_at": member("Timestamp"),
    }, required=["connector_id", "checkpoint_data", "created_at", "updated_at"]),
    "ConnectorMaxResults": {"type": "integer", "min": 1, "max": 100,
                            "documentation": "1 to 100, default 50."},
    "DocumentMaxResults": {"type": "integer", "min": 1, "max": 1000,
                           "documentation": "(ext) 1 to 1000, default 50."},
    "NextToken": string(1, 2048, doc="Opaque; only a token the server issued for this list."),
    "LogOffset": {"type": "long", "min": -999999999999999, "max": 999999999999999,
                  "documentation": "Byte offset; negative counts from the end (a tail)."},
    "LogLimit": {"type": "integer", "min": 1, "max": 1048576,
                 "documentation": "At most this many bytes; default and maximum 1 MiB."},
    "LogSize": {"type": "long"},
    "LogBytes": {"type": "blob", "streaming": True,
                 "documentation": "The job's combined stdout and stderr (read() it: a process "
                                  "may write bytes that are not UTF-8)."},
}

NO_TOKEN_DOC = "Present only when more items exist."


def path_id(shape, name):
    return member(shape, location="uri", locationName=name)


def query(shape, name):
    return member(shape, location="querystring", locationName=name)


# name -> (method, uri, status, input members, required, output members, extra errors, doc, ext)
OPERATIONS = [
    ("CreateCustomConnector", "POST", BASE, 201,
     {"name": member("ConnectorName"), "description": member("Description"),
      "container_properties": member("ContainerProperties")},
     ["name", "container_properties"],
     {"connector": member("CustomConnector")}, [], "Creates a connector (status AVAILABLE).", False),
    ("GetCustomConnector", "GET", CONNECTOR_PATH, 200,
     {"connector_id": path_id("ConnectorId", "connector_id")}, ["connector_id"],
     {"connector": member("CustomConnector")}, [],
     "Returns a connector with its container_properties.", False),
    ("UpdateCustomConnector", "PUT", CONNECTOR_PATH, 200,
     {"connector_id": path_id("ConnectorId", "connector_id"), "name": member("ConnectorName"),
      "description": member("Description"),
      "container_properties": member("ContainerProperties")}, ["connector_id"],
     {"connector": member("CustomConnector")}, [],
     "A JSON merge patch (RFC 7396) over the connector; applies to the next job.", False),
    ("ListCustomConnectors", "GET", BASE, 200,
     {"max_results": query("ConnectorMaxResults", "max_results"),
      "next_token": query("NextToken", "next_token")}, [],
     {"connectors": member("CustomConnectorList"), "next_token": member("NextToken", NO_TOKEN_DOC)},
     [], "Lists the tenant's connectors, oldest first.", False),
    ("DeleteCustomConnector", "DELETE", CONNECTOR_PATH, 204,
     {"connector_id": path_id("ConnectorId", "connector_id")}, ["connector_id"], None,
     ["ConflictException"],
     "Deletes a connector with its documents, checkpoint and jobs; 409 while IN_USE.", False),
    ("StartCustomConnectorJob", "POST", JOBS_PATH, 201,
     {"connector_id": path_id("ConnectorId", "connector_id"),
      "environment": member("Environment")}, ["connector_id"],
     {"job": member("CustomConnectorJob")}, ["ConflictException"],
     "Starts a job (status STARTED); 409 while the connector is IN_USE.", False),
    ("ListCustomConnectorJobs", "GET", JOBS_PATH, 200,
     {"connector_id": path_id("ConnectorId", "connector_id"),
      "max_results": query("ConnectorMaxResults", "max_results"),
      "next_token": query("NextToken", "next_token"),
      "status": query("JobStatus", "status")}, ["connector_id"],
     {"jobs": member("CustomConnectorJobList"), "next_token": member("NextToken", NO_TOKEN_DOC)},
     [], "Lists a connector's jobs, newest first; status filters before paging.", False),
    ("StopCustomConnectorJob", "POST", JOB_PATH + "/stop", 202,
     {"connector_id": path_id("ConnectorId", "connector_id"),
      "job_id": path_id("JobId", "job_id")}, ["connector_id", "job_id"],
     {}, ["ConflictException"],
     "Asks a job to stop; 409 if it has ended, 202 again while STOPPING.", False),
    ("GetCustomConnectorJob", "GET", JOB_PATH, 200,
     {"connector_id": path_id("ConnectorId", "connector_id"),
      "job_id": path_id("JobId", "job_id")}, ["connector_id", "job_id"],
     {"job": member("CustomConnectorJob")}, [], "(ext) Returns one job.", True),
    ("GetCustomConnectorJobLogs", "GET", JOB_PATH + "/logs", 200,
     {"connector_id": path_id("ConnectorId", "connector_id"),
      "job_id": path_id("JobId", "job_id"),
      "offset": query("LogOffset", "offset"), "limit": query("LogLimit", "limit")},
     ["connector_id", "job_id"],
     {"logs": member("LogBytes"),
      "log_size": member("LogSize", "Total bytes written so far.",
                         location="header", locationName="x-ccf-log-size"),
      "job_status": member("JobStatus", location="header", locationName="x-ccf-job-status"),
      "log_truncated": member("LogSize", "Bytes the per-job cap dropped, when any.",
                              location="header", locationName="x-ccf-log-truncated")},
     [], "(ext) The job's stdout and stderr as text/plain, from offset, at most limit bytes. "
         "Follow a running job by asking again from offset + bytes received until the status "
         "is terminal and the offset equals x-ccf-log-size.", True),
    ("BatchPutCustomConnectorDocuments", "POST", CONNECTOR_PATH + "/documents", 202,
     {"connector_id": path_id("ConnectorId", "connector_id"), "documents": member("DocumentBatch")},
     ["connector_id", "documents"], {}, [],
     "Upserts 1 to 1000 documents, all or nothing.", False),
    ("BatchDeleteCustomConnectorDocuments", "DELETE", CONNECTOR_PATH + "/documents", 202,
     {"connector_id": path_id("ConnectorId", "connector_id"),
      "document_ids": member("DocumentIdBatch")}, ["connector_id", "document_ids"], {}, [],
     "Deletes 1 to 1000 documents; unknown ids are not an error.", False),
    ("ListCustomConnectorDocuments", "GET", CONNECTOR_PATH + "/documents", 200,
     {"connector_id": path_id("ConnectorId", "connector_id"),
      "max_results": query("DocumentMaxResults", "max_results"),
      "next_token": query("NextToken", "next_token")}, ["connector_id"],
     {"documents": member("DocumentSummaryList"), "next_token": member("NextToken", NO_TOKEN_DOC)},
     [], "Lists a connector's documents by document_id (bytewise).", False),
    ("PutCustomConnectorCheckpoint", "PUT", CONNECTOR_PATH + "/checkpoint", 202,
     {"connector_id": path_id("ConnectorId", "connector_id"),
      "checkpoint_data": member("CheckpointData")}, ["connector_id", "checkpoint_data"], {}, [],
     "Stores the connector's checkpoint; created_at is kept across puts.", False),
    ("GetCustomConnectorCheckpoint", "GET", CONNECTOR_PATH + "/checkpoint", 200,
     {"connector_id": path_id("ConnectorId", "connector_id")}, ["connector_id"],
     {"checkpoint": member("Checkpoint")}, [], "Returns the connector's checkpoint.", False),
    ("DeleteCustomConnectorCheckpoint", "DELETE", CONNECTOR_PATH + "/checkpoint", 204,
     {"connector_id": path_id("ConnectorId", "connector_id")}, ["connector_id"], None, [],
     "Deletes the connector's checkpoint; 404 if there is none.", False),
]


# ---- Retries (issue 12; CONTRACT-OPS.md "Retries"): one block, applied to
# the tables above so that other additions merge beside it. ----
SHAPES.update({
    "RetryAttempts": {"type": "integer", "min": 1, "max": 10,
                      "documentation": "Attempts in all, 1 to 10 (default 1: no retry)."},
    "RetryPattern": string(1, 512),
    "RetryAction": string(enum=["RETRY", "EXIT"]),
    "EvaluateOnExit": structure({
        "on_exit_code": member("RetryPattern", "Digits, optionally ending in *."),
        "on_reason": member("RetryPattern", "A glob (* and ?) on the failure reason."),
        "action": member("RetryAction"),
    }, required=["action"], doc="Names at least one of on_exit_code and on_reason."),
    "EvaluateOnExitList": {"type": "list", "member": {"shape": "EvaluateOnExit"}, "min": 0,
                           "max": 5, "documentation": "The first rule that matches decides; "
                                                      "none matching retries."},
    "BackoffSeconds": {"type": "integer", "min": 0, "max": 86400},
    "BackoffMultiplier": {"type": "double", "min": 1, "max": 10},
    "Backoff": structure({
        "initial_seconds": member("BackoffSeconds", "0 to 86400 (default 10)."),
        "multiplier": member("BackoffMultiplier", "1 to 10 (default 2)."),
        "max_seconds": member("BackoffSeconds", "1 to 86400 (default 3600)."),
    }, doc="The wait before attempt n+1 is min(max, initial x multiplier^(n-1)), +-10 % jitter."),
    "RetryStrategy": structure({
        "attempts": member("RetryAttempts"),
        "evaluate_on_exit": member("EvaluateOnExitList"),
        "backoff": member("Backoff"),
    }, doc="(ext) AWS Batch's retry strategy, plus backoff; omitted when never set."),
    "AttemptNumber": {"type": "integer", "min": 1, "max": 10},
    "JobAttempt": structure({
        "attempt": member("AttemptNumber"),
        "started_at": member("Timestamp"),
        "completed_at": member("Timestamp"),
        "exit_code": member("ExitCode"),
        "reason": member("FailureReason"),
    }, required=["attempt", "started_at"]),
    "JobAttemptList": {"type": "list", "member": {"shape": "JobAttempt"},
                       "documentation": "Oldest first."},
})
SHAPES["ContainerProperties"]["members"]["retry_strategy"] = member("RetryStrategy")
SHAPES["ContainerProperties"]["x-ccf-extension-members"].append("retry_strategy")
SHAPES["CustomConnectorJob"]["members"].update({
    "attempt": member("AttemptNumber", "(ext) The latest attempt started; once the job has run."),
    "attempts": member("JobAttemptList", "(ext) Every attempt, once the job has run."),
    "next_attempt_at": member("Timestamp", "(ext) Only while the job waits between attempts."),
})
# ---- issue 14 (podman2): why a STARTED job waits ----
SHAPES["CustomConnectorJob"]["members"]["status_reason"] = member(
    "FailureReason", "(ext) Only while the job waits in STARTED for capacity: why it waits.")
for _op in OPERATIONS:
    if _op[0] == "GetCustomConnectorJobLogs":
        _op[4]["attempt"] = query("AttemptNumber", "attempt")
        _op[6]["attempt"] = member("AttemptNumber", "The job's latest attempt, once it has run.",
                                   location="header", locationName="x-ccf-job-attempt")
# ---- issue 12: schedules, pause and resume (CONTRACT-OPS.md "Schedules",
# "Pause and resume"); kept in one block so that merges stay easy ----
SHAPES.update({
    "ScheduleExpression": string(1, 256, doc="EventBridge Scheduler syntax: rate(N unit), "
                                             "cron(min hour dom month dow year) or "
                                             "at(yyyy-mm-ddThh:mm:ss)."),
    "ScheduleTimezone": string(1, 50, doc="An IANA time zone name (default UTC)."),
    "ScheduleState": string(enum=["ENABLED", "DISABLED"]),
    "Boolean": {"type": "boolean"},
    "Schedule": structure({
        "expression": member("ScheduleExpression"),
        "timezone": member("ScheduleTimezone"),
        "state": member("ScheduleState", "Default ENABLED."),
        "environment": member("Environment", "Variables of the jobs the schedule starts."),
        "catch_up": member("Boolean", "Default true: one job at start-up for runs missed while "
                                      "the service was down."),
    }, required=["expression"], doc="(ext) When the connector runs by itself. On update, a "
                                    "merge patch over the stored schedule; null removes it."),
    "JobTrigger": string(enum=["API", "SCHEDULE"]),
})
SHAPES["CustomConnector"]["members"].update({
    "schedule": member("Schedule", "(ext) As stored, defaults filled in."),
    "next_run_at": member("Timestamp", "(ext) While the schedule is ENABLED, the connector not "
                                       "paused and a next time exists."),
    "paused": member("Boolean", "(ext) Present (true) only while paused."),
})
SHAPES["CustomConnector"]["x-ccf-extension-members"] += ["schedule", "next_run_at", "paused"]
SHAPES["CustomConnectorJob"]["members"]["trigger"] = member(
    "JobTrigger", "(ext) What started the job; absent on jobs from before triggers.")
SHAPES["CustomConnectorJob"].setdefault("x-ccf-extension-members", []).append("trigger")
for _op in OPERATIONS:
    if _op[0] in ("CreateCustomConnector", "UpdateCustomConnector"):
        _op[4]["schedule"] = member("Schedule")
OPERATIONS += [
    ("PauseCustomConnector", "POST", CONNECTOR_PATH + "/pause", 200,
     {"connector_id": path_id("ConnectorId", "connector_id"),
      "stop_active_job": member("Boolean", "Also stop the active job, as "
                                           "StopCustomConnectorJob does.")}, ["connector_id"],
     {"connector": member("CustomConnector")}, [],
     "(ext) Pauses the connector: its schedule does not run (due runs are dropped) and "
     "StartCustomConnectorJob answers 409. Idempotent.", True),
    ("ResumeCustomConnector", "POST", CONNECTOR_PATH + "/resume", 200,
     {"connector_id": path_id("ConnectorId", "connector_id")}, ["connector_id"],
     {"connector": member("CustomConnector")}, [],
     "(ext) Resumes a paused connector; runs missed while paused are not caught up. "
     "Idempotent.", True),
]
# ---- end of issue 12 schedules ----

PAGINATED = {
    "ListCustomConnectors": "connectors",
    "ListCustomConnectorJobs": "jobs",
    "ListCustomConnectorDocuments": "documents",
}


# ---- Issue 12, per-job document statistics and deletion detection
# (CONTRACT-OPS.md): the job's stats, and not_seen_by_job on the listing.
SHAPES["DocumentCount"] = {"type": "long", "min": 0}
SHAPES["JobStats"] = structure({
    "documents_added": member("DocumentCount"),
    "documents_updated": member("DocumentCount"),
    "documents_unchanged": member("DocumentCount", "Put with the checksum already stored."),
    "documents_deleted": member("DocumentCount", "Deleted ids that existed."),
    "checkpoint_puts": member("DocumentCount"),
}, required=["documents_added", "documents_updated", "documents_unchanged", "documents_deleted",
             "checkpoint_puts"],
    doc="(ext) What was done with the job's own credentials while it was active, counted in "
        "the transaction of each write: operations, not net effects.")
SHAPES["CustomConnectorJob"]["members"]["stats"] = member(
    "JobStats", "(ext) Present once the job has reached RUNNING.")
SHAPES["CustomConnectorJob"].setdefault("x-ccf-extension-members", []).append("stats")
OPERATIONS = [
    op[:4] + (dict(op[4], not_seen_by_job=query("JobId", "not_seen_by_job")),) + op[5:8] +
    (op[8] + " (ext) not_seen_by_job: only the documents whose latest put was not made with "
     "that job's own credentials (404 if it is not this connector's job); the page token is "
     "bound to it.",) + op[9:]
    if op[0] == "ListCustomConnectorDocuments" else op
    for op in OPERATIONS
]


# ---- issue 12 (ckpt): checkpoint versions, conditional puts, client tokens ----
# (CONTRACT-OPS.md, "Checkpoint versions and conditional writes" and
# "Idempotent creates and starts"), applied to the tables above.
ERRORS.append(("PreconditionFailedException", 412,
               "A conditional write whose condition does not hold (If-Match, If-None-Match, "
               "expected_version); nothing was written."))
SHAPES.update({
    "CheckpointVersion": {"type": "long", "min": 1,
                          "documentation": "(ext) 1 on the first put, +1 on each put; 1 again "
                                           "after a delete."},
    "ExpectedVersion": {"type": "long", "min": 0,
                        "documentation": "(ext) Write only if the current version is this; 0: "
                                         "only if there is no checkpoint. Not with If-Match."},
    "ETag": string(doc='(ext) The version as an HTTP entity tag: "N".'),
    "IfMatch": string(doc='(ext) "N" (write only if the current version is N) or * (only if '
                          'there is a checkpoint).'),
    "IfNoneMatch": string(doc="(ext) * : write only if there is no checkpoint."),
    "CheckpointSize": {"type": "long", "documentation": "Bytes of checkpoint_data."},
    "CheckpointVersionSummary": structure({
        "version": member("CheckpointVersion"),
        "size": member("CheckpointSize"),
        "created_at": member("Timestamp", "When this version was written."),
    }, required=["version", "size", "created_at"]),
    "CheckpointVersionList": {"type": "list", "member": {"shape": "CheckpointVersionSummary"}},
    "ClientToken": string(1, 64, r"^[A-Za-z0-9_-]+$",
                          "(ext) Within 24 h, the same token and body return the first "
                          "answer instead of making another; another body is a 409."),
})
SHAPES["Checkpoint"]["members"]["version"] = member("CheckpointVersion")
SHAPES["Checkpoint"]["required"].append("version")
SHAPES["Checkpoint"].setdefault("x-ccf-extension-members", []).append("version")


def _ckpt_op(name):
    return next(i for i, o in enumerate(OPERATIONS) if o[0] == name)


def _ckpt_patch(name, inp=None, out=None, errors=(), doc=None):
    i = _ckpt_op(name)
    o = list(OPERATIONS[i])
    o[4] = dict(o[4], **(inp or {}))
    if out is not None:
        o[6] = dict(o[6], **out)
    o[7] = list(o[7]) + [e for e in errors if e not in o[7]]
    if doc:
        o[8] = doc
    OPERATIONS[i] = tuple(o)


_CLIENT_TOKEN = member("ClientToken", idempotencyToken=True)
_ckpt_patch("CreateCustomConnector", {"client_token": _CLIENT_TOKEN}, errors=["ConflictException"],
            doc="Creates a connector (status AVAILABLE). With client_token, a retry returns "
                "the first connector (409 if deleted since, or for another body).")
_ckpt_patch("StartCustomConnectorJob", {"client_token": _CLIENT_TOKEN},
            doc="Starts a job (status STARTED); 409 while the connector is IN_USE or paused. "
                "With client_token, a retry returns the first job, checked before the "
                "connector's state (even while paused or busy).")
_ckpt_patch("PutCustomConnectorCheckpoint",
            {"if_match": member("IfMatch", location="header", locationName="If-Match"),
             "if_none_match": member("IfNoneMatch", location="header",
                                     locationName="If-None-Match"),
             "expected_version": member("ExpectedVersion")},
            {"version": member("CheckpointVersion"),
             "etag": member("ETag", location="header", locationName="ETag")},
            ["PreconditionFailedException"],
            "Stores the connector's checkpoint as a new version; created_at is kept across "
            "puts. If-Match, If-None-Match: * or expected_version make it conditional (412).")
_ckpt_patch("GetCustomConnectorCheckpoint",
            {"version": query("CheckpointVersion", "version")},
            {"etag": member("ETag", location="header", locationName="ETag")},
            doc="Returns the connector's checkpoint, or with version=N a kept version "
                "(404 once it is no longer kept).")
OPERATIONS.append((
    "ListCustomConnectorCheckpointVersions", "GET", CONNECTOR_PATH + "/checkpoint/versions", 200,
    {"connector_id": path_id("ConnectorId", "connector_id"),
     "max_results": query("ConnectorMaxResults", "max_results"),
     "next_token": query("NextToken", "next_token")}, ["connector_id"],
    {"versions": member("CheckpointVersionList"), "next_token": member("NextToken", NO_TOKEN_DOC)},
    [], "(ext) The kept versions of the checkpoint (checkpoint-history, the current one "
        "included), newest first; 404 without a checkpoint.", True))
PAGINATED["ListCustomConnectorCheckpointVersions"] = "versions"


# ---- issue 13 (events): the tenant's event stream (CONTRACT-OPS.md, "Events").
ERRORS.append(("ExpiredCursorException", 400,
               "(ext) An events cursor whose events are no longer kept (retention); start "
               "again without after."))
EVENT_TYPES = ["connector.created", "connector.updated", "connector.deleted", "connector.paused",
               "connector.resumed", "job.started", "job.running", "job.retrying", "job.stopping",
               "job.succeeded", "job.failed", "job.stopped", "schedule.fired", "schedule.skipped",
               "checkpoint.updated"]
SHAPES.update({
    "EventId": string(doc="(ext) Unique per store; the stream's order."),
    "EventType": string(enum=EVENT_TYPES),
    "EventTypes": string(doc="(ext) Comma-separated event types; an unknown one is a 400."),
    "EventDetail": {"type": "structure", "members": {}, "document": True,
                    "documentation": "(ext) The state after the change: the connector summary "
                                     "(connector.*), the job (job.*), {due_at, job_id?, "
                                     "reason?} (schedule.*), {version} (checkpoint.updated)."},
    "EventCursor": string(doc="(ext) A position in the tenant's stream, usable with any filter."),
    "EventsMaxResults": {"type": "integer", "min": 1, "max": 1000},
    "WaitSeconds": {"type": "integer", "min": 0, "max": 20},
    "Event": structure({
        "event_id": member("EventId"),
        "time": member("Timestamp"),
        "type": member("EventType"),
        "connector_id": member("ConnectorId"),
        "job_id": member("JobId", "Present for job.* and schedule.fired."),
        "detail": member("EventDetail"),
    }, required=["event_id", "time", "type", "connector_id", "detail"]),
    "EventList": {"type": "list", "member": {"shape": "Event"}},
})
OPERATIONS.append((
    "ListEvents", "GET", "/api/v1/events", 200,
    {"after": query("EventCursor", "after"),
     "max_results": query("EventsMaxResults", "max_results"),
     "wait_seconds": query("WaitSeconds", "wait_seconds"),
     "connector_id": query("ConnectorId", "connector_id"),
     "types": query("EventTypes", "types")}, [],
    {"events": member("EventList"),
     "next_cursor": member("EventCursor", "Always present; read on from it.")},
    ["ExpiredCursorException"],
    "(ext) The tenant's events in the order they happened, each once when read with the "
    "cursors given; wait_seconds long-polls until there is at least one. A connector_id "
    "unknown to the tenant is a 404; a foreign or malformed cursor a 400.", True))


# ---- issue 13 (webhooks): CONTRACT-OPS.md, "Webhooks".
ERRORS.append(("LimitExceededException", 400,
               "(ext) A per-tenant limit is reached (the 21st webhook); delete one first."))
WEBHOOKS_PATH = "/api/v1/webhooks"
WEBHOOK_PATH = WEBHOOKS_PATH + "/{webhook_id}"
SHAPES.update({
    "WebhookId": string(15, 15, r"^wh-[0-9a-f]{12}$"),
    "WebhookUrl": string(1, 2048, doc="(ext) http or https; a host that is or resolves to a "
                                      "loopback, private, link-local or shared address is a 400 "
                                      "unless the operator sets webhook-allow-private."),
    "WebhookEventType": string(enum=EVENT_TYPES + ["*"]),
    "WebhookEventTypes": {"type": "list", "member": {"shape": "WebhookEventType"}, "min": 1,
                          "max": 32,
                          "documentation": "(ext) The types sent; [\"*\"] (the default): all."},
    "WebhookDescription": string(1, 1000),
    "WebhookSecret": string(49, 49, r"^whsec_[A-Za-z0-9_-]{43}$",
                            "(ext) The HMAC-SHA256 key of ccf-signature (the whole string); "
                            "returned only by the create."),
    "Webhook": structure({
        "webhook_id": member("WebhookId"),
        "url": member("WebhookUrl"),
        "event_types": member("WebhookEventTypes"),
        "description": member("WebhookDescription"),
        "created_at": member("Timestamp"),
        "secret": member("WebhookSecret", "Only in the create's answer."),
    }, required=["webhook_id", "url", "event_types", "created_at"]),
    "WebhookList": {"type": "list", "member": {"shape": "Webhook"}},
    "DeliveryStatus": string(enum=["PENDING", "DELIVERED", "FAILED"]),
    "DeliveryAttempts": {"type": "integer", "min": 0},
    "HttpStatusCode": {"type": "integer", "min": 100, "max": 599},
    "WebhookDelivery": structure({
        "event_id": member("EventId"),
        "type": member("EventType"),
        "status": member("DeliveryStatus"),
        "attempts": member("DeliveryAttempts"),
        "last_attempt_at": member("Timestamp"),
        "last_status_code": member("HttpStatusCode", "The receiver's last answer, if any."),
        "last_error": member("DeliveryError"),
    }, required=["event_id", "type", "status", "attempts"]),
    "WebhookDeliveryList": {"type": "list", "member": {"shape": "WebhookDelivery"}},
})
SHAPES["DeliveryError"] = string(doc="Why the last attempt failed (no 2xx, a timeout, a "
                                     "refused connection or address).")
_WH_ID = {"webhook_id": path_id("WebhookId", "webhook_id")}
OPERATIONS += [
    ("CreateWebhook", "POST", WEBHOOKS_PATH, 201,
     {"url": member("WebhookUrl"), "event_types": member("WebhookEventTypes"),
      "description": member("WebhookDescription"),
      "client_token": member("ClientToken", idempotencyToken=True)}, ["url"],
     {"webhook": member("Webhook")}, ["ConflictException", "LimitExceededException"],
     "(ext) Posts every later event of the tenant (of event_types) to url, in order, signed "
     "(ccf-signature: t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>); at most 20 per "
     "tenant. The secret is returned only here.", True),
    ("ListWebhooks", "GET", WEBHOOKS_PATH, 200,
     {"max_results": query("ConnectorMaxResults", "max_results"),
      "next_token": query("NextToken", "next_token")}, [],
     {"webhooks": member("WebhookList"), "next_token": member("NextToken", NO_TOKEN_DOC)},
     [], "(ext) The tenant's webhooks, oldest first; never their secrets.", True),
    ("GetWebhook", "GET", WEBHOOK_PATH, 200, dict(_WH_ID), ["webhook_id"],
     {"webhook": member("Webhook")}, [], "(ext) One webhook, without its secret.", True),
    ("DeleteWebhook", "DELETE", WEBHOOK_PATH, 204, dict(_WH_ID), ["webhook_id"], None, [],
     "(ext) Deletes a webhook and its deliveries.", True),
    ("TestWebhook", "POST", WEBHOOK_PATH + "/test", 202, dict(_WH_ID), ["webhook_id"], {}, [],
     "(ext) Sends an event of type ping (no connector_id) at once, outside the ordered stream "
     "and whatever event_types says.", True),
    ("ListWebhookDeliveries", "GET", WEBHOOK_PATH + "/deliveries", 200,
     dict(_WH_ID, max_results=query("ConnectorMaxResults", "max_results"),
          next_token=query("NextToken", "next_token")), ["webhook_id"],
     {"deliveries": member("WebhookDeliveryList"),
      "next_token": member("NextToken", NO_TOKEN_DOC)},
     [], "(ext) The webhook's events since its creation, newest first, with their delivery "
         "(PENDING with 0 attempts: not tried yet). At least once: receivers deduplicate by "
         "ccf-event-id.", True),
]
PAGINATED["ListWebhooks"] = "webhooks"
PAGINATED["ListWebhookDeliveries"] = "deliveries"
# ---- issue 13 (audit): who did what (CONTRACT-OPS.md, "Audit log").
SHAPES.update({
    "AuditCursor": string(doc="(ext) A position in the tenant's audit log."),
    "AuditText": string(),
    "HttpStatus": {"type": "integer", "min": 100, "max": 599},
    "AuditMaxResults": {"type": "integer", "min": 1, "max": 1000},
    "AuditEvent": structure({
        "time": member("Timestamp"),
        "request_id": member("AuditText", "The request's x-amzn-RequestId."),
        "operation": member("AuditText", "The contract's operation name, e.g. CreateCustomConnector "
                                      "(None: a refused request on no route)."),
        "access_key_id": member("AuditText", "The key that signed (empty with auth = none)."),
        "principal": member("AuditText", "key, or job:<job_id> for a job's own credentials."),
        "source_ip": member("AuditText"),
        "connector_id": member("ConnectorId", "When the path names one, or the request created it."),
        "job_id": member("JobId", "When the path names one, or the request created it."),
        "status": member("HttpStatus", "The HTTP status answered."),
        "error_type": member("AuditText", "The errorType of a refusal."),
    }, required=["time", "request_id", "operation", "access_key_id", "principal", "source_ip",
                 "status"]),
    "AuditEventList": {"type": "list", "member": {"shape": "AuditEvent"}},
})
OPERATIONS.append((
    "ListAuditEvents", "GET", "/api/v1/audit-events", 200,
    {"after": query("AuditCursor", "after"),
     "max_results": query("AuditMaxResults", "max_results")}, [],
    {"audit_events": member("AuditEventList"),
     "next_cursor": member("AuditCursor", "Always present; read on from it.")},
    ["ExpiredCursorException"],
    "(ext) The tenant's audit records in the order they were written: every state-changing "
    "request and every refused one (403 of a known key, 409, 429). Kept audit-retention "
    "seconds; a cursor older than that is a 400 ExpiredCursorException, a foreign or malformed "
    "one a 400.", True))


def botocore_model():
    shapes = copy.deepcopy(SHAPES)
    shapes.update(error_shapes())
    ops = {}
    for (name, method, uri, status, inp, req, out, extra, doc, ext) in OPERATIONS:
        op = {
            "name": name,
            "http": {"method": method, "requestUri": uri, "responseCode": status},
            "input": {"shape": name + "Request"},
            "errors": errors_for(*extra),
            "documentation": doc,
        }
        shapes[name + "Request"] = structure(inp, req)
        if out is not None:
            op["output"] = {"shape": name + "Response"}
            s = structure(out)
            if "logs" in out:
                s["payload"] = "logs"
            shapes[name + "Response"] = s
        ops[name] = op
    for s in shapes.values():
        s.pop("x-ccf-extension-members", None)
    return {
        "version": "2.0",
        "metadata": {
            "apiVersion": API_VERSION,
            "endpointPrefix": "ccf",
            "jsonVersion": "1.1",
            "protocol": "rest-json",
            "serviceAbbreviation": "ccf",
            "serviceFullName": "Custom Connector Framework",
            "serviceId": "ccf",
            "signatureVersion": "v4",
            "signingName": "execute-api",
            "uid": "ccf-" + API_VERSION,
        },
        "documentation": "The Custom Connector Framework API as ccfd serves it (CONTRACT.md). "
                         "Requests are signed with SigV4, signing name execute-api.",
        "operations": ops,
        "shapes": dict(sorted(shapes.items())),
    }


def paginators():
    return {"pagination": {
        op: {"input_token": "next_token", "output_token": "next_token",
             "limit_key": "max_results", "result_key": key}
        for op, key in PAGINATED.items()}}


# ---- OpenAPI, derived ----
def schema_of(name, shapes):
    s = shapes[name]
    t = s["type"]
    out = {}
    if "documentation" in s:
        out["description"] = s["documentation"]
    if t == "structure":
        out["type"] = "object"
        out["properties"] = {}
        for m, ref in s["members"].items():
            if "location" in ref:
                continue
            p = {"$ref": "#/components/schemas/" + ref["shape"]}
            if "documentation" in ref:
                p = {"allOf": [p], "description": ref["documentation"]}
            if m in s.get("x-ccf-extension-members", []):
                p = dict(p) if "allOf" in p else {"allOf": [p]}
                p["x-ccf-extension"] = True
            out["properties"][m] = p
        if s.get("required"):
            req = [r for r in s["required"] if "location" not in s["members"][r]]
            if req:
                out["required"] = req
    elif t == "list":
        out.update({"type": "array", "items": {"$ref": "#/components/schemas/" + s["member"]["shape"]}})
        if "min" in s:
            out["minItems"] = s["min"]
        if "max" in s:
            out["maxItems"] = s["max"]
    elif t == "string":
        out["type"] = "string"
        if name == "Timestamp":
            out["format"] = "date-time"
        for k, o in (("min", "minLength"), ("max", "maxLength"), ("pattern", "pattern"),
                     ("enum", "enum")):
            if k in s:
                out[o] = s[k]
    elif t in ("integer", "long", "double"):
        out["type"] = "number" if t == "double" else "integer"
        if t == "long":
            out["format"] = "int64"
        for k, o in (("min", "minimum"), ("max", "maximum")):
            if k in s:
                out[o] = s[k]
    elif t == "timestamp":
        out.update({"type": "string", "format": "date-time"})
    elif t == "blob":
        out.update({"type": "string", "format": "binary"})
    return out


def openapi(model):
    shapes = copy.deepcopy(SHAPES)
    shapes.update(error_shapes())
    schemas = {}
    for name in sorted(shapes):
        if shapes[name].get("exception") or name in ("LogBytes",):
            continue
        schemas[name] = schema_of(name, shapes)
    schemas["Error"] = {
        "type": "object",
        "required": ["message", "errorType"],
        "properties": {
            "message": {"$ref": "#/components/schemas/ErrorMessage"},
            "errorType": {"type": "string", "enum": [e[0] for e in ERRORS]},
        },
    }
    responses = {}
    for name, status, doc in ERRORS:
        r = {"description": name + ": " + doc,
             "headers": {"x-amzn-ErrorType": {"schema": {"type": "string", "enum": [name]}},
                         "x-amzn-RequestId": {"$ref": "#/components/headers/RequestId"}},
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        if status in (429, 503):
            r["headers"]["Retry-After"] = {"schema": {"type": "integer"}}
        if status == 405:
            r["headers"]["Allow"] = {"schema": {"type": "string"}}
        responses[name] = r
    paths = {}
    for (name, method, uri, status, inp, req, out, extra, doc, ext) in OPERATIONS:
        op = {"operationId": name, "summary": doc, "tags": [tag_of(uri)]}
        if ext:
            op["x-ccf-extension"] = True
        params = []
        for m, ref in inp.items():
            loc = ref.get("location")
            if loc not in ("uri", "querystring", "header"):
                continue
            p = {"name": ref["locationName"],
                 "in": {"uri": "path", "querystring": "query"}.get(loc, loc),
                 "required": loc == "uri",
                 "schema": {"$ref": "#/components/schemas/" + ref["shape"]}}
            if ref["shape"] in ("JobStatus",) and loc == "querystring":
                p["description"] = "Only jobs in this status (applied before paging)."
            if ref["shape"] in ("LogOffset", "LogLimit"):
                p["x-ccf-extension"] = True
            if loc == "querystring":
                p["description"] = (p.get("description", "") + " Given twice or empty: 400.").strip()
            params.append(p)
        if params:
            op["parameters"] = params
        body = {m: r for m, r in inp.items() if "location" not in r}
        if body:
            schemas[name + "Request"] = schema_of(name + "Request", dict(shapes, **{
                name + "Request": structure(body, [r for r in req if r in body])}))
            if name == "UpdateCustomConnector":
                schemas[name + "Request"]["description"] = (
                    "A JSON merge patch (RFC 7396), nested objects included: an absent field "
                    "is kept, null removes an optional field (a required one: 400), arrays "
                    "are replaced whole. A body with no known field is a 400.")
            op["requestBody"] = {
                "required": name != "StartCustomConnectorJob",
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/" + name + "Request"}}}}
        ok = {"description": "Success.",
              "headers": {"x-amzn-RequestId": {"$ref": "#/components/headers/RequestId"}}}
        if out is None:
            pass
        elif "logs" in out:
            ok["content"] = {"text/plain; charset=utf-8": {"schema": {"type": "string"}}}
            for m, r in out.items():
                if r.get("location") == "header":
                    ok["headers"][r["locationName"]] = {
                        "schema": {"$ref": "#/components/schemas/" + r["shape"]},
                        "description": r.get("documentation", "")}
        else:
            schemas[name + "Response"] = schema_of(name + "Response", dict(shapes, **{
                name + "Response": structure(out)}))
            ok["content"] = {"application/json": {
                "schema": {"$ref": "#/components/schemas/" + name + "Response"}}}
            for m, r in out.items():
                if r.get("location") == "header":
                    ok["headers"][r["locationName"]] = {
                        "schema": {"$ref": "#/components/schemas/" + r["shape"]}}
        op["responses"] = {str(status): ok}
        for e in model["operations"][name]["errors"]:
            st = dict((n, s) for n, s, _ in ERRORS)[e["shape"]]
            # Several 403 types share a status: OpenAPI keeps one response per code.
            key = str(st)
            if key in op["responses"]:
                continue
            if st == 403:
                op["responses"][key] = {"$ref": "#/components/responses/Forbidden"}
            else:
                op["responses"][key] = {"$ref": "#/components/responses/" + e["shape"]}
        paths.setdefault(uri, {})[method.lower()] = op
    forbidden = {
        "description": "Authentication or authorisation failed: x-amzn-ErrorType is one of "
                       "MissingAuthenticationTokenException, InvalidSignatureException, "
                       "UnrecognizedClientException, AccessDeniedException.",
        "headers": {"x-amzn-ErrorType": {"schema": {"type": "string", "enum": [
            e[0] for e in ERRORS if e[1] == 403]}},
            "x-amzn-RequestId": {"$ref": "#/components/headers/RequestId"}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    responses["Forbidden"] = forbidden
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Custom Connector Framework API (ccf)",
            "version": API_VERSION,
            "description": "Written from CONTRACT.md by clients/gen_models.py, together with "
                           "the botocore model in clients/botocore. Operations and fields "
                           "marked x-ccf-extension are ccf's additions to the original API.",
        },
        "servers": [{"url": "http://127.0.0.1:8787", "description": "ccfd's default listen address"}],
        "security": [{"sigv4": []}],
        "tags": [{"name": "connectors"}, {"name": "jobs"}, {"name": "documents"},
                 {"name": "checkpoint"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"sigv4": {
                "type": "apiKey", "name": "Authorization", "in": "header",
                "description": "AWS Signature Version 4 (AWS4-HMAC-SHA256), signing name "
                               "execute-api, the server's region.",
                "x-amazon-apigateway-authtype": "awsSigv4"}},
            "headers": {"RequestId": {"description": "The id in the server's log line.",
                                      "schema": {"type": "string"}}},
            "responses": dict(sorted(responses.items())),
            "schemas": dict(sorted(schemas.items())),
        },
    }


def tag_of(uri):
    if uri.startswith("/api/v1/events"):
        return "events"
    if uri.startswith("/api/v1/webhooks"):
        return "webhooks"
    if uri.startswith("/api/v1/audit-events"):
        return "audit"
    for t in ("documents", "checkpoint", "jobs"):
        if "/" + t in uri:
            return t
    return "connectors"


def dump(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def main():
    model = botocore_model()
    files = {SERVICE_PATH: dump(model), PAGINATORS_PATH: dump(paginators()),
             OPENAPI_PATH: dump(openapi(model)),
             os.path.join(KIT_MODEL_DIR, "service-2.json"): dump(model),
             os.path.join(KIT_MODEL_DIR, "paginators-1.json"): dump(paginators())}
    stale = []
    for path, text in files.items():
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old == text:
            continue
        if "--check" in sys.argv:
            stale.append(os.path.relpath(path, ROOT))
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print("out of date (run python3 clients/gen_models.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
