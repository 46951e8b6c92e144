/* conn_changes.c: store_read_connector_changes on DynamoDB: the
 * connector.created and connector.updated records of the change log
 * (changes.c writes them), up to its horizon, for the orchestrator's
 * executor_prepare. Apart from changes.c: it only reads the log. */
#include "store/dynamodb/ddb_int.h"

#include <limits.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

static int from_item(json_t *rec, void *elem)
{
    struct store_connector_change *out = elem;
    const char *tk = ddb__get_s(rec, "tenant"), *cid = ddb__get_s(rec, "cid");
    int bad = 0;

    memset(out, 0, sizeof(*out));
    out->seq = ddb__get_n(rec, "seq", &bad);
    if (bad || !tk || store__tenant_parse(tk, &out->tenant) < 0 || !cid ||
        !ccf_connector_id_valid(cid)) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("table", "changes"), CCF_KV_INT("seq", out->seq));
        return CCF_EIO;
    }
    memcpy(out->connector_id, cid, strlen(cid) + 1);
    return 0;
}

/* The log is read up to its horizon (every record below it settled), as
 * read_changes; the horizon is where the caller reads on from. */
int store_ddb__read_connector_changes(struct store *s, int64_t after_seq,
                                      struct store_connector_change *out, size_t max, int64_t *upto)
{
    int64_t h;
    int rc;

    if (max == 0 || !out)
        return max == 0 ? 0 : CCF_EINVAL;
    if (max > INT_MAX)
        max = INT_MAX;
    if ((rc = ddb__horizon(s, &h)) < 0)
        return rc;
    if (after_seq >= h)
        return 0;
    rc = ddb__changes_query(s, after_seq, h, "#t = :cr OR #t = :up",
                            json_pack("{s:o,s:o}", ":cr", ddb__s_val("connector.created"), ":up",
                                      ddb__s_val("connector.updated")),
                            json_pack("{s:s}", "#t", "type"), from_item, out, sizeof(*out), max,
                            "read_connector_changes");
    if (rc < 0)
        return rc;
    *upto = (size_t)rc == max ? out[rc - 1].seq : h;
    return rc;
}
