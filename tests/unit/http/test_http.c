/* Unit tests for dissectors/http.c: where a message starts, where its
 * header block ends (however it arrives), the start line and every header
 * kept, authentication schemes without their credentials, and chunked
 * bodies with extensions and trailers fed in any pieces.
 */
#include "dissectors/http.h"
#include "test_support.h"

#include <glib.h>
#include <string.h>

/* Bytes of a string as an exact-size heap copy (ASan sees overreads). */
static byte_span_t span_copy(const char *text, size_t len)
{
    byte_span_t s = { g_memdup2(text, len ? len : 1), len };
    return s;
}

static void span_free(byte_span_t s)
{
    g_free((void *)s.ptr);
}

static http_probe_t probe(const char *text)
{
    byte_span_t s = span_copy(text, strlen(text));
    http_probe_t r = http_probe_start(s);
    span_free(s);
    return r;
}

static void test_probe(void)
{
    g_assert_cmpint(probe("GET / HTTP/1.1\r\n"), ==, HTTP_PROBE_YES);
    g_assert_cmpint(probe("POST "), ==, HTTP_PROBE_YES);
    g_assert_cmpint(probe("PROPFIND /x"), ==, HTTP_PROBE_YES);
    g_assert_cmpint(probe("VERSION-CONTROL /"), ==, HTTP_PROBE_YES);
    g_assert_cmpint(probe("RPC_IN_DATA /rpc"), ==, HTTP_PROBE_YES);
    g_assert_cmpint(probe("HTTP/1.1 200 OK\r\n"), ==, HTTP_PROBE_YES);
    g_assert_cmpint(probe("HTTP/1.0 "), ==, HTTP_PROBE_YES);
    /* undecided prefixes */
    g_assert_cmpint(probe(""), ==, HTTP_PROBE_NEED_MORE);
    g_assert_cmpint(probe("G"), ==, HTTP_PROBE_NEED_MORE);
    g_assert_cmpint(probe("GET"), ==, HTTP_PROBE_NEED_MORE);
    g_assert_cmpint(probe("HTTP/1."), ==, HTTP_PROBE_NEED_MORE);
    g_assert_cmpint(probe("H"), ==, HTTP_PROBE_NEED_MORE);
    g_assert_cmpint(probe("PROPFI"), ==, HTTP_PROBE_NEED_MORE);
    /* not HTTP */
    g_assert_cmpint(probe("get / HTTP/1.1"), ==, HTTP_PROBE_NO);
    g_assert_cmpint(probe("GETX / HTTP/1.1"), ==, HTTP_PROBE_NO);
    g_assert_cmpint(probe("GET\t/"), ==, HTTP_PROBE_NO);
    g_assert_cmpint(probe("HTTP/2 200"), ==, HTTP_PROBE_NO);
    g_assert_cmpint(probe("HTTP/1.1200"), ==, HTTP_PROBE_NO);
    g_assert_cmpint(probe("\x16\x03\x01\x02\x00"), ==, HTTP_PROBE_NO);
    g_assert_cmpint(probe("SSH-2.0-OpenSSH"), ==, HTTP_PROBE_NO);
    g_assert_cmpint(probe("BOGUSMETHOD /"), ==, HTTP_PROBE_NO);

    byte_span_t s = span_copy("GET /certsrv HTTP/1.1\r\n", 23);
    g_assert_true(http_starts_stream(s));
    span_free(s);
    s = span_copy("GE", 2);
    g_assert_false(http_starts_stream(s)); /* undecided is no */
    span_free(s);
    byte_span_t empty = { NULL, 0 };
    g_assert_false(http_starts_stream(empty));
    g_assert_true(http_method_known("MKCOL", 5));
    g_assert_false(http_method_known("MKCO", 4));
}

static http_frame_status_t frame(const char *text, size_t cap, size_t *len)
{
    byte_span_t s = span_copy(text, strlen(text));
    size_t scanned = 0;
    http_frame_status_t r = http_header_frame(s, cap, &scanned, len);
    span_free(s);
    return r;
}

static void test_header_frame(void)
{
    size_t len = 0;
    g_assert_cmpint(frame("GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY", HTTP_HEADER_MAX, &len), ==, HTTP_FRAME_OK);
    g_assert_cmpuint(len, ==, 27);
    g_assert_cmpint(frame("GET / HTTP/1.1\nHost: a\n\nBODY", HTTP_HEADER_MAX, &len), ==, HTTP_FRAME_OK);
    g_assert_cmpuint(len, ==, 24);
    g_assert_cmpint(frame("GET / HTTP/1.1\r\n\r\n", HTTP_HEADER_MAX, &len), ==, HTTP_FRAME_OK);
    g_assert_cmpuint(len, ==, 18);
    g_assert_cmpint(frame("HTTP/1.1 200\n\n", HTTP_HEADER_MAX, &len), ==, HTTP_FRAME_OK);
    g_assert_cmpuint(len, ==, 14);
    g_assert_cmpint(frame("GET / HTTP/1.1\r\nHost: a\r\n", HTTP_HEADER_MAX, &len), ==, HTTP_FRAME_NEED_MORE);
    g_assert_cmpint(frame("GET / HTTP/1.1\r\nHost: a\r\n\r", HTTP_HEADER_MAX, &len), ==, HTTP_FRAME_NEED_MORE);
    g_assert_cmpint(frame("GET / HTTP/1.1\r\nHost: a\r\r\n", HTTP_HEADER_MAX, &len), ==, HTTP_FRAME_NEED_MORE);
    g_assert_cmpint(frame("GE", HTTP_HEADER_MAX, &len), ==, HTTP_FRAME_NEED_MORE);
    g_assert_cmpint(frame("\x16\x03\x01", HTTP_HEADER_MAX, &len), ==, HTTP_FRAME_INVALID);
    /* the cap */
    g_assert_cmpint(frame("GET / HTTP/1.1\r\nHost: aaaaaaaaaa\r\n\r\n", 20, &len), ==, HTTP_FRAME_TOO_LARGE);
    g_assert_cmpint(frame("GET / HTTP/1.1\r\nHost: aaaaaaaaaa", 20, &len), ==, HTTP_FRAME_TOO_LARGE);
    g_assert_cmpint(frame("GET / HTTP/1.1\r\nHost: aaaaaaaaaa", 40, &len), ==, HTTP_FRAME_NEED_MORE);

    /* Growing one byte at a time with the scan position remembered: the
     * end is found at the same place, and scanning never goes backwards
     * by more than the terminator. */
    const char *msg = "POST /certsrv/certfnsh.asp HTTP/1.1\r\nHost: ca\r\nContent-Length: 3\r\n\r\nabc";
    size_t total = strlen(msg), scanned = 0, found = 0;
    for (size_t n = 1; n <= total; n++) {
        byte_span_t s = span_copy(msg, n);
        size_t before = scanned;
        http_frame_status_t r = http_header_frame(s, HTTP_HEADER_MAX, &scanned, &len);
        span_free(s);
        g_assert_cmpuint(scanned + 3, >=, before);
        if (r == HTTP_FRAME_OK) {
            found = len;
            break;
        }
        g_assert_cmpint(r, ==, HTTP_FRAME_NEED_MORE);
    }
    g_assert_cmpuint(found, ==, total - 3);
}

static bool parse(const char *text, http_message_t *m)
{
    byte_span_t s = span_copy(text, strlen(text));
    bool ok = http_message_parse(s, m);
    span_free(s);
    return ok;
}

static void test_request_line(void)
{
    http_message_t m;
    g_assert_true(parse("GET /certsrv/certnew.cer?ReqID=12&Enc=b64 HTTP/1.1\r\n\r\n", &m));
    g_assert_true(m.is_request);
    g_assert_cmpstr(m.method, ==, "GET");
    g_assert_cmpstr(m.uri, ==, "/certsrv/certnew.cer?ReqID=12&Enc=b64");
    g_assert_cmpuint(m.version_major, ==, 1);
    g_assert_cmpuint(m.version_minor, ==, 1);
    g_assert_cmpint(m.status, ==, 0);
    g_assert_cmpuint(m.header_count, ==, 0);
    g_assert_false(m.has_host);

    g_assert_true(parse("OPTIONS * HTTP/1.0\n\n", &m));
    g_assert_cmpstr(m.method, ==, "OPTIONS");
    g_assert_cmpstr(m.uri, ==, "*");
    g_assert_cmpuint(m.version_minor, ==, 0);

    g_assert_false(parse("GET /\r\n\r\n", &m));          /* HTTP/0.9 */
    g_assert_false(parse("GET  HTTP/1.1\r\n\r\n", &m));  /* no target */
    g_assert_false(parse("FOO / HTTP/1.1\r\n\r\n", &m));
    g_assert_false(parse("GET / HTTX/1.1\r\n\r\n", &m));
    g_assert_false(parse("", &m));

    /* a target longer than the field: cut, its length kept */
    GString *big = g_string_new("GET /");
    for (int i = 0; i < 3000; i++)
        g_string_append_c(big, 'a');
    g_string_append(big, " HTTP/1.1\r\n\r\n");
    g_assert_true(parse(big->str, &m));
    g_assert_cmpuint(m.uri_length, ==, 3001);
    g_assert_cmpuint(strlen(m.uri), ==, HTTP_URI_MAX - 1);
    g_assert_true(m.problems & HTTP_FIELD_CUT);
    g_string_free(big, TRUE);
}

static void test_status_line(void)
{
    http_message_t m;
    g_assert_true(parse("HTTP/1.1 401 Unauthorized\r\n\r\n", &m));
    g_assert_false(m.is_request);
    g_assert_cmpint(m.status, ==, 401);
    g_assert_cmpstr(m.reason, ==, "Unauthorized");
    g_assert_true(parse("HTTP/1.0 200\r\n\r\n", &m));
    g_assert_cmpint(m.status, ==, 200);
    g_assert_cmpstr(m.reason, ==, "");
    g_assert_cmpuint(m.version_minor, ==, 0);
    g_assert_true(parse("HTTP/1.1 404 Not Found \r\n\r\n", &m));
    g_assert_cmpstr(m.reason, ==, "Not Found");
    g_assert_false(parse("HTTP/1.1 20 OK\r\n\r\n", &m));
    g_assert_false(parse("HTTP/1.1 2000 OK\r\n\r\n", &m));
    g_assert_false(parse("HTTP/1.1 099 Low\r\n\r\n", &m));
    g_assert_false(parse("HTTP/2.0 200 OK\r\n\r\n", &m));
}

static void test_headers(void)
{
    http_message_t m;
    g_assert_true(parse("POST /.well-known/est/simpleenroll HTTP/1.1\r\n"
                        "host: ces.example.com:443\r\n"
                        "User-Agent:   CiscoRA 1.0  \r\n"
                        "CONTENT-TYPE: application/pkcs10\r\n"
                        "Content-Length: 870\r\n"
                        "Connection: Keep-Alive, Upgrade\r\n"
                        "Expect: 100-Continue\r\n"
                        "X-Other: whatever\r\n"
                        "\r\n",
                        &m));
    g_assert_true(m.has_host);
    g_assert_cmpstr(m.host, ==, "ces.example.com:443");
    g_assert_true(m.has_user_agent);
    g_assert_cmpstr(m.user_agent, ==, "CiscoRA 1.0");
    g_assert_true(m.has_content_type);
    g_assert_cmpstr(m.content_type, ==, "application/pkcs10");
    g_assert_true(m.has_content_length);
    g_assert_cmpuint(m.content_length, ==, 870);
    g_assert_false(http_length_malformed(&m));
    g_assert_false(m.has_transfer_encoding);
    g_assert_false(m.chunked);
    g_assert_cmpuint(m.connection, ==, HTTP_CONN_KEEP_ALIVE | HTTP_CONN_UPGRADE);
    g_assert_true(m.expect_continue);
    g_assert_cmpuint(m.header_count, ==, 7);
    g_assert_cmpuint(m.problems, ==, 0);

    /* the first Host counts; obs-fold joins a continuation */
    g_assert_true(parse("GET / HTTP/1.1\r\nHost: first\r\nHost: second\r\n"
                        "User-Agent: Mozilla/5.0\r\n (Windows)\r\nConnection: close\r\n\r\n",
                        &m));
    g_assert_cmpstr(m.host, ==, "first");
    g_assert_cmpstr(m.user_agent, ==, "Mozilla/5.0 (Windows)");
    g_assert_cmpuint(m.connection, ==, HTTP_CONN_CLOSE);

    /* control bytes in a value never reach the record */
    g_assert_true(parse("GET / HTTP/1.1\r\nUser-Agent: a\x01\x7f" "b\r\n\r\n", &m));
    g_assert_cmpstr(m.user_agent, ==, "a??b");

    /* bad lines are flagged and skipped */
    g_assert_true(parse("GET / HTTP/1.1\r\nNoColonHere\r\nHost : spaced\r\n: empty\r\nHost: ok\r\n\r\n", &m));
    g_assert_true(m.problems & HTTP_BAD_HEADER_LINE);
    g_assert_cmpstr(m.host, ==, "ok");
    g_assert_cmpuint(m.header_count, ==, 1);
}

static void test_content_length(void)
{
    http_message_t m;
    g_assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &m));
    g_assert_true(m.has_content_length);
    g_assert_cmpuint(m.content_length, ==, 0);
    /* repeated equal values are one length (RFC 9110 8.6) */
    g_assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 42, 42\r\nContent-Length: 42\r\n\r\n", &m));
    g_assert_false(http_length_malformed(&m));
    g_assert_cmpuint(m.content_length, ==, 42);
    /* conflicting */
    g_assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nContent-Length: 43\r\n\r\n", &m));
    g_assert_true(m.problems & HTTP_CONFLICTING_LENGTH);
    g_assert_true(http_length_malformed(&m));
    g_assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", &m));
    g_assert_true(m.problems & HTTP_CONFLICTING_LENGTH);
    /* invalid */
    static const char *const bad[] = { "abc", "-1", "+5", "12a", "1 2", "", "0x10",
                                       "99999999999999999999999" };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *text = g_strdup_printf("POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n", bad[i]);
        g_assert_true(parse(text, &m));
        g_assert_true(m.problems & HTTP_BAD_CONTENT_LENGTH);
        g_assert_true(http_length_malformed(&m));
        g_free(text);
    }
}

static void test_transfer_encoding(void)
{
    http_message_t m;
    g_assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", &m));
    g_assert_true(m.has_transfer_encoding);
    g_assert_true(m.chunked);
    g_assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &m));
    g_assert_true(m.chunked);
    g_assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", &m));
    g_assert_true(m.chunked);
    /* chunked must come last */
    g_assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &m));
    g_assert_true(m.has_transfer_encoding);
    g_assert_false(m.chunked);
    g_assert_false(m.problems & HTTP_BAD_TRANSFER_ENCODING); /* a response: read to the close */
    g_assert_true(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &m));
    g_assert_true(m.problems & HTTP_BAD_TRANSFER_ENCODING);
    /* both: chunked wins, flagged */
    g_assert_true(parse("POST / HTTP/1.1\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n", &m));
    g_assert_true(m.chunked);
    g_assert_true(m.problems & HTTP_LENGTH_AND_CHUNKED);
}

/* True when the needle's bytes occur anywhere in the record. */
static bool record_holds(const http_message_t *m, const char *needle)
{
    return bytes_contain(m, sizeof(*m), needle);
}

static void test_auth_schemes(void)
{
    static const struct {
        const char *value;
        http_auth_scheme_t scheme;
        const char *secret;
    } cases[] = {
        { "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==", HTTP_AUTH_NTLM,
          "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw" },
        { "Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYKKwYBBAGCNwICHgYKKwYBBAGCNwICCqKCBkAEggY8",
          HTTP_AUTH_NEGOTIATE, "YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkq" },
        { "Basic ZW5yb2xsOnMzY3JldFBhc3N3b3Jk", HTTP_AUTH_BASIC, "ZW5yb2xsOnMzY3JldFBhc3N3b3Jk" },
        { "Digest username=\"enroll\", realm=\"ca\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
          "response=\"6629fae49393a05397450978507c4ef1\"",
          HTTP_AUTH_DIGEST, "6629fae49393a05397450978507c4ef1" },
        { "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwaG9uZSJ9.c2lnbmF0dXJl", HTTP_AUTH_BEARER,
          "eyJhbGciOiJIUzI1NiJ9" },
        { "negotiate oYG3MIG0oAMKAQGhDAYKKwYBBAGCNwICCg==", HTTP_AUTH_NEGOTIATE, "oYG3MIG0oAMKAQGhDAYK" },
        { "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830", HTTP_AUTH_OTHER, "AKIDEXAMPLE" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        http_message_t m;
        char *req = g_strdup_printf("GET /certsrv HTTP/1.1\r\nHost: ca\r\nAuthorization: %s\r\n\r\n",
                                    cases[i].value);
        g_assert_true(parse(req, &m));
        g_assert_cmpint(m.authorization, ==, cases[i].scheme);
        g_assert_false(record_holds(&m, cases[i].secret));
        g_free(req);
        char *resp = g_strdup_printf("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: %s\r\n\r\n",
                                     cases[i].value);
        g_assert_true(parse(resp, &m));
        g_assert_cmpint(m.www_authenticate, ==, cases[i].scheme);
        g_assert_false(record_holds(&m, cases[i].secret));
        g_free(resp);
    }
    g_assert_cmpstr(http_auth_scheme_name(HTTP_AUTH_NTLM), ==, "NTLM");
    g_assert_cmpstr(http_auth_scheme_name(HTTP_AUTH_NEGOTIATE), ==, "Negotiate");
    g_assert_cmpstr(http_auth_scheme_name(HTTP_AUTH_BASIC), ==, "Basic");
    g_assert_null(http_auth_scheme_name(HTTP_AUTH_NONE));

    /* IIS offers two challenges in two headers; the first is the scheme */
    http_message_t m;
    g_assert_true(parse("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n"
                        "WWW-Authenticate: NTLM\r\n\r\n",
                        &m));
    g_assert_cmpint(m.www_authenticate, ==, HTTP_AUTH_NEGOTIATE);
    g_assert_cmpuint(m.www_authenticate_schemes, ==, (1u << HTTP_AUTH_NEGOTIATE) | (1u << HTTP_AUTH_NTLM));
    /* several challenges in one header, parameters not taken for schemes */
    g_assert_true(parse("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"ca, x\", "
                        "nonce=\"abc\", qop=\"auth\", Basic realm=\"ca\", NTLM\r\n\r\n",
                        &m));
    g_assert_cmpint(m.www_authenticate, ==, HTTP_AUTH_DIGEST);
    g_assert_cmpuint(m.www_authenticate_schemes, ==,
                     (1u << HTTP_AUTH_DIGEST) | (1u << HTTP_AUTH_BASIC) | (1u << HTTP_AUTH_NTLM));
    /* an NTLM challenge (type 2) carries the server's names: not kept */
    g_assert_true(parse("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM "
                        "TlRMTVNTUAACAAAADAAMADgAAAAFgoqiQ0FESVNTVUlORw==\r\n\r\n",
                        &m));
    g_assert_cmpint(m.www_authenticate, ==, HTTP_AUTH_NTLM);
    g_assert_false(record_holds(&m, "TlRMTVNTUAACAAAADAAMADgAAAAF"));
    /* an empty Authorization */
    g_assert_true(parse("GET / HTTP/1.1\r\nAuthorization: \r\n\r\n", &m));
    g_assert_cmpint(m.authorization, ==, HTTP_AUTH_NONE);
}

/* ---- NTLM / Negotiate steps (which message, never the token) ---- */

/* "NTLMSSP\0" and a little-endian type, after `lead` bytes of a wrapper
 * (SPNEGO) and followed by `tail` bytes; base64; g_free it. */
static char *ntlm_token(size_t lead, uint32_t type, size_t tail)
{
    size_t n = lead + 12 + tail;
    uint8_t *raw = g_malloc0(n);
    for (size_t i = 0; i < lead; i++)
        raw[i] = (uint8_t)(0x60 + i % 16); /* ASN.1-looking bytes, no signature */
    memcpy(raw + lead, "NTLMSSP", 8);
    raw[lead + 8] = (uint8_t)type;
    raw[lead + 9] = (uint8_t)(type >> 8);
    raw[lead + 10] = (uint8_t)(type >> 16);
    raw[lead + 11] = (uint8_t)(type >> 24);
    for (size_t i = 0; i < tail; i++)
        raw[lead + 12 + i] = (uint8_t)(0xA5 ^ i);
    char *b64 = g_base64_encode(raw, n);
    g_free(raw);
    return b64;
}

static uint8_t ntlm_type_of(const char *token)
{
    byte_span_t s = span_copy(token, strlen(token));
    uint8_t t = http_ntlm_message_type(s);
    span_free(s);
    return t;
}

static void test_ntlm_steps(void)
{
    /* the messages of ca-auth-failed.pcapng (frames 12 and 13) */
    g_assert_cmpuint(ntlm_type_of("TlRMTVNTUAABAAAAB4II4gAAAAAoAAAAAAAAACgAAAAKAGNFAAAADw=="), ==,
                     HTTP_NTLM_NEGOTIATE);
    g_assert_cmpuint(ntlm_type_of("TlRMTVNTUAACAAAAEgASADgAAAAFgonikB6PsHqVR2IAAAAAAAAAAGwAbABKAAAA"), ==,
                     HTTP_NTLM_CHALLENGE);
    char *t3 = ntlm_token(0, 3, 200);
    g_assert_cmpuint(ntlm_type_of(t3), ==, HTTP_NTLM_AUTHENTICATE);
    /* wrapped in SPNEGO: the signature further in */
    char *spnego1 = ntlm_token(40, 1, 30);
    g_assert_cmpuint(ntlm_type_of(spnego1), ==, HTTP_NTLM_NEGOTIATE);
    char *spnego3 = ntlm_token(21, 3, 300);
    g_assert_cmpuint(ntlm_type_of(spnego3), ==, HTTP_NTLM_AUTHENTICATE);
    /* at the end of the bytes looked at: found; beyond them: not */
    char *edge = ntlm_token(HTTP_NTLM_SCAN - 12, 2, 40);
    g_assert_cmpuint(ntlm_type_of(edge), ==, HTTP_NTLM_CHALLENGE);
    g_free(edge);
    char *far = ntlm_token(HTTP_NTLM_SCAN - 11, 1, 0);
    g_assert_cmpuint(ntlm_type_of(far), ==, HTTP_NTLM_NONE);
    /* a type that is no NTLM message, a cut signature, a Kerberos token, not base64 */
    char *bad = ntlm_token(0, 7, 8);
    g_assert_cmpuint(ntlm_type_of(bad), ==, HTTP_NTLM_NONE);
    g_assert_cmpuint(ntlm_type_of("TlRMTVNTUAAB"), ==, HTTP_NTLM_NONE);
    g_assert_cmpuint(ntlm_type_of("YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYK"), ==,
                     HTTP_NTLM_NONE);
    g_assert_cmpuint(ntlm_type_of("!!!!TlRMTVNTUAABAAAAB4II4g"), ==, HTTP_NTLM_NONE);
    g_assert_cmpuint(ntlm_type_of(""), ==, HTTP_NTLM_NONE);

    /* Authorization: the step of the token, never the token */
    static const char *const schemes[] = { "NTLM", "Negotiate" };
    const char *tokens[] = { "TlRMTVNTUAABAAAAB4II4gAAAAAoAAAAAAAAACgAAAAKAGNFAAAADw==", t3, spnego1,
                             spnego3 };
    const uint8_t types[] = { 1, 3, 1, 3 };
    for (size_t s = 0; s < G_N_ELEMENTS(schemes); s++) {
        for (size_t i = 0; i < G_N_ELEMENTS(tokens); i++) {
            http_message_t m;
            char *req = g_strdup_printf("GET /certsrv HTTP/1.1\r\nAuthorization: %s %s\r\n\r\n",
                                        schemes[s], tokens[i]);
            g_assert_true(parse(req, &m));
            g_assert_cmpuint(m.authorization_ntlm_type, ==, types[i]);
            char secret[25];
            g_strlcpy(secret, tokens[i] + 16, sizeof(secret));
            g_assert_false(record_holds(&m, secret));
            g_free(req);
        }
    }
    http_message_t m;
    g_assert_true(parse("GET / HTTP/1.1\r\nAuthorization: Basic TlRMTVNTUAADAAAAGAAYAG4AAAA=\r\n\r\n", &m));
    g_assert_cmpint(m.authorization, ==, HTTP_AUTH_BASIC);
    g_assert_cmpuint(m.authorization_ntlm_type, ==, HTTP_NTLM_NONE); /* not read for Basic */
    g_assert_true(parse("GET / HTTP/1.1\r\nAuthorization: NTLM\r\n\r\n", &m));
    g_assert_cmpuint(m.authorization_ntlm_type, ==, HTTP_NTLM_NONE);
    /* the last Authorization counts, its step with it */
    char *two = g_strdup_printf("GET / HTTP/1.1\r\nAuthorization: NTLM %s\r\nAuthorization: Basic eDp5\r\n\r\n",
                                t3);
    g_assert_true(parse(two, &m));
    g_assert_cmpint(m.authorization, ==, HTTP_AUTH_BASIC);
    g_assert_cmpuint(m.authorization_ntlm_type, ==, HTTP_NTLM_NONE);
    g_free(two);

    /* WWW-Authenticate: a challenge with a token goes on, a bare one starts or refuses */
    g_assert_true(parse("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM "
                        "TlRMTVNTUAACAAAAEgASADgAAAAFgonikB6PsHqVR2IAAAAAAAAAAGwAbABKAAAA\r\n\r\n",
                        &m));
    g_assert_true(m.www_authenticate_token);
    g_assert_cmpuint(m.www_authenticate_ntlm_type, ==, HTTP_NTLM_CHALLENGE);
    g_assert_false(record_holds(&m, "TlRMTVNTUAACAAAAEgAS"));
    g_assert_true(parse("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n"
                        "WWW-Authenticate: NTLM\r\n\r\n",
                        &m));
    g_assert_false(m.www_authenticate_token);
    g_assert_cmpuint(m.www_authenticate_ntlm_type, ==, HTTP_NTLM_NONE);
    /* a Kerberos continuation: a token, not NTLM */
    g_assert_true(parse("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate "
                        "oYG3MIG0oAMKAQGhDAYKKwYBBAGCNwICCg==\r\n\r\n",
                        &m));
    g_assert_true(m.www_authenticate_token);
    g_assert_cmpuint(m.www_authenticate_ntlm_type, ==, HTTP_NTLM_NONE);
    /* Basic's parameters are no token; a token in a second header counts */
    g_assert_true(parse("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"ca\"\r\n\r\n", &m));
    g_assert_false(m.www_authenticate_token);
    char *later = g_strdup_printf("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n"
                                  "WWW-Authenticate: Basic realm=\"x\", NTLM %s\r\n\r\n",
                                  spnego1);
    g_assert_true(parse(later, &m));
    g_assert_true(m.www_authenticate_token);
    g_assert_cmpuint(m.www_authenticate_ntlm_type, ==, HTTP_NTLM_NEGOTIATE);
    g_free(later);

    g_free(t3);
    g_free(spnego1);
    g_free(spnego3);
    g_free(far);
    g_free(bad);
}

/* ---- chunked bodies ---- */

typedef struct chunk_run {
    http_chunk_result_t end;
    GString *body;
    size_t consumed;   /* input bytes taken up to DONE/ERROR */
    http_chunked_t st;
} chunk_run_t;

/* Feeds text in pieces of `piece` bytes (0: all at once). */
static void chunk_feed(const char *text, size_t len, size_t piece, chunk_run_t *run)
{
    http_chunked_init(&run->st);
    run->body = g_string_new(NULL);
    run->end = HTTP_CHUNKED_MORE;
    run->consumed = 0;
    size_t off = 0;
    while (off < len && run->end == HTTP_CHUNKED_MORE) {
        size_t n = piece && piece < len - off ? piece : len - off;
        byte_span_t s = span_copy(text + off, n);
        cursor_t in = cur_from_span(s);
        for (;;) {
            byte_span_t data;
            http_chunk_result_t r = http_chunked_step(&run->st, &in, &data);
            if (r == HTTP_CHUNKED_DATA) {
                g_string_append_len(run->body, (const char *)data.ptr, (gssize)data.len);
                continue;
            }
            if (r != HTTP_CHUNKED_MORE)
                run->end = r;
            break;
        }
        run->consumed = off + cur_offset(&in);
        span_free(s);
        off += n;
    }
}

static void test_chunked(void)
{
    static const char body[] =
        "7;name=value;flag\r\nMozilla\r\n"
        "9 ; ext=\"quoted;str\"\r\nDeveloper\r\n"
        "00007\r\nNetwork\r\n"
        "0;last\r\n"
        "Expires: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
        "X-Checksum: abc\r\n"
        "\r\n"
        "HTTP/1.1 200 OK"; /* the next message: not consumed */
    size_t len = strlen(body);
    size_t body_end = len - strlen("HTTP/1.1 200 OK");
    for (size_t piece = 0; piece <= 7; piece++) {
        chunk_run_t run;
        chunk_feed(body, len, piece, &run);
        g_assert_cmpint(run.end, ==, HTTP_CHUNKED_DONE);
        g_assert_cmpstr(run.body->str, ==, "MozillaDeveloperNetwork");
        g_assert_cmpuint(run.consumed, ==, body_end);
        g_assert_cmpuint(run.st.total, ==, 23);
        g_assert_cmpuint(run.st.chunks, ==, 3);
        g_assert_true(run.st.extensions);
        g_assert_cmpuint(run.st.trailers, ==, 2);
        g_string_free(run.body, TRUE);
    }
    /* bare LF line ends, upper-case hex, no trailers */
    chunk_run_t run;
    chunk_feed("A\nabcdefghij\n0\n\n", 17, 0, &run);
    g_assert_cmpint(run.end, ==, HTTP_CHUNKED_DONE);
    g_assert_cmpstr(run.body->str, ==, "abcdefghij");
    g_assert_false(run.st.extensions);
    g_assert_cmpuint(run.st.trailers, ==, 0);
    g_string_free(run.body, TRUE);
    /* incomplete: more needed */
    chunk_feed("5\r\nabc", 6, 0, &run);
    g_assert_cmpint(run.end, ==, HTTP_CHUNKED_MORE);
    g_assert_cmpstr(run.body->str, ==, "abc");
    g_string_free(run.body, TRUE);

    /* errors */
    static const char *const bad[] = {
        "\r\n",                     /* no size */
        "g\r\n",                    /* not hex */
        "5\r\nabcdeX\r\n0\r\n\r\n", /* no line end after the data */
        "5\rX",                     /* CR without LF */
        "11111111111111111\r\n",    /* 17 hex digits: over 64 bits */
        "0\r\n\rX",                 /* the last CR without LF */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        chunk_feed(bad[i], strlen(bad[i]), 0, &run);
        g_assert_cmpint(run.end, ==, HTTP_CHUNKED_ERROR);
        g_string_free(run.body, TRUE);
    }
    /* bounds: a size line and trailers that never end */
    GString *ext = g_string_new("1;");
    while (ext->len <= HTTP_CHUNK_LINE_MAX)
        g_string_append_c(ext, 'x');
    chunk_feed(ext->str, ext->len, 100, &run);
    g_assert_cmpint(run.end, ==, HTTP_CHUNKED_ERROR);
    g_string_free(run.body, TRUE);
    g_string_free(ext, TRUE);
    GString *tr = g_string_new("0\r\n");
    while (tr->len <= HTTP_TRAILER_MAX + 10)
        g_string_append(tr, "X-T: 1\r\n");
    chunk_feed(tr->str, tr->len, 4096, &run);
    g_assert_cmpint(run.end, ==, HTTP_CHUNKED_ERROR);
    g_string_free(run.body, TRUE);
    g_string_free(tr, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/http/probe", test_probe);
    g_test_add_func("/http/header-frame", test_header_frame);
    g_test_add_func("/http/request-line", test_request_line);
    g_test_add_func("/http/status-line", test_status_line);
    g_test_add_func("/http/headers", test_headers);
    g_test_add_func("/http/content-length", test_content_length);
    g_test_add_func("/http/transfer-encoding", test_transfer_encoding);
    g_test_add_func("/http/auth-schemes", test_auth_schemes);
    g_test_add_func("/http/ntlm-steps", test_ntlm_steps);
    g_test_add_func("/http/chunked", test_chunked);
    return g_test_run();
}
