/* output.c: what ccf prints. JSON for scripts (the contract's shapes, lists
 * streamed item by item so that a list of any length prints in constant
 * memory), tables for people (control characters shown as '?', so that no
 * stored value can drive the terminal). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/banned.h"

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v)
        json_object_set_new(o, key, json_string(v));
}

static json_t *number(double v)
{
    if (fabs(v) < 9007199254740992.0 && v == floor(v))
        return json_integer((json_int_t)v); /* "cpu": 1, as the server wrote it */
    return json_real(v);
}

static json_t *json_props(const struct ccf_client_container_properties *p)
{
    json_t *o = json_object(), *rr, *a;

    set_str(o, "image_uri", p->image_uri);
    set_str(o, "execution_role_arn", p->execution_role_arn);
    set_str(o, "job_role_arn", p->job_role_arn);
    if (p->has_cpu || p->has_memory) {
        rr = json_object();
        if (p->has_cpu)
            json_object_set_new(rr, "cpu", number(p->cpu));
        if (p->has_memory)
            json_object_set_new(rr, "memory", json_integer(p->memory));
        json_object_set_new(o, "resource_requirements", rr);
    }
    if (p->has_timeout)
        json_object_set_new(o, "timeout", json_integer(p->timeout));
    if (p->command_len > 0) {
        a = json_array();
        for (size_t i = 0; i < p->command_len; i++)
            json_array_append_new(a, json_string(p->command[i]));
        json_object_set_new(o, "command", a);
    }
    if (p->has_environment) {
        a = json_array();
        for (size_t i = 0; i < p->environment_len; i++)
            json_array_append_new(a, json_pack("{s:s, s:s}", "name", p->environment[i].name,
                                               "value", p->environment[i].value));
        json_object_set_new(o, "environment", a);
    }
    if (p->retry_strategy && (a = json_loads(p->retry_strategy, 0, NULL)) != NULL)
        json_object_set_new(o, "retry_strategy", a);
    return o;
}

json_t *cli_json_connector(const struct ccf_client_connector *c)
{
    json_t *o = json_object();

    set_str(o, "connector_id", c->connector_id);
    set_str(o, "arn", c->arn);
    set_str(o, "name", c->name);
    set_str(o, "description", c->description);
    set_str(o, "status", c->status);
    set_str(o, "active_job_id", c->active_job_id);
    set_str(o, "created_at", c->created_at);
    set_str(o, "updated_at", c->updated_at);
    if (c->has_container_properties)
        json_object_set_new(o, "container_properties", json_props(&c->container_properties));
    if (c->has_schedule) {
        json_t *s = json_object();
        set_str(s, "expression", c->schedule.expression);
        set_str(s, "timezone", c->schedule.timezone);
        set_str(s, "state", c->schedule.state);
        if (c->schedule.has_catch_up)
            json_object_set_new(s, "catch_up", json_boolean(c->schedule.catch_up));
        json_object_set_new(o, "schedule", s);
    }
    set_str(o, "next_run_at", c->next_run_at);
    if (c->paused)
        json_object_set_new(o, "paused", json_true());
    return o;
}

static json_t *json_attempts(const struct ccf_client_job *j)
{
    json_t *a = json_array();

    for (size_t i = 0; i < j->attempts_len; i++) {
        const struct ccf_client_attempt *t = &j->attempts[i];
        json_t *o = json_pack("{s:i}", "attempt", t->attempt);
        set_str(o, "started_at", t->started_at);
        set_str(o, "completed_at", t->completed_at);
        if (t->has_exit_code)
            json_object_set_new(o, "exit_code", json_integer(t->exit_code));
        set_str(o, "reason", t->reason);
        json_array_append_new(a, o);
    }
    return a;
}

json_t *cli_json_job(const struct ccf_client_job *j)
{
    json_t *o = json_object();

    set_str(o, "job_id", j->job_id);
    set_str(o, "connector_id", j->connector_id);
    set_str(o, "status", j->status);
    set_str(o, "created_at", j->created_at);
    set_str(o, "updated_at", j->updated_at);
    set_str(o, "started_at", j->started_at);
    set_str(o, "completed_at", j->completed_at);
    if (j->has_exit_code)
        json_object_set_new(o, "exit_code", json_integer(j->exit_code));
    set_str(o, "failure_reason", j->failure_reason);
    set_str(o, "status_reason", j->status_reason);
    if (j->has_stats)
        json_object_set_new(o, "stats",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "documents_added",
                                      (json_int_t)j->stats.documents_added, "documents_updated",
                                      (json_int_t)j->stats.documents_updated, "documents_unchanged",
                                      (json_int_t)j->stats.documents_unchanged, "documents_deleted",
                                      (json_int_t)j->stats.documents_deleted, "checkpoint_puts",
                                      (json_int_t)j->stats.checkpoint_puts));
    if (j->attempt > 0)
        json_object_set_new(o, "attempt", json_integer(j->attempt));
    set_str(o, "next_attempt_at", j->next_attempt_at);
    if (j->attempts_len > 0)
        json_object_set_new(o, "attempts", json_attempts(j));
    set_str(o, "trigger", j->trigger);
    return o;
}

json_t *cli_json_document(const struct ccf_client_document *d)
{
    json_t *o = json_object();

    set_str(o, "document_id", d->document_id);
    set_str(o, "checksum", d->checksum);
    set_str(o, "created_at", d->created_at);
    set_str(o, "updated_at", d->updated_at);
    return o;
}

static size_t flags(const struct cli *cli, int indent)
{
    return JSON_PRESERVE_ORDER | (cli->pretty ? JSON_INDENT(indent) : JSON_COMPACT);
}

void cli_print_json_object(const struct cli *cli, json_t *root)
{
    json_dumpf(root, stdout, flags(cli, 2));
    fputc('\n', stdout);
    json_decref(root);
}

void cli_print_json(const struct cli *cli, const char *key, json_t *value)
{
    json_t *root = json_object();

    json_object_set_new(root, key, value);
    cli_print_json_object(cli, root);
}

void cli_list_begin(struct cli_list_out *o, const struct cli *cli, const char *key)
{
    o->cli = cli;
    o->key = key;
    o->n = 0;
    o->open = false;
}

/* The list opens with its first page, so that a first request that fails
 * leaves nothing on stdout. */
static void open_list(struct cli_list_out *o)
{
    if (o->open)
        return;
    o->open = true;
    if (o->cli->json)
        printf(o->cli->pretty ? "{\n  \"%s\": [" : "{\"%s\":[", o->key);
}

/* Prints text with every line indented by pad spaces. */
static void indented(const char *text, int pad)
{
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);

        printf("%*s%.*s", pad, "", (int)n, p);
        p += n;
    }
}

void cli_list_item(struct cli_list_out *o, json_t *item, const char *row, const char *header)
{
    const struct cli *cli = o->cli;

    open_list(o);
    if (cli->json) {
        char *s = json_dumps(item, flags(cli, 2));

        fputs(o->n ? ",\n" : "\n", stdout);
        if (s && cli->pretty)
            indented(s, 4);
        else if (s)
            fputs(s, stdout);
        free(s);
    } else {
        if (o->n == 0)
            puts(header);
        puts(row);
    }
    json_decref(item);
    o->n++;
}

void cli_list_end(struct cli_list_out *o, const char *next_token)
{
    const struct cli *cli = o->cli;
    json_t *tok;
    char *s;

    open_list(o);
    if (!cli->json) {
        if (next_token)
            fprintf(stderr, "ccf: more %s follow; resume with --starting-token %s\n", o->key,
                    next_token);
        return;
    }
    fputs(cli->pretty ? "\n  ]" : "\n]", stdout);
    if (next_token) {
        tok = json_string(next_token);
        s = json_dumps(tok, JSON_ENCODE_ANY);
        printf(cli->pretty ? ",\n  \"next_token\": %s" : ",\"next_token\":%s", s ? s : "\"\"");
        free(s);
        json_decref(tok);
    }
    fputs(cli->pretty ? "\n}\n" : "}\n", stdout);
}

char *cli_clean(const char *s)
{
    char *out = strdup(s ? s : "");

    for (unsigned char *p = (unsigned char *)out; p && *p; p++) {
        if (*p < 0x20 || *p == 0x7F)
            *p = '?';
        else if (*p == 0xC2 && p[1] >= 0x80 && p[1] < 0xA0) /* C1 controls */
            p[0] = p[1] = '?';
    }
    return out;
}

void cli_kv(const char *name, const char *value)
{
    char *v;

    if (!value)
        return;
    v = cli_clean(value);
    printf("%-19s %s\n", name, v ? v : "");
    free(v);
}

void cli_kv_int(const char *name, bool has, long long value)
{
    if (has)
        printf("%-19s %lld\n", name, value);
}

/* A command line as a shell would take it back: words quoted when needed. */
static void print_command(char *const *argv, size_t n)
{
    printf("%-19s", "command");
    for (size_t i = 0; i < n; i++) {
        char *w = cli_clean(argv[i]);
        bool plain = w && *w &&
                     strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789-_./=:,+@%") == strlen(w);

        if (plain) {
            printf(" %s", w);
        } else {
            fputs(" '", stdout);
            for (const char *p = w ? w : ""; *p; p++) {
                if (*p == '\'')
                    fputs("'\\''", stdout);
                else
                    fputc(*p, stdout);
            }
            fputc('\'', stdout);
        }
        free(w);
    }
    fputc('\n', stdout);
}

void cli_show_connector(const struct ccf_client_connector *c)
{
    const struct ccf_client_container_properties *p = &c->container_properties;

    cli_kv("connector_id", c->connector_id);
    cli_kv("name", c->name);
    cli_kv("description", c->description);
    cli_kv("status", c->status);
    cli_kv("active_job_id", c->active_job_id);
    cli_kv("arn", c->arn);
    cli_kv("created_at", c->created_at);
    cli_kv("updated_at", c->updated_at);
    cli_kv("schedule", c->schedule.expression);
    cli_kv("timezone", c->schedule.timezone);
    cli_kv("schedule_state", c->schedule.state);
    cli_kv("next_run_at", c->next_run_at);
    cli_kv("paused", c->paused ? "true" : NULL);
    if (!c->has_container_properties)
        return;
    if (p->command_len > 0)
        print_command(p->command, p->command_len);
    cli_kv("image_uri", p->image_uri);
    cli_kv("execution_role_arn", p->execution_role_arn);
    cli_kv("job_role_arn", p->job_role_arn);
    if (p->has_cpu)
        printf("%-19s %g\n", "cpu", p->cpu);
    cli_kv_int("memory", p->has_memory, (long long)p->memory);
    cli_kv_int("timeout", p->has_timeout, (long long)p->timeout);
    cli_kv("retry_strategy", p->retry_strategy);
    for (size_t i = 0; p->has_environment && i < p->environment_len; i++) {
        char *n = cli_clean(p->environment[i].name), *v = cli_clean(p->environment[i].value);

        printf("%-19s %s=%s\n", i ? "" : "environment", n ? n : "", v ? v : "");
        free(n);
        free(v);
    }
}

void cli_show_job(const struct ccf_client_job *j)
{
    cli_kv("job_id", j->job_id);
    cli_kv("connector_id", j->connector_id);
    cli_kv("status", j->status);
    cli_kv("status_reason", j->status_reason);
    cli_kv_int("exit_code", j->has_exit_code, j->exit_code);
    cli_kv("failure_reason", j->failure_reason);
    cli_kv("trigger", j->trigger);
    cli_kv("created_at", j->created_at);
    cli_kv("started_at", j->started_at);
    cli_kv("completed_at", j->completed_at);
    cli_kv("updated_at", j->updated_at);
    if (j->has_stats) {
        cli_kv_int("documents_added", true, (long long)j->stats.documents_added);
        cli_kv_int("documents_updated", true, (long long)j->stats.documents_updated);
        cli_kv_int("documents_unchanged", true, (long long)j->stats.documents_unchanged);
        cli_kv_int("documents_deleted", true, (long long)j->stats.documents_deleted);
        cli_kv_int("checkpoint_puts", true, (long long)j->stats.checkpoint_puts);
    }
    cli_kv_int("attempt", j->attempt > 0, j->attempt);
    cli_kv("next_attempt_at", j->next_attempt_at);
    for (size_t i = 0; i < j->attempts_len; i++) {
        const struct ccf_client_attempt *t = &j->attempts[i];
        char *reason = cli_clean(t->reason);
        printf("%-19s #%d %s .. %s", i ? "" : "attempts", t->attempt, t->started_at,
               t->completed_at ? t->completed_at : "(running)");
        if (t->has_exit_code)
            printf(" exit %d", t->exit_code);
        if (reason)
            printf(" (%s)", reason);
        printf("\n");
        free(reason);
    }
}
