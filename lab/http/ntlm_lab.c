#include "ntlm_lab.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static const unsigned char signature[8] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0 };

/* Negotiate flags (MS-NLMP 2.2.2.5) */
#define F_UNICODE 0x00000001u
#define F_OEM 0x00000002u
#define F_REQUEST_TARGET 0x00000004u
#define F_NTLM 0x00000200u
#define F_ALWAYS_SIGN 0x00008000u
#define F_TARGET_TYPE_DOMAIN 0x00010000u
#define F_EXTENDED_SESSIONSECURITY 0x00080000u
#define F_TARGET_INFO 0x00800000u
#define F_VERSION 0x02000000u
#define F_128 0x20000000u
#define F_KEY_EXCH 0x40000000u
#define F_56 0x80000000u

#define NEGOTIATE_FLAGS                                                                            \
    (F_UNICODE | F_OEM | F_REQUEST_TARGET | F_NTLM | F_ALWAYS_SIGN | F_EXTENDED_SESSIONSECURITY |  \
     F_VERSION | F_128 | F_KEY_EXCH | F_56)
#define CHALLENGE_FLAGS                                                                            \
    (F_UNICODE | F_REQUEST_TARGET | F_NTLM | F_ALWAYS_SIGN | F_TARGET_TYPE_DOMAIN |                \
     F_EXTENDED_SESSIONSECURITY | F_TARGET_INFO | F_VERSION | F_128 | F_KEY_EXCH | F_56)

/* AV pair ids (MS-NLMP 2.2.2.1) */
#define AV_EOL 0
#define AV_NB_COMPUTER 1
#define AV_NB_DOMAIN 2
#define AV_DNS_COMPUTER 3
#define AV_DNS_DOMAIN 4
#define AV_TIMESTAMP 7

#define NT_BLOB_MIN 28
#define NT_RESPONSE_MAX 4096

/* Windows 10.0 build 17763, NTLM revision 15 */
static const unsigned char version[8] = { 10, 0, 0x63, 0x45, 0, 0, 0, 15 };

static void put_u16(GByteArray *b, uint16_t v)
{
    guint8 x[2] = { (guint8)v, (guint8)(v >> 8) };
    g_byte_array_append(b, x, 2);
}

static void put_u32(GByteArray *b, uint32_t v)
{
    guint8 x[4] = { (guint8)v, (guint8)(v >> 8), (guint8)(v >> 16), (guint8)(v >> 24) };
    g_byte_array_append(b, x, 4);
}

static void set_u16(GByteArray *b, size_t at, uint16_t v)
{
    b->data[at] = (guint8)v;
    b->data[at + 1] = (guint8)(v >> 8);
}

static void set_u32(GByteArray *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->data[at + (size_t)i] = (guint8)(v >> (8 * i));
}

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Appends data as the payload of the security buffer whose header is at
 * `field` (length, maximum length, offset). */
static void put_payload(GByteArray *b, size_t field, const guint8 *data, size_t len)
{
    set_u16(b, field, (uint16_t)len);
    set_u16(b, field + 2, (uint16_t)len);
    set_u32(b, field + 4, (uint32_t)b->len);
    if (len)
        g_byte_array_append(b, data, (guint)len);
}

static GByteArray *utf16le(const char *utf8)
{
    GByteArray *b = g_byte_array_new();
    glong n = 0;
    gunichar2 *u = g_utf8_to_utf16(utf8 ? utf8 : "", -1, NULL, &n, NULL);
    for (glong i = 0; u && i < n; i++)
        put_u16(b, u[i]);
    g_free(u);
    return b;
}

static bool utf16le_to_utf8(const unsigned char *p, size_t len, char *out)
{
    if (len % 2 || len > 2 * NTLM_LAB_NAME_MAX)
        return false;
    gunichar2 u[NTLM_LAB_NAME_MAX];
    for (size_t i = 0; i < len / 2; i++)
        u[i] = get_u16(p + 2 * i);
    glong n = 0;
    gchar *s = g_utf16_to_utf8(u, (glong)(len / 2), NULL, &n, NULL);
    bool ok = s && n <= NTLM_LAB_NAME_MAX && strlen(s) == (size_t)n;
    if (ok)
        memcpy(out, s, (size_t)n + 1);
    g_free(s);
    return ok;
}

static void filetime_now(unsigned char out[8])
{
    uint64_t t = ((uint64_t)time(NULL) + 11644473600u) * 10000000u;
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(t >> (8 * i));
}

static void header(GByteArray *b, uint32_t type)
{
    g_byte_array_append(b, signature, sizeof(signature));
    put_u32(b, type);
}

int ntlm_lab_message_type(const unsigned char *msg, size_t len)
{
    if (len < 12 || memcmp(msg, signature, sizeof(signature)) != 0)
        return 0;
    uint32_t t = get_u32(msg + 8);
    return t >= 1 && t <= 3 ? (int)t : 0;
}

GByteArray *ntlm_lab_negotiate(void)
{
    GByteArray *b = g_byte_array_new();
    header(b, 1);
    put_u32(b, NEGOTIATE_FLAGS);
    static const guint8 empty_secbuf[8] = { 0 };
    g_byte_array_append(b, empty_secbuf, 8); /* domain: none supplied */
    g_byte_array_append(b, empty_secbuf, 8); /* workstation: none supplied */
    g_byte_array_append(b, version, sizeof(version));
    set_u32(b, 24 + 4, 40); /* empty buffers point at the end of the message */
    set_u32(b, 16 + 4, 40);
    return b;
}

static void av_pair(GByteArray *b, uint16_t id, const char *utf8)
{
    GByteArray *v = utf16le(utf8);
    put_u16(b, id);
    put_u16(b, (uint16_t)v->len);
    g_byte_array_append(b, v->data, v->len);
    g_byte_array_unref(v);
}

GByteArray *ntlm_lab_challenge(const unsigned char challenge[8], const char *nb_domain,
                               const char *nb_computer, const char *dns_domain,
                               const char *dns_computer)
{
    GByteArray *b = g_byte_array_new();
    header(b, 2);
    static const guint8 zero[8] = { 0 };
    g_byte_array_append(b, zero, 8); /* 12: target name */
    put_u32(b, CHALLENGE_FLAGS);     /* 20 */
    g_byte_array_append(b, challenge, 8); /* 24 */
    g_byte_array_append(b, zero, 8);      /* 32: reserved */
    g_byte_array_append(b, zero, 8);      /* 40: target info */
    g_byte_array_append(b, version, sizeof(version)); /* 48 */

    GByteArray *target = utf16le(nb_domain);
    put_payload(b, 12, target->data, target->len);
    g_byte_array_unref(target);

    GByteArray *info = g_byte_array_new();
    av_pair(info, AV_NB_DOMAIN, nb_domain);
    av_pair(info, AV_NB_COMPUTER, nb_computer);
    av_pair(info, AV_DNS_DOMAIN, dns_domain);
    av_pair(info, AV_DNS_COMPUTER, dns_computer);
    unsigned char ts[8];
    filetime_now(ts);
    put_u16(info, AV_TIMESTAMP);
    put_u16(info, 8);
    g_byte_array_append(info, ts, 8);
    put_u16(info, AV_EOL);
    put_u16(info, 0);
    put_payload(b, 40, info->data, info->len);
    g_byte_array_unref(info);
    return b;
}

/* A security buffer at `field` of msg: its payload must lie wholly inside
 * the message, after a header of hdr bytes. */
static bool secbuf(const unsigned char *msg, size_t len, size_t field, size_t hdr,
                   const unsigned char **data, size_t *dlen)
{
    if (field + 8 > len)
        return false;
    size_t l = get_u16(msg + field);
    size_t off = get_u32(msg + field + 4);
    if (l == 0) {
        *data = msg;
        *dlen = 0;
        return true;
    }
    if (off < hdr || off > len || l > len - off)
        return false;
    *data = msg + off;
    *dlen = l;
    return true;
}

bool ntlm_lab_parse_challenge(const unsigned char *msg, size_t len, unsigned char challenge[8],
                              GByteArray **target_info)
{
    const unsigned char *info;
    size_t info_len;
    if (ntlm_lab_message_type(msg, len) != 2 || len < 48 ||
        !secbuf(msg, len, 40, 48, &info, &info_len) || info_len > 1024)
        return false;
    memcpy(challenge, msg + 24, 8);
    *target_info = g_byte_array_new();
    g_byte_array_append(*target_info, info, (guint)info_len);
    return true;
}

/* The password-keyed digest both sides compute: HMAC-MD5 under
 * MD5(UTF-16LE(password)) of UTF-16LE(UPPER(user) domain), then HMAC-MD5
 * under that of challenge || blob.  (NTLMv2 has MD4 in the first step.) */
static bool proof(const char *password, const char *user, const char *domain,
                  const unsigned char challenge[8], const unsigned char *blob, size_t blob_len,
                  unsigned char out[16])
{
    GByteArray *pw = utf16le(password);
    unsigned char pw_hash[16];
    unsigned int n = 0;
    bool ok = EVP_Digest(pw->data, pw->len, pw_hash, &n, EVP_md5(), NULL) == 1;
    OPENSSL_cleanse(pw->data, pw->len);
    g_byte_array_unref(pw);

    gchar *upper = g_utf8_strup(user, -1);
    GByteArray *id = utf16le(upper);
    GByteArray *dom = utf16le(domain);
    g_byte_array_append(id, dom->data, dom->len);
    g_free(upper);
    g_byte_array_unref(dom);

    unsigned char owf[16];
    ok = ok && HMAC(EVP_md5(), pw_hash, 16, id->data, id->len, owf, &n) != NULL;
    g_byte_array_unref(id);

    GByteArray *msg = g_byte_array_new();
    g_byte_array_append(msg, challenge, 8);
    g_byte_array_append(msg, blob, (guint)blob_len);
    ok = ok && HMAC(EVP_md5(), owf, 16, msg->data, msg->len, out, &n) != NULL;
    g_byte_array_unref(msg);
    OPENSSL_cleanse(owf, sizeof(owf));
    OPENSSL_cleanse(pw_hash, sizeof(pw_hash));
    return ok;
}

GByteArray *ntlm_lab_authenticate(const unsigned char challenge[8], const GByteArray *target_info,
                                  const char *domain, const char *user, const char *workstation,
                                  const char *password)
{
    /* the NTLMv2 client blob */
    GByteArray *blob = g_byte_array_new();
    static const guint8 blob_head[8] = { 1, 1, 0, 0, 0, 0, 0, 0 };
    g_byte_array_append(blob, blob_head, 8);
    unsigned char ts[8], client_challenge[8], session_key[16];
    filetime_now(ts);
    if (RAND_bytes(client_challenge, 8) != 1 || RAND_bytes(session_key, 16) != 1) {
        g_byte_array_unref(blob);
        return NULL;
    }
    g_byte_array_append(blob, ts, 8);
    g_byte_array_append(blob, client_challenge, 8);
    put_u32(blob, 0);
    g_byte_array_append(blob, target_info->data, target_info->len);
    put_u32(blob, 0);

    unsigned char nt_proof[16];
    if (!proof(password, user, domain, challenge, blob->data, blob->len, nt_proof)) {
        g_byte_array_unref(blob);
        return NULL;
    }
    GByteArray *nt = g_byte_array_new();
    g_byte_array_append(nt, nt_proof, 16);
    g_byte_array_append(nt, blob->data, blob->len);
    g_byte_array_unref(blob);

    GByteArray *b = g_byte_array_new();
    header(b, 3);
    static const guint8 zero[24] = { 0 };
    for (int i = 0; i < 6; i++)
        g_byte_array_append(b, zero, 8); /* 12 LM, 20 NT, 28 domain, 36 user, 44 workstation, 52 key */
    put_u32(b, NEGOTIATE_FLAGS & ~(uint32_t)F_OEM); /* 60 */
    g_byte_array_append(b, version, sizeof(version)); /* 64 */

    GByteArray *d = utf16le(domain), *u = utf16le(user), *w = utf16le(workstation);
    put_payload(b, 28, d->data, d->len);
    put_payload(b, 36, u->data, u->len);
    put_payload(b, 44, w->data, w->len);
    put_payload(b, 12, zero, 24); /* LMv2 is zeros when the target gave a timestamp */
    put_payload(b, 20, nt->data, nt->len);
    put_payload(b, 52, session_key, 16);
    g_byte_array_unref(d);
    g_byte_array_unref(u);
    g_byte_array_unref(w);
    g_byte_array_unref(nt);
    return b;
}

ntlm_lab_verdict_t ntlm_lab_verify(const unsigned char *msg, size_t len,
                                   const unsigned char challenge[8], const char *password,
                                   ntlm_lab_identity_t *who)
{
    memset(who, 0, sizeof(*who));
    if (ntlm_lab_message_type(msg, len) != 3 || len < 64)
        return NTLM_LAB_MALFORMED;
    const unsigned char *nt, *dom, *usr, *ws;
    size_t nt_len, dom_len, usr_len, ws_len;
    if (!secbuf(msg, len, 20, 64, &nt, &nt_len) || !secbuf(msg, len, 28, 64, &dom, &dom_len) ||
        !secbuf(msg, len, 36, 64, &usr, &usr_len) || !secbuf(msg, len, 44, 64, &ws, &ws_len))
        return NTLM_LAB_MALFORMED;
    if (!utf16le_to_utf8(dom, dom_len, who->domain) || !utf16le_to_utf8(usr, usr_len, who->user) ||
        !utf16le_to_utf8(ws, ws_len, who->workstation))
        return NTLM_LAB_MALFORMED;
    if (nt_len < 16 + NT_BLOB_MIN || nt_len > NT_RESPONSE_MAX || nt[16] != 1 || nt[17] != 1)
        return NTLM_LAB_MALFORMED;
    unsigned char expected[16];
    if (!proof(password, who->user, who->domain, challenge, nt + 16, nt_len - 16, expected))
        return NTLM_LAB_MALFORMED;
    return CRYPTO_memcmp(expected, nt, 16) == 0 ? NTLM_LAB_VERIFIED : NTLM_LAB_BAD_PASSWORD;
}
