/* runtime.h: a client of the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API):
 * the next invocation, its response or error, and the init error. libcurl,
 * one connection kept open. Must not know what the events mean.
 * Thread rules: one thread uses a runtime. */
#ifndef CCF_LAMBDA_RUNTIME_H
#define CCF_LAMBDA_RUNTIME_H

#include <stddef.h>

struct lambda_runtime;

/* host is AWS_LAMBDA_RUNTIME_API's value (host:port). CCF_EINVAL if it is
 * empty or too long, CCF_EIO if libcurl cannot start. */
int lambda_runtime_open(struct lambda_runtime **out, const char *host);
void lambda_runtime_close(struct lambda_runtime *rt);

/* Waits for the next invocation: *event (malloc'd, NUL-terminated, the
 * caller's) and *len, and its request id into id (128 bytes). CCF_EIO when
 * the Runtime API cannot be reached or answers otherwise than 200,
 * CCF_ETOOLARGE for an event over LAMBDA_EVENT_MAX (id is set: report it). */
int lambda_runtime_next(struct lambda_runtime *rt, char **event, size_t *len, char id[128]);
/* The invocation's result. CCF_EIO unless the Runtime API took it (202). */
int lambda_runtime_respond(struct lambda_runtime *rt, const char *id, const char *body, size_t len);
/* The invocation failed (id), or the function cannot start (id NULL: the
 * init error endpoint, after which Lambda stops the process). type and
 * message are the error's errorType and errorMessage. */
int lambda_runtime_error(struct lambda_runtime *rt, const char *id, const char *type,
                         const char *message);

#endif
