/* A certificate as the events present it (events.md, `cert`). */
#ifndef ENROLLMON_CERT_JSON_H
#define ENROLLMON_CERT_JSON_H

#include "../dissectors/x509.h"
#include "json.h"

/* Writes the certificate object; key is NULL inside an array. */
void cert_json_write(json_t *j, const char *key, const cert_info_t *cert);

#endif
