/* The configuration file (a GLib key file): certificate-kind patterns and
 * limits.  Unknown groups and keys are errors, so a typo is not ignored.
 */
#ifndef ENROLLMON_CONFIG_H
#define ENROLLMON_CONFIG_H

#include "../dissectors/x509.h"
#include "diagnosis.h"
#include "limits.h"

#include <glib.h>

typedef struct monitor_config {
    cert_patterns_t patterns;   /* owned string vectors */
    monitor_limits_t limits;
    uint16_t capf_port;         /* [capf] port; default 3804 */
    diagnosis_config_t diagnosis; /* [diagnosis] */
    char *source;               /* the file read, or NULL for built-in defaults */
} monitor_config_t;

/* Built-in defaults: the same values the shipped enrollmon.conf holds. */
void config_defaults(monitor_config_t *config);

/* Reads path over the defaults.  False with error set on a problem. */
bool config_load(monitor_config_t *config, const char *path, GError **error);

void config_clear(monitor_config_t *config);

#endif
