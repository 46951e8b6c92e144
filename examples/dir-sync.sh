#!/bin/sh
# dir-sync.sh: an example ccf connector. It keeps the framework's document
# store in step with a directory: it lists the checksums stored for this
# connector, puts those of new and changed files, deletes those of removed
# files, and records a checkpoint. A second run sends only what changed.
#
# It reads the variables the framework injects into every job
# (CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT, ..._CUSTOM_CONNECTOR_ID, and,
# when authentication is on, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
# AWS_SESSION_TOKEN), plus SYNC_DIR: the directory to sync. Needs curl, jq
# and sha256sum. File names holding a newline or a tab are skipped.
set -eu

: "${SYNC_DIR:?set SYNC_DIR, e.g. in the connector's environment}"
API="${CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT%/}/api/v1/custom-connectors/${CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID}"
BATCH=1000
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One API call; signs it (SigV4) when the job was given credentials. curl
# signs every header given with -H, the session token's too. curl 7.88
# does not sort the query: the one URL with two parameters has them sorted.
call() {
    method=$1 url=$2
    shift 2
    if [ -n "${AWS_SESSION_TOKEN:-}" ]; then
        set -- -H "x-amz-security-token: ${AWS_SESSION_TOKEN}" "$@"
    fi
    if [ -n "${AWS_ACCESS_KEY_ID:-}" ]; then
        set -- --aws-sigv4 "aws:amz:${AWS_REGION}:execute-api" \
            --user "${AWS_ACCESS_KEY_ID}:${AWS_SECRET_ACCESS_KEY}" "$@"
    fi
    curl -sS --fail-with-body -X "$method" "$@" "$url"
}

# The stored documents as "id<TAB>checksum" lines, every page.
token=""
: >"$work/stored"
while :; do
    url="$API/documents?max_results=$BATCH"
    [ -n "$token" ] && url="$url&next_token=$token"
    call GET "$url" >"$work/page"
    jq -r '.documents[] | [.document_id, .checksum] | @tsv' "$work/page" >>"$work/stored"
    token=$(jq -r '.next_token // empty' "$work/page")
    [ -z "$token" ] && break
done

# The directory's files the same way, ids relative to SYNC_DIR.
(cd "$SYNC_DIR" && find . -type f ! -name '*
*' ! -name '*	*' -print | sed 's|^\./||' | LC_ALL=C sort |
    while IFS= read -r f; do
        printf '%s\t%s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"
    done) >"$work/local"

LC_ALL=C sort "$work/stored" -o "$work/stored"
# New or changed: lines of local not in stored. Removed: ids only in stored.
LC_ALL=C comm -23 "$work/local" "$work/stored" >"$work/put"
cut -f1 "$work/local" >"$work/local_ids"
cut -f1 "$work/stored" | LC_ALL=C comm -23 - "$work/local_ids" >"$work/delete"

send() { # file, jq program, method
    split -l "$BATCH" "$1" "$work/chunk."
    for chunk in "$work"/chunk.*; do
        [ -s "$chunk" ] || continue
        jq -R -s "$2" "$chunk" | call "$3" "$API/documents" --json @- >/dev/null
        rm -f "$chunk"
    done
}
send "$work/put" '{documents: [split("\n")[] | select(length > 0) | split("\t") |
    {document_id: .[0], checksum: .[1]}]}' POST
send "$work/delete" '{document_ids: [split("\n")[] | select(length > 0)]}' DELETE

files=$(wc -l <"$work/local")
put=$(wc -l <"$work/put")
deleted=$(wc -l <"$work/delete")
jq -n --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson files "$files" \
    '{checkpoint_data: ({synced_at: $at, files: $files} | tojson)}' |
    call PUT "$API/checkpoint" --json @- >/dev/null
echo "dir-sync: $files files, put $put, deleted $deleted"
