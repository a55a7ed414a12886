#include "cert_json.h"

static void write_string_list(json_t *j, const char *key, char **list)
{
    json_array_begin(j, key);
    for (char **p = list; p && *p; p++)
        json_string(j, NULL, *p);
    json_array_end(j);
}

void cert_json_write(json_t *j, const char *key, const cert_info_t *cert)
{
    json_object_begin(j, key);
    if (!cert->parsed) {
        json_string(j, "kind", cert_kind_name(cert->kind));
        json_string(j, "parse_error", cert->parse_error);
        json_string(j, "sha1", cert->sha1);
        json_uint(j, "length", cert->der_length);
        json_object_end(j);
        return;
    }
    char when[32];
    json_string(j, "subject", cert->subject);
    json_string(j, "issuer", cert->issuer);
    json_string(j, "subject_cn", cert->subject_cn);
    json_string(j, "issuer_cn", cert->issuer_cn);
    json_string(j, "serial", cert->serial);
    json_format_time_seconds(cert->not_before, when, sizeof(when));
    json_string(j, "not_before", when);
    json_format_time_seconds(cert->not_after, when, sizeof(when));
    json_string(j, "not_after", when);
    json_string(j, "sha1", cert->sha1);
    write_string_list(j, "san", cert->san_dns);
    if (cert->san_ip && cert->san_ip[0])
        write_string_list(j, "san_ip", cert->san_ip);
    json_string(j, "kind", cert_kind_name(cert->kind));
    json_bool(j, "self_signed", cert->self_signed);
    json_bool(j, "is_ca", cert->is_ca);
    json_string(j, "key", cert->key_type);
    if (cert->modulus_md5[0])
        json_string(j, "modulus_md5", cert->modulus_md5);
    json_object_end(j);
}
