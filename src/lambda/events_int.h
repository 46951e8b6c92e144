/* events_int.h: what the event decoders share. */
#ifndef CCF_LAMBDA_EVENTS_INT_H
#define CCF_LAMBDA_EVENTS_INT_H

#include "lambda/events.h"

/* Sets err to the printf-style reason and returns CCF_EINVAL. */
int lambda__fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The string member key of obj, or NULL when absent, null or not a string. */
const char *lambda__str(const json_t *obj, const char *key);
/* obj's member key if it is an object, else NULL. */
json_t *lambda__obj(const json_t *obj, const char *key);

#endif
