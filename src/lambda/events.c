/* events.c: which of the three shapes an event has, and the helpers the
 * decoders share. The shape is told by fields each source always sets:
 * API Gateway's httpMethod and requestContext, the stream records'
 * eventSource "aws:dynamodb", EventBridge's source and detail-type, and
 * ccf's own "ccf_event" (the schedules it keeps on EventBridge Scheduler). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lambda/events_int.h"

int lambda__fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;

    if (n > 0) {
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
        /* Only printable ASCII reaches the error endpoint and the log. */
        for (char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F)
                *p = '?';
    }
    return CCF_EINVAL;
}

const char *lambda__str(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

    return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *lambda__obj(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

    return json_is_object(v) ? v : NULL;
}

int lambda_event_kind(const json_t *root)
{
    const json_t *records;
    const char *source;

    if (!json_is_object(root))
        return CCF_EINVAL;
    if (lambda__str(root, "httpMethod") && lambda__obj(root, "requestContext"))
        return LAMBDA_EVENT_API;
    records = json_object_get(root, "Records");
    if (json_is_array(records) && json_array_size(records) > 0) {
        source = lambda__str(json_array_get(records, 0), "eventSource");
        if (source && strcmp(source, "aws:dynamodb") == 0)
            return LAMBDA_EVENT_STREAM;
    }
    source = lambda__str(root, "source");
    if (source && strcmp(source, "aws.batch") == 0 && lambda__obj(root, "detail")) {
        const char *type = lambda__str(root, "detail-type");
        if (type && strcmp(type, "Batch Job State Change") == 0)
            return LAMBDA_EVENT_BATCH_STATE;
    }
    if (lambda__str(root, "ccf_event"))
        return LAMBDA_EVENT_CCF;
    if (lambda__str(root, "ccf_event"))
        return LAMBDA_EVENT_CCF;
    return CCF_EINVAL;
}
