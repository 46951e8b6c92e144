/* imagemap.h: image-map rules, PATTERN=REPLACEMENT, that rewrite a
 * connector's image_uri into the image a container runtime has or pulls.
 * PATTERN is a POSIX extended regular expression matched against the whole
 * URI; the first '=' ends it; REPLACEMENT may use \1..\9 (the groups) and
 * \\ (a backslash). The first rule that matches wins; none leaves the URI
 * as it is. No HTTP, no processes. Thread rules: a compiled map is
 * read-only and may be shared by threads. */
#ifndef CCF_EXECUTOR_IMAGEMAP_H
#define CCF_EXECUTOR_IMAGEMAP_H

#include <stddef.h>

#define IMAGEMAP_RULES_MAX 64
#define IMAGEMAP_RULE_MAX  1024 /* bytes in one rule */
#define IMAGEMAP_URI_MAX   1024 /* bytes in a URI, before or after */

struct imagemap; /* defined in imagemap.c */

/* Compiles rules separated by newlines (empty lines skipped). CCF_EINVAL
 * with why in err (n bytes) for a rule without '=', an empty or invalid
 * pattern, a \N beyond the pattern's groups, or past the limits above. */
int imagemap_parse(struct imagemap **out, const char *rules, char *err, size_t n);
void imagemap_free(struct imagemap *m);

/* Writes uri rewritten by the first rule that matches (or uri itself) to
 * out. CCF_ETOOLARGE past IMAGEMAP_URI_MAX or outn. m may be NULL. */
int imagemap_apply(const struct imagemap *m, const char *uri, char *out, size_t outn);

#endif
