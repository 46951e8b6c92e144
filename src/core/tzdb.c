/* tzdb.c: IANA time zones from the system's TZif files, through GLib's
 * GTimeZone (thread-safe, immutable zones; it reads the v2+ 64-bit data and
 * the POSIX-TZ footer for times past the last transition). glibc's own
 * zone code is process-global (setenv TZ + tzset), so it cannot serve two
 * zones in two threads. Names are checked here before GLib sees them:
 * GLib would also take absolute paths and POSIX TZ strings. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/schedule.h"

/* Zones are few (about 600 names exist); the cache never evicts. */
#define TZDB_MAX_ZONES 4096

struct ccf_tz {
    GTimeZone *g;
};

struct ccf_tzdb {
    char dir[PATH_MAX]; /* resolved, without a trailing '/' */
    pthread_mutex_t lock;
    GHashTable *zones; /* name (owned) -> struct ccf_tz * (owned) */
};

static void zone_free(gpointer p)
{
    struct ccf_tz *z = p;

    g_time_zone_unref(z->g);
    free(z);
}

int ccf_tzdb_open(struct ccf_tzdb **out, const char *dir)
{
    struct ccf_tzdb *db = ccf_xcalloc(1, sizeof(*db));

    if (!realpath(dir ? dir : "/usr/share/zoneinfo", db->dir)) {
        CCF_LOG_ERROR("tzdb.open", CCF_KV_STR("dir", dir ? dir : "/usr/share/zoneinfo"),
                      CCF_KV_STR("error", strerror(errno)));
        free(db);
        return CCF_EIO;
    }
    pthread_mutex_init(&db->lock, NULL);
    db->zones = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, zone_free);
    *out = db;
    return 0;
}

void ccf_tzdb_close(struct ccf_tzdb *db)
{
    if (!db)
        return;
    g_hash_table_destroy(db->zones);
    pthread_mutex_destroy(&db->lock);
    free(db);
}

/* An IANA name's shape: components of [A-Za-z0-9_+-] joined by '/'. No
 * dot at all, so no "..", no "zone.tab"; the right/ (leap-second) and
 * posix/ copies and the host's localtime are not zone names. */
static bool name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > CCF_TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/' ||
        strstr(name, "//") ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_+-/") != n)
        return false;
    return strncmp(name, "right/", 6) != 0 && strncmp(name, "posix/", 6) != 0 &&
           strcmp(name, "localtime") != 0 && strcmp(name, "posixrules") != 0;
}

/* The resolved path of a TZif file for name inside db->dir, or false. */
static bool tzif_path(const struct ccf_tzdb *db, const char *name, char out[PATH_MAX])
{
    char path[PATH_MAX], magic[4];
    size_t dl = strlen(db->dir);
    struct stat st;
    int fd, n = snprintf(path, sizeof(path), "%s/%s", db->dir, name);
    ssize_t got;

    if (n < 0 || (size_t)n >= sizeof(path) || !realpath(path, out))
        return false;
    /* A symlink (US/Eastern) may lead elsewhere in the tree, not out of it. */
    if (strncmp(out, db->dir, dl) != 0 || out[dl] != '/')
        return false;
    if ((fd = open(out, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
        return false;
    got = (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) ? read(fd, magic, 4) : -1;
    close(fd);
    /* GLib logs a critical for a file that is not TZif: check first. */
    return got == 4 && memcmp(magic, "TZif", 4) == 0;
}

static struct ccf_tz *load(const struct ccf_tzdb *db, const char *name)
{
    char path[PATH_MAX];
    struct ccf_tz *z;
    GTimeZone *g;

    if (!tzif_path(db, name, path) || !(g = g_time_zone_new_identifier(path)))
        return NULL;
    z = ccf_xmalloc(sizeof(*z));
    z->g = g;
    return z;
}

int ccf_tzdb_get(struct ccf_tzdb *db, const char *name, const struct ccf_tz **out,
                 struct ccf_diag *d)
{
    struct ccf_tz *z;
    int rc = 0;

    if (!name_ok(name)) {
        ccf_diag_set(d, "is not an IANA time zone name");
        return CCF_EINVAL;
    }
    pthread_mutex_lock(&db->lock);
    z = g_hash_table_lookup(db->zones, name);
    if (!z && g_hash_table_size(db->zones) < TZDB_MAX_ZONES && (z = load(db, name)))
        g_hash_table_insert(db->zones, g_strdup(name), z);
    pthread_mutex_unlock(&db->lock);
    if (!z) {
        ccf_diag_set(d, "names no time zone of the IANA database ('%s')", name);
        rc = CCF_EINVAL;
    } else {
        *out = z;
    }
    return rc;
}

int32_t ccf_tz_offset(const struct ccf_tz *z, int64_t utc)
{
    gint i = g_time_zone_find_interval(z->g, G_TIME_TYPE_UNIVERSAL, utc);

    return i < 0 ? 0 : g_time_zone_get_offset(z->g, i);
}

int64_t ccf_tz_resolve(const struct ccf_tz *z, int64_t local)
{
    /* The offsets two days either side of the wall time bracket any one
     * transition near it; each is right if the instant it gives has it. */
    int32_t before = ccf_tz_offset(z, local - 2 * 86400),
            after = ccf_tz_offset(z, local + 2 * 86400);
    int64_t ub = local - before, ua = local - after;
    bool b_ok = ccf_tz_offset(z, ub) == before, a_ok = ccf_tz_offset(z, ua) == after;

    if (b_ok && a_ok)
        return ub < ua ? ub : ua; /* twice (fall-back): the first */
    if (a_ok)
        return ua;
    /* Once with the earlier offset, or never (a gap): with the earlier
     * offset, which is the wall time moved forward by the gap. */
    return ub;
}
