/* validate_int.h: field checks shared by the validation files of core. */
#ifndef CCF_VALIDATE_INT_H
#define CCF_VALIDATE_INT_H

#include "core/validate.h"

int v__string(const json_t *v, const char *field, size_t min, size_t max, const char **out,
              struct ccf_diag *d);
int v__integer(const json_t *v, const char *field, json_int_t min, json_int_t max,
               struct ccf_diag *d);
/* Validates an environment list; on success *clean (may be NULL) gets a new
 * array of {name, value} objects without unknown keys. */
int v__environment_clean(const json_t *env, const char *field, json_t **clean, struct ccf_diag *d);
#define v__environment(env, field, d) v__environment_clean((env), (field), NULL, (d))

#endif
