#include "config.h"

#include <stddef.h>
#include <string.h>

#define GROUP_KINDS "certificate-kinds"
#define GROUP_LIMITS "limits"
#define GROUP_CAPF "capf"
#define GROUP_DIAGNOSIS "diagnosis"

void config_defaults(monitor_config_t *config)
{
    memset(config, 0, sizeof(*config));
    const cert_patterns_t *d = cert_patterns_default();
    config->patterns.lsc_issuer_cn_prefixes = g_strdupv(d->lsc_issuer_cn_prefixes);
    config->patterns.mic_issuer_cns = g_strdupv(d->mic_issuer_cns);
    monitor_limits_default(&config->limits);
    config->capf_port = 3804;
    diagnosis_config_default(&config->diagnosis);
}

void config_clear(monitor_config_t *config)
{
    g_strfreev(config->patterns.lsc_issuer_cn_prefixes);
    g_strfreev(config->patterns.mic_issuer_cns);
    g_free(config->source);
    diagnosis_config_clear(&config->diagnosis);
    memset(config, 0, sizeof(*config));
}

typedef enum limit_unit { UNIT_COUNT, UNIT_SECONDS, UNIT_KIB, UNIT_MIB } limit_unit_t;

typedef struct limit_key {
    const char *name;
    limit_unit_t unit;
    size_t offset;
    bool is_size;   /* size_t field, else unsigned */
} limit_key_t;

#define LIMIT(name, unit, field, is_size) { name, unit, offsetof(monitor_limits_t, field), is_size }

static const limit_key_t limit_keys[] = {
    LIMIT("global-memory-mb", UNIT_MIB, global_memory, true),
    LIMIT("flow-memory-kb", UNIT_KIB, flow_memory, true),
    LIMIT("max-queued-segments", UNIT_COUNT, max_queued_segments, false),
    LIMIT("max-handshake-message-kb", UNIT_KIB, max_handshake_message, true),
    LIMIT("max-flows", UNIT_COUNT, max_flows, false),
    LIMIT("max-fragment-datagrams", UNIT_COUNT, max_fragment_datagrams, false),
    LIMIT("fragment-memory-mb", UNIT_MIB, fragment_memory, true),
    LIMIT("tcp-idle-timeout", UNIT_SECONDS, tcp_idle_timeout, false),
    LIMIT("tcp-closed-linger", UNIT_SECONDS, tcp_closed_linger, false),
    LIMIT("tcp-unanswered-syn-timeout", UNIT_SECONDS, tcp_unanswered_syn_timeout, false),
    LIMIT("udp-idle-timeout", UNIT_SECONDS, udp_idle_timeout, false),
    LIMIT("fragment-timeout", UNIT_SECONDS, fragment_timeout, false),
    LIMIT("classify-packet-budget", UNIT_COUNT, classify_packet_budget, false),
    LIMIT("starttls-probe-kb", UNIT_KIB, starttls_probe_bytes, true),
    LIMIT("http-body-cap-kb", UNIT_KIB, http_body_cap, true),
};

static const limit_key_t *find_limit(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(limit_keys); i++)
        if (strcmp(limit_keys[i].name, name) == 0)
            return &limit_keys[i];
    return NULL;
}

/* Errors that every group reports alike. */
static void unknown_key(GError **error, const char *path, const char *group, const char *key)
{
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND, "%s: unknown key '%s' in [%s]",
                path, key, group);
}

/* A key holding a whole number from 1 to max; false with error set otherwise. */
static bool read_whole_number(GKeyFile *kf, const char *path, const char *group, const char *key,
                              guint64 max, guint64 *out, GError **error)
{
    GError *e = NULL;
    guint64 v = g_key_file_get_uint64(kf, group, key, &e);
    if (e || v == 0 || v > max) {
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                    "%s: [%s] %s must be a whole number from 1 to %" G_GUINT64_FORMAT, path, group, key,
                    max);
        g_clear_error(&e);
        return false;
    }
    *out = v;
    return true;
}

/* A ';'-separated list, each item trimmed, in place of *target (an
 * empty list when the value is empty). */
static void read_list(GKeyFile *kf, const char *group, const char *key, char ***target)
{
    char **list = g_key_file_get_string_list(kf, group, key, NULL, NULL);
    for (char **p = list; p && *p; p++)
        g_strstrip(*p);
    g_strfreev(*target);
    *target = list ? list : g_new0(char *, 1);
}

static bool load_limits(monitor_config_t *config, GKeyFile *kf, const char *path, GError **error)
{
    gsize n = 0;
    char **keys = g_key_file_get_keys(kf, GROUP_LIMITS, &n, NULL);
    bool ok = true;
    for (gsize i = 0; ok && i < n; i++) {
        const limit_key_t *lk = find_limit(keys[i]);
        guint64 v = 0;
        if (!lk)
            unknown_key(error, path, GROUP_LIMITS, keys[i]);
        if (!lk || !read_whole_number(kf, path, GROUP_LIMITS, keys[i], G_MAXUINT32, &v, error)) {
            ok = false;
            break;
        }
        uint64_t scaled = lk->unit == UNIT_KIB ? v * 1024 : lk->unit == UNIT_MIB ? v * 1024 * 1024 : v;
        char *field = (char *)&config->limits + lk->offset;
        if (lk->is_size)
            *(size_t *)field = (size_t)scaled;
        else
            *(unsigned *)field = (unsigned)scaled;
    }
    g_strfreev(keys);
    return ok;
}

static bool load_capf(monitor_config_t *config, GKeyFile *kf, const char *path, GError **error)
{
    gsize n = 0;
    char **keys = g_key_file_get_keys(kf, GROUP_CAPF, &n, NULL);
    bool ok = true;
    for (gsize i = 0; ok && i < n; i++) {
        if (strcmp(keys[i], "port") != 0) {
            unknown_key(error, path, GROUP_CAPF, keys[i]);
            ok = false;
            break;
        }
        GError *e = NULL;
        guint64 v = g_key_file_get_uint64(kf, GROUP_CAPF, keys[i], &e);
        if (e || v == 0 || v > 65535) {
            g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                        "%s: [%s] port must be a TCP port (1 to 65535)", path, GROUP_CAPF);
            g_clear_error(&e);
            ok = false;
            break;
        }
        config->capf_port = (uint16_t)v;
    }
    g_strfreev(keys);
    return ok;
}

static bool load_kinds(monitor_config_t *config, GKeyFile *kf, const char *path, GError **error)
{
    gsize n = 0;
    char **keys = g_key_file_get_keys(kf, GROUP_KINDS, &n, NULL);
    bool ok = true;
    for (gsize i = 0; ok && i < n; i++) {
        char ***target = NULL;
        if (strcmp(keys[i], "lsc-issuer-cn-prefixes") == 0)
            target = &config->patterns.lsc_issuer_cn_prefixes;
        else if (strcmp(keys[i], "mic-issuer-cns") == 0)
            target = &config->patterns.mic_issuer_cns;
        if (!target) {
            unknown_key(error, path, GROUP_KINDS, keys[i]);
            ok = false;
            break;
        }
        read_list(kf, GROUP_KINDS, keys[i], target);
    }
    g_strfreev(keys);
    return ok;
}

#define DIAGNOSIS_KEY(name, field, max) { name, offsetof(diagnosis_config_t, field), max }

static const struct diagnosis_key {
    const char *name;
    size_t offset;
    unsigned max;
} diagnosis_keys[] = {
    DIAGNOSIS_KEY("response-timeout-s", response_timeout_s, 3600),
    DIAGNOSIS_KEY("syn-timeout-s", syn_timeout_s, 3600),
    DIAGNOSIS_KEY("repeat-window-s", repeat_window_s, 86400),
    DIAGNOSIS_KEY("expiry-warning-days", expiry_warning_days, 3650),
    DIAGNOSIS_KEY("link-window-s", link_window_s, 3600),
    DIAGNOSIS_KEY("queue-window-s", queue_window_s, 3600),
    DIAGNOSIS_KEY("queue-min-unanswered", queue_min_unanswered, 1000000),
    DIAGNOSIS_KEY("queue-unanswered-pct", queue_unanswered_pct, 100),
    DIAGNOSIS_KEY("queue-silent-s", queue_silent_s, 3600),
};

static bool load_diagnosis(monitor_config_t *config, GKeyFile *kf, const char *path, GError **error)
{
    gsize n = 0;
    char **keys = g_key_file_get_keys(kf, GROUP_DIAGNOSIS, &n, NULL);
    bool ok = true;
    for (gsize i = 0; ok && i < n; i++) {
        if (strcmp(keys[i], "names-of-interest") == 0) {
            read_list(kf, GROUP_DIAGNOSIS, keys[i], &config->diagnosis.names_of_interest);
            continue;
        }
        const struct diagnosis_key *dk = NULL;
        for (size_t k = 0; k < G_N_ELEMENTS(diagnosis_keys); k++)
            if (strcmp(diagnosis_keys[k].name, keys[i]) == 0)
                dk = &diagnosis_keys[k];
        guint64 v = 0;
        if (!dk)
            unknown_key(error, path, GROUP_DIAGNOSIS, keys[i]);
        if (!dk || !read_whole_number(kf, path, GROUP_DIAGNOSIS, keys[i], dk->max, &v, error)) {
            ok = false;
            break;
        }
        *(unsigned *)((char *)&config->diagnosis + dk->offset) = (unsigned)v;
    }
    g_strfreev(keys);
    return ok;
}

bool config_load(monitor_config_t *config, const char *path, GError **error)
{
    GKeyFile *kf = g_key_file_new();
    GError *e = NULL;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e)) {
        g_set_error(error, e->domain, e->code, "cannot use configuration '%s': %s", path, e->message);
        g_error_free(e);
        g_key_file_free(kf);
        return false;
    }
    gsize n = 0;
    char **groups = g_key_file_get_groups(kf, &n);
    bool ok = true;
    for (gsize i = 0; ok && i < n; i++) {
        if (strcmp(groups[i], GROUP_KINDS) != 0 && strcmp(groups[i], GROUP_LIMITS) != 0 &&
            strcmp(groups[i], GROUP_CAPF) != 0 && strcmp(groups[i], GROUP_DIAGNOSIS) != 0) {
            g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
                        "%s: unknown group [%s]", path, groups[i]);
            ok = false;
        }
    }
    g_strfreev(groups);
    ok = ok && load_kinds(config, kf, path, error) && load_limits(config, kf, path, error) &&
         load_capf(config, kf, path, error) && load_diagnosis(config, kf, path, error);
    g_key_file_free(kf);
    if (ok) {
        g_free(config->source);
        config->source = g_strdup(path);
    }
    return ok;
}
