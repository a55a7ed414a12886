/* TLS record layer and handshake messages: RFC 5246 sections 6.2 and 7.4,
 * RFC 8446 sections 4 and 5, RFC 6066 (server_name), RFC 7301 (ALPN),
 * RFC 7627 (extended master secret), RFC 7366 (encrypt-then-MAC).
 */
#include "tls.h"

#include <stdio.h>

enum {
    EXT_SERVER_NAME = 0,
    EXT_ALPN = 16,
    EXT_ENCRYPT_THEN_MAC = 22,
    EXT_EXTENDED_MASTER_SECRET = 23,
    EXT_SUPPORTED_VERSIONS = 43,
    EXT_CERTIFICATE_AUTHORITIES = 47,
};

/* RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest. */
static const uint8_t hello_retry_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

bool tls_is_grease(uint16_t value)
{
    /* RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa */
    return (value & 0x0f0f) == 0x0a0a && (value >> 8) == (value & 0xff);
}

static bool version_plausible(uint16_t version)
{
    /* Record versions are SSL 3.0 to TLS 1.2 (TLS 1.3 freezes them at 1.2);
     * 0x0300 also covers the SSLv3 record of old clients. */
    return version >= TLS_VERSION_SSL3 && version <= TLS_VERSION_1_3;
}

tls_parse_status_t tls_record_header_parse(cursor_t *c, tls_record_header_t *out)
{
    if (!cur_has(c, TLS_RECORD_HEADER_LEN)) {
        /* Judge what is there so a stream of garbage is rejected early. */
        size_t have = cur_remaining(c);
        if (have >= 1) {
            uint8_t type = cur_peek_u8(c, 0);
            if (type < TLS_CT_CHANGE_CIPHER_SPEC || type > TLS_CT_HEARTBEAT)
                return TLS_PARSE_INVALID;
        }
        if (have >= 2 && cur_peek_u8(c, 1) != 3)
            return TLS_PARSE_INVALID;
        return TLS_PARSE_NEED_MORE;
    }
    out->content_type = cur_u8(c);
    out->version = cur_be16(c);
    out->length = cur_be16(c);
    if (out->content_type < TLS_CT_CHANGE_CIPHER_SPEC || out->content_type > TLS_CT_HEARTBEAT)
        return TLS_PARSE_INVALID;
    if (!version_plausible(out->version))
        return TLS_PARSE_INVALID;
    if (out->length == 0 && out->content_type != TLS_CT_APPLICATION_DATA)
        return TLS_PARSE_INVALID; /* only application data may be empty */
    if (out->length > TLS_RECORD_MAX_LEN)
        return TLS_PARSE_INVALID;
    return TLS_PARSE_OK;
}

/* Probes read byte by byte so that a short prefix can be judged: each
 * byte either rules the match out, or the next one is needed. */
typedef struct probe_reader {
    cursor_t c;
    bool short_read;
} probe_reader_t;

static bool probe_byte(probe_reader_t *r, uint8_t *out)
{
    if (!cur_has(&r->c, 1)) {
        r->short_read = true;
        return false;
    }
    *out = cur_u8(&r->c);
    return true;
}

static tls_probe_t probe_header(probe_reader_t *r, uint8_t wanted_type, tls_record_header_t *h)
{
    uint8_t b[5];
    for (int i = 0; i < 5; i++) {
        if (!probe_byte(r, &b[i]))
            return TLS_PROBE_NEED_MORE;
        bool ok = true;
        switch (i) {
        case 0:
            ok = wanted_type ? b[0] == wanted_type
                             : b[0] >= TLS_CT_CHANGE_CIPHER_SPEC && b[0] <= TLS_CT_HEARTBEAT;
            break;
        case 1: ok = b[1] == 3; break;
        case 2: ok = b[2] <= 4; break;
        case 4: {
            uint16_t len = (uint16_t)((b[3] << 8) | b[4]);
            ok = len <= TLS_RECORD_MAX_LEN && (len > 0 || b[0] == TLS_CT_APPLICATION_DATA);
            h->content_type = b[0];
            h->version = (uint16_t)((b[1] << 8) | b[2]);
            h->length = len;
            break;
        }
        default: break;
        }
        if (!ok)
            return TLS_PROBE_NO;
    }
    return TLS_PROBE_YES;
}

tls_probe_t tls_probe_record_header(byte_span_t data)
{
    probe_reader_t r = { cur_from_span(data), false };
    tls_record_header_t h;
    return probe_header(&r, 0, &h);
}

tls_probe_t tls_probe_alert_record(byte_span_t data)
{
    probe_reader_t r = { cur_from_span(data), false };
    tls_record_header_t h;
    tls_probe_t p = probe_header(&r, TLS_CT_ALERT, &h);
    if (p != TLS_PROBE_YES)
        return p;
    uint8_t level;
    if (h.length != 2)
        return TLS_PROBE_NO;
    if (!probe_byte(&r, &level))
        return TLS_PROBE_NEED_MORE;
    return (level == 1 || level == 2) ? TLS_PROBE_YES : TLS_PROBE_NO;
}

tls_probe_t tls_probe_hello(byte_span_t data, uint8_t hello_type)
{
    probe_reader_t r = { cur_from_span(data), false };
    tls_record_header_t h;
    tls_probe_t p = probe_header(&r, TLS_CT_HANDSHAKE, &h);
    if (p != TLS_PROBE_YES)
        return p;
    if (h.length < TLS_HANDSHAKE_HEADER_LEN)
        return TLS_PROBE_NO;
    uint8_t b[6];
    for (int i = 0; i < 6; i++) {
        if (!probe_byte(&r, &b[i]))
            return TLS_PROBE_NEED_MORE;
        bool ok = true;
        switch (i) {
        case 0: ok = b[0] == hello_type; break;
        case 3: {
            uint32_t len = ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
            ok = len >= 38 && len < (1u << 16);
            break;
        }
        case 4: ok = b[4] == 3 || b[4] == 0x7f; break;
        case 5: ok = b[4] == 0x7f || b[5] <= 4; break;
        default: break;
        }
        if (!ok)
            return TLS_PROBE_NO;
    }
    return TLS_PROBE_YES;
}

bool tls_starts_with_client_hello(byte_span_t data)
{
    return tls_probe_hello(data, TLS_HS_CLIENT_HELLO) == TLS_PROBE_YES;
}

bool tls_starts_with_server_hello(byte_span_t data)
{
    return tls_probe_hello(data, TLS_HS_SERVER_HELLO) == TLS_PROBE_YES;
}

bool tls_is_exact_record_chain(byte_span_t data)
{
    cursor_t c = cur_from_span(data);
    unsigned records = 0;
    while (!cur_empty(&c)) {
        tls_record_header_t rec;
        if (tls_record_header_parse(&c, &rec) != TLS_PARSE_OK)
            return false;
        if (!cur_skip(&c, rec.length))
            return false;
        records++;
    }
    return records > 0;
}

tls_parse_status_t tls_handshake_header_parse(cursor_t *c, tls_handshake_header_t *out)
{
    if (!cur_has(c, TLS_HANDSHAKE_HEADER_LEN))
        return TLS_PARSE_NEED_MORE;
    out->type = cur_u8(c);
    out->length = cur_be24(c);
    return TLS_PARSE_OK;
}

/* Copies a host name, escaping anything that is not printable ASCII so the
 * text is safe in logs and JSON whatever the wire held. */
static void copy_printable(byte_span_t src, char *dst, size_t dst_len)
{
    size_t out = 0;
    cursor_t c = cur_from_span(src);
    while (!cur_empty(&c) && out + 1 < dst_len) {
        uint8_t ch = cur_u8(&c);
        if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
            dst[out++] = (char)ch;
        } else {
            if (out + 5 >= dst_len)
                break;
            snprintf(dst + out, dst_len - out, "\\x%02x", ch);
            out += 4;
        }
    }
    dst[out] = '\0';
}

static void parse_alpn_first(cursor_t ext, char *dst, size_t dst_len)
{
    cursor_t list = cur_sub_be16len(&ext);
    cursor_t first = cur_sub_u8len(&list);
    if (cur_ok(&first))
        copy_printable(cur_rest(&first), dst, dst_len);
}

static void parse_server_name(cursor_t ext, tls_client_hello_t *out)
{
    cursor_t list = cur_sub_be16len(&ext);
    while (cur_ok(&list) && !cur_empty(&list)) {
        uint8_t name_type = cur_u8(&list);
        cursor_t name = cur_sub_be16len(&list);
        if (!cur_ok(&name))
            return;
        if (name_type == 0 && !out->has_sni) {
            out->has_sni = true;
            copy_printable(cur_rest(&name), out->sni, sizeof(out->sni));
        }
    }
}

tls_parse_status_t tls_client_hello_parse(byte_span_t body, tls_client_hello_t *out)
{
    memset(out, 0, sizeof(*out));
    cursor_t c = cur_from_span(body);
    out->legacy_version = cur_be16(&c);
    cur_copy(&c, out->random, sizeof(out->random));
    cursor_t session_id = cur_sub_u8len(&c);
    out->session_id_len = (uint8_t)cur_remaining(&session_id);
    cursor_t suites = cur_sub_be16len(&c);
    out->cipher_suite_count = (uint16_t)(cur_remaining(&suites) / 2);
    cursor_t compression = cur_sub_u8len(&c);
    (void)compression;
    if (!cur_ok(&c) || out->session_id_len > 32)
        return TLS_PARSE_INVALID;
    if (cur_empty(&c))
        return TLS_PARSE_OK; /* extensions are optional before TLS 1.2 */
    cursor_t extensions = cur_sub_be16len(&c);
    while (cur_ok(&extensions) && !cur_empty(&extensions)) {
        uint16_t type = cur_be16(&extensions);
        cursor_t ext = cur_sub_be16len(&extensions);
        if (!cur_ok(&ext))
            break;
        out->extension_count++;
        switch (type) {
        case EXT_SERVER_NAME:
            parse_server_name(ext, out);
            break;
        case EXT_ALPN:
            parse_alpn_first(ext, out->alpn, sizeof(out->alpn));
            break;
        case EXT_SUPPORTED_VERSIONS: {
            cursor_t list = cur_sub_u8len(&ext);
            while (cur_has(&list, 2)) {
                uint16_t v = cur_be16(&list);
                if (!tls_is_grease(v) && out->version_count < TLS_MAX_VERSIONS)
                    out->versions[out->version_count++] = v;
            }
            break;
        }
        case EXT_EXTENDED_MASTER_SECRET:
            out->offers_extended_master_secret = true;
            break;
        case EXT_ENCRYPT_THEN_MAC:
            out->offers_encrypt_then_mac = true;
            break;
        default:
            break;
        }
    }
    return cur_ok(&extensions) && cur_empty(&c) ? TLS_PARSE_OK : TLS_PARSE_INVALID;
}

/* Orders versions so that drafts of 1.3 (0x7fNN) rank just below 1.3. */
static unsigned version_rank(uint16_t v)
{
    if ((v >> 8) == 0x7f)
        return ((unsigned)TLS_VERSION_1_3 << 8) - 0x100 + (v & 0xff);
    return (unsigned)v << 8;
}

uint16_t tls_client_hello_max_version(const tls_client_hello_t *hello)
{
    uint16_t best = hello->legacy_version;
    for (unsigned i = 0; i < hello->version_count; i++)
        if (version_rank(hello->versions[i]) > version_rank(best))
            best = hello->versions[i];
    return best;
}

tls_parse_status_t tls_server_hello_parse(byte_span_t body, tls_server_hello_t *out)
{
    memset(out, 0, sizeof(*out));
    cursor_t c = cur_from_span(body);
    out->legacy_version = cur_be16(&c);
    out->selected_version = out->legacy_version;
    cur_copy(&c, out->random, sizeof(out->random));
    /* TLS 1.3 drafts before 22 dropped session id and compression. */
    bool early_draft = (out->legacy_version >> 8) == 0x7f && (out->legacy_version & 0xff) < 22;
    if (!early_draft) {
        cursor_t session_id = cur_sub_u8len(&c);
        if (cur_remaining(&session_id) > 32)
            return TLS_PARSE_INVALID;
    }
    out->cipher_suite = cur_be16(&c);
    if (!early_draft)
        out->compression = cur_u8(&c);
    if (!cur_ok(&c))
        return TLS_PARSE_INVALID;
    out->is_hello_retry_request = memcmp(out->random, hello_retry_random, 32) == 0;
    if (cur_empty(&c))
        return TLS_PARSE_OK;
    cursor_t extensions = cur_sub_be16len(&c);
    while (cur_ok(&extensions) && !cur_empty(&extensions)) {
        uint16_t type = cur_be16(&extensions);
        cursor_t ext = cur_sub_be16len(&extensions);
        if (!cur_ok(&ext))
            break;
        switch (type) {
        case EXT_SUPPORTED_VERSIONS: {
            uint16_t v = cur_be16(&ext);
            if (cur_ok(&ext))
                out->selected_version = v;
            break;
        }
        case EXT_ALPN:
            parse_alpn_first(ext, out->alpn, sizeof(out->alpn));
            break;
        case EXT_EXTENDED_MASTER_SECRET:
            out->extended_master_secret = true;
            break;
        case EXT_ENCRYPT_THEN_MAC:
            out->encrypt_then_mac = true;
            break;
        default:
            break;
        }
    }
    return cur_ok(&extensions) && cur_empty(&c) ? TLS_PARSE_OK : TLS_PARSE_INVALID;
}

tls_parse_status_t tls_certificate_parse(byte_span_t body, bool tls13, tls_certificate_list_t *out)
{
    memset(out, 0, sizeof(*out));
    cursor_t c = cur_from_span(body);
    if (tls13) {
        cursor_t context = cur_sub_u8len(&c);
        (void)context;
    }
    cursor_t list = cur_sub_be24len(&c);
    if (!cur_ok(&c) || !cur_empty(&c))
        return TLS_PARSE_INVALID;
    while (!cur_empty(&list)) {
        cursor_t cert = cur_sub_be24len(&list);
        if (tls13) {
            cursor_t extensions = cur_sub_be16len(&list);
            (void)extensions;
        }
        if (!cur_ok(&list))
            return TLS_PARSE_INVALID;
        if (out->kept < TLS_MAX_CERTS)
            out->der[out->kept++] = cur_rest(&cert);
        out->count++;
    }
    return TLS_PARSE_OK;
}

static bool collect_ca_names(cursor_t names, tls_certificate_request_t *out)
{
    while (cur_ok(&names) && !cur_empty(&names)) {
        cursor_t dn = cur_sub_be16len(&names);
        if (!cur_ok(&dn))
            return false;
        if (out->ca_names_kept < TLS_MAX_CA_NAMES)
            out->ca_names[out->ca_names_kept++] = cur_rest(&dn);
        out->ca_name_count++;
    }
    return cur_ok(&names);
}

tls_parse_status_t tls_certificate_request_parse(byte_span_t body, uint16_t version,
                                                 tls_certificate_request_t *out)
{
    memset(out, 0, sizeof(*out));
    cursor_t c = cur_from_span(body);
    if (version == TLS_VERSION_1_3 || (version >> 8) == 0x7f) {
        cursor_t context = cur_sub_u8len(&c);
        cursor_t extensions = cur_sub_be16len(&c);
        (void)context;
        bool names_ok = true;
        while (cur_ok(&extensions) && !cur_empty(&extensions)) {
            uint16_t type = cur_be16(&extensions);
            cursor_t ext = cur_sub_be16len(&extensions);
            if (type == EXT_CERTIFICATE_AUTHORITIES && !collect_ca_names(cur_sub_be16len(&ext), out))
                names_ok = false;
        }
        return cur_ok(&c) && cur_empty(&c) && cur_ok(&extensions) && names_ok ? TLS_PARSE_OK
                                                                              : TLS_PARSE_INVALID;
    }
    cursor_t types = cur_sub_u8len(&c);
    (void)types;
    if (version >= TLS_VERSION_1_2) {
        cursor_t sigalgs = cur_sub_be16len(&c);
        (void)sigalgs;
    }
    cursor_t names = cur_sub_be16len(&c);
    if (!cur_ok(&c))
        return TLS_PARSE_INVALID;
    return collect_ca_names(names, out) && cur_empty(&c) ? TLS_PARSE_OK : TLS_PARSE_INVALID;
}

tls_parse_status_t tls_alert_parse(cursor_t *c, tls_alert_t *out)
{
    if (!cur_has(c, 2))
        return TLS_PARSE_NEED_MORE;
    out->level = cur_u8(c);
    out->description = cur_u8(c);
    return (out->level == 1 || out->level == 2) ? TLS_PARSE_OK : TLS_PARSE_INVALID;
}

const char *tls_alert_level_name(uint8_t level)
{
    switch (level) {
    case 1: return "warning";
    case 2: return "fatal";
    default: return "unknown";
    }
}

/* RFC 8446 6.2 and the IANA TLS Alerts registry */
const char *tls_alert_description_name(uint8_t description)
{
    switch (description) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 21: return "decryption_failed";
    case 22: return "record_overflow";
    case 30: return "decompression_failure";
    case 40: return "handshake_failure";
    case 41: return "no_certificate";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 60: return "export_restriction";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 100: return "no_renegotiation";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 111: return "certificate_unobtainable";
    case 112: return "unrecognized_name";
    case 113: return "bad_certificate_status_response";
    case 114: return "bad_certificate_hash_value";
    case 115: return "unknown_psk_identity";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return "unknown";
    }
}

void tls_version_format(uint16_t version, char *out, size_t out_len)
{
    switch (version) {
    case TLS_VERSION_SSL3: snprintf(out, out_len, "SSLv3"); return;
    case TLS_VERSION_1_0: snprintf(out, out_len, "TLSv1"); return;
    case TLS_VERSION_1_1: snprintf(out, out_len, "TLSv1.1"); return;
    case TLS_VERSION_1_2: snprintf(out, out_len, "TLSv1.2"); return;
    case TLS_VERSION_1_3: snprintf(out, out_len, "TLSv1.3"); return;
    default:
        if ((version >> 8) == 0x7f)
            snprintf(out, out_len, "TLSv1.3 (draft %u)", version & 0xff);
        else
            snprintf(out, out_len, "0x%04x", version);
    }
}

const char *tls_handshake_type_name(uint8_t type)
{
    switch (type) {
    case TLS_HS_HELLO_REQUEST: return "hello_request";
    case TLS_HS_CLIENT_HELLO: return "client_hello";
    case TLS_HS_SERVER_HELLO: return "server_hello";
    case TLS_HS_NEW_SESSION_TICKET: return "new_session_ticket";
    case TLS_HS_END_OF_EARLY_DATA: return "end_of_early_data";
    case TLS_HS_ENCRYPTED_EXTENSIONS: return "encrypted_extensions";
    case TLS_HS_CERTIFICATE: return "certificate";
    case TLS_HS_SERVER_KEY_EXCHANGE: return "server_key_exchange";
    case TLS_HS_CERTIFICATE_REQUEST: return "certificate_request";
    case TLS_HS_SERVER_HELLO_DONE: return "server_hello_done";
    case TLS_HS_CERTIFICATE_VERIFY: return "certificate_verify";
    case TLS_HS_CLIENT_KEY_EXCHANGE: return "client_key_exchange";
    case TLS_HS_FINISHED: return "finished";
    case TLS_HS_CERTIFICATE_STATUS: return "certificate_status";
    case TLS_HS_KEY_UPDATE: return "key_update";
    default: return "unknown";
    }
}
