#!/bin/sh
# full-scan.sh: an example ccf connector that finds what was deleted at its
# source without keeping any state of its own. Each run puts a checksum for
# every file under SYNC_DIR (unchanged ones are cheap, and counted as such in
# the job's stats), then lists the documents this job did not put
# (not_seen_by_job) and deletes them: those files are gone from the source.
#
# Reads the variables the framework injects into every job (the endpoint,
# the connector and job ids, the job's own key in AWS_*), plus SYNC_DIR and
# CCF (the path of the ccf CLI: a job's PATH is the framework's, not yours).
# Needs jq and sha256sum.
set -eu

: "${SYNC_DIR:?set SYNC_DIR in the connector's environment}"
: "${CCF:?set CCF to the ccf binary in the connector's environment}"
export CCF_ENDPOINT="$CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"
CC="$CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"

(cd "$SYNC_DIR" && find . -type f ! -name '*
*' ! -name '*	*' -print | sed 's|^\./||' |
    while IFS= read -r f; do
        printf '%s\t%s\n' "$f" "$(sha256sum <"$f" | cut -c1-64)"
    done) >seen.tsv
if [ -s seen.tsv ]; then
    "$CCF" document put --connector "$CC" --file seen.tsv
fi
"$CCF" document list --connector "$CC" --not-seen-by-job "$CUSTOM_CONNECTOR_JOB_ID" \
    --output json | jq -r '.documents[].document_id' >gone.txt
if [ -s gone.txt ]; then
    "$CCF" document delete --connector "$CC" --file gone.txt
fi
echo "full-scan: seen $(wc -l <seen.tsv), deleted $(wc -l <gone.txt)"
