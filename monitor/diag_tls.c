/* TLS verdicts: who refused whose certificate and why (the certificate rows
 * of failures.md), and the warnings of a certificate that was accepted
 * although expired, not yet valid, issued to another name or about to
 * expire.
 *
 * failures.md, "Reading the evidence": the alert and who sent it, together
 * with the certificates, name the cause; the alert alone does not.  So a
 * refusal is read from the first fatal alert that concerns certificates
 * (or, for clients that check after the handshake, from a close without
 * any data), and its cause from the certificates the refused side sent.
 * Where the certificates are not visible (TLS 1.3 without keys) nothing is
 * concluded: "not inspectable" is never "OK" nor a guess.
 *
 * Every connection is judged once, at its end: the close that follows a
 * refusal belongs to the evidence, and the TLS record is only handed over
 * when something in it changed (a message, an alert, the state), never for
 * application data, so whether the client carried on is known for sure
 * only then.  Until then the records only bring the device name and the
 * names of interest.
 */
#include "diag_internal.h"
#include "tls_flow.h"

#include <openssl/x509_vfy.h>
#include <string.h>

#define ALERT_LEVEL_FATAL 2
#define ALERT_BAD_CERTIFICATE 42
#define ALERT_UNSUPPORTED_CERTIFICATE 43
#define ALERT_CERTIFICATE_REVOKED 44
#define ALERT_CERTIFICATE_EXPIRED 45
#define ALERT_CERTIFICATE_UNKNOWN 46
#define ALERT_UNKNOWN_CA 48
#define ALERT_DECRYPT_ERROR 51

#define SECONDS_PER_DAY INT64_C(86400)

/* A client that refuses a certificate after the handshake (older curl
 * checking the name) closes as soon as the check fails, milliseconds after
 * the handshake completed.  A connection left idle and closed later (a
 * test client quitting, a browser's unused pre-connection, a pool's
 * spare) refused nothing: a second is already generous. */
#define REFUSAL_CLOSE_WITHIN_US (1 * G_USEC_PER_SEC)

/* One connection being judged. */
typedef struct tls_case {
    diagnosis_t *d;
    const flow_t *flow;
    const tls_conn_t *tls;
    diag_flow_t *df;              /* NULL when the memory cap refused the state */
} tls_case_t;

/* How the refusing side said no: a fatal alert, or closing the connection
 * without sending anything. */
typedef struct refusal {
    const tls_alert_seen_t *alert; /* NULL: by closing */
    packet_info_t at;
} refusal_t;

/* ---- reading the record ---- */

/* x at or after ref, in capture order. */
static bool packet_not_before(const packet_info_t *x, const packet_info_t *ref)
{
    if (x->ts_us != ref->ts_us)
        return x->ts_us > ref->ts_us;
    return x->pcap_cnt >= ref->pcap_cnt;
}

static bool alert_readable(const tls_alert_seen_t *alert)
{
    return !alert->encrypted || alert->decrypted;
}

/* Alerts a TLS stack sends when a certificate does not pass its checks
 * (decrypt_error: the peer's signature does not match the certificate's
 * key, as with a regenerated CAPF certificate).  handshake_failure,
 * protocol_version and the like are about the negotiation, not about a
 * certificate. */
static bool is_certificate_alert(uint8_t description)
{
    switch (description) {
    case ALERT_BAD_CERTIFICATE:
    case ALERT_UNSUPPORTED_CERTIFICATE:
    case ALERT_CERTIFICATE_REVOKED:
    case ALERT_CERTIFICATE_EXPIRED:
    case ALERT_CERTIFICATE_UNKNOWN:
    case ALERT_UNKNOWN_CA:
    case ALERT_DECRYPT_ERROR:
        return true;
    default:
        return false;
    }
}

/* The first fatal alert whose description is known (sent in the clear, or
 * decrypted), from either side: it ended the handshake. */
static const tls_alert_seen_t *first_fatal_alert(const tls_conn_t *tls)
{
    for (guint i = 0; i < tls->alerts->len; i++) {
        const tls_alert_seen_t *alert = &g_array_index(tls->alerts, tls_alert_seen_t, i);
        if (alert_readable(alert) && alert->level == ALERT_LEVEL_FATAL)
            return alert;
    }
    return NULL;
}

/* The latest Certificate message of one side holding at least one
 * certificate, sent no later than before (NULL: whenever). */
static const tls_cert_message_t *cert_message(const tls_conn_t *tls, bool from_client,
                                              const packet_info_t *before)
{
    const tls_cert_message_t *found = NULL;
    for (guint i = 0; i < tls->cert_messages->len; i++) {
        const tls_cert_message_t *m = &g_array_index(tls->cert_messages, tls_cert_message_t, i);
        if (tls_dir_is_client(tls, m->from_dir) != from_client || !m->certs->len)
            continue;
        if (before && !packet_not_before(before, &m->at))
            continue;
        found = m;
    }
    return found;
}

static const cert_info_t *cert_at(const tls_cert_message_t *m, guint i)
{
    if (!m || i >= m->certs->len)
        return NULL;
    const cert_ref_t *ref = g_ptr_array_index(m->certs, i);
    return ref->info.parsed ? &ref->info : NULL;
}

static const cert_info_t *leaf_of(const tls_cert_message_t *m)
{
    return cert_at(m, 0);
}

typedef enum validity {
    VALIDITY_OK = 0,
    VALIDITY_NOT_YET,
    VALIDITY_EXPIRED,
} validity_t;

/* A certificate against the capture time of the packet that carried it. */
static validity_t validity_at(const cert_info_t *cert, int64_t ts_us)
{
    int64_t now_s = ts_us / G_USEC_PER_SEC;
    if (cert->not_before > now_s)
        return VALIDITY_NOT_YET;
    if (cert->not_after < now_s)
        return VALIDITY_EXPIRED;
    return VALIDITY_OK;
}

static verdict_id_t validity_verdict(validity_t validity)
{
    return validity == VALIDITY_NOT_YET ? V_CERT_NOT_YET_VALID : V_CERT_EXPIRED;
}

/* Whether the client went on to use the connection.  TLS 1.2 and earlier
 * send the Finished as a handshake record, so any application-data record
 * is data.  In TLS 1.3 every protected record looks like application data
 * and the client's first one is its Finished: with the keys the inner type
 * tells; without them, only a second record shows the client went on. */
static bool client_sent_data(const tls_conn_t *tls)
{
    int client = tls->client_dir;
    if (!tls->tls13)
        return tls->application_records[client] > 0;
    if (tls->decrypt.records[client] > 0)
        return tls->plaintext_application_records[client] > 0;
    return tls->application_records[client] > 1;
}

/* ---- names ---- */

/* A reference name pattern (the certificate's) against the name asked for:
 * case-insensitive, a trailing dot ignored, "*" as the whole first label
 * standing for exactly one label (RFC 6125 6.4.3, the common subset). */
static bool host_name_matches(const char *pattern, const char *name)
{
    size_t plen = strlen(pattern), nlen = strlen(name);
    if (plen && pattern[plen - 1] == '.')
        plen--;
    if (nlen && name[nlen - 1] == '.')
        nlen--;
    if (!plen || !nlen)
        return false;
    if (pattern[0] == '*' && plen > 2 && pattern[1] == '.') {
        const char *dot = memchr(name, '.', nlen);
        if (!dot || dot == name)
            return false; /* the wildcard must stand for a non-empty label */
        size_t rest = nlen - (size_t)(dot - name);
        return rest == plen - 1 && g_ascii_strncasecmp(dot, pattern + 1, rest) == 0;
    }
    return plen == nlen && g_ascii_strncasecmp(pattern, name, nlen) == 0;
}

/* The name against the certificate's CN (several CNs are joined with '+')
 * and its SAN DNS names. */
static bool cert_names_host(const cert_info_t *cert, const char *name)
{
    for (char **san = cert->san_dns; san && *san; san++) {
        if (host_name_matches(*san, name))
            return true;
    }
    if (!cert->subject_cn)
        return false;
    bool matched = false;
    char **cns = g_strsplit(cert->subject_cn, "+", -1);
    for (char **cn = cns; *cn && !matched; cn++)
        matched = host_name_matches(*cn, name);
    g_strfreev(cns);
    return matched;
}

/* What a resolver could be asked: no spaces, no wildcard, not an address. */
static bool looks_like_host_name(const char *s)
{
    if (!s || !*s || strlen(s) > 253 || g_hostname_is_ip_address(s))
        return false;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_')
            return false;
    }
    return true;
}

/* A phone's certificate CN is its device name, sometimes after the model
 * ("CP-8845-SEP74A02FC0A675" in MICs): CUCM and CAPF know the phone as
 * SEP + its MAC address, so that part is kept when it is there. */
static void device_from_cn(const char *cn, char *out, size_t len)
{
    for (const char *p = strstr(cn, "SEP"); p; p = strstr(p + 1, "SEP")) {
        size_t hex = 0;
        while (hex < 12 && g_ascii_isxdigit(p[3 + hex]))
            hex++;
        bool at_start = p == cn || p[-1] == '-' || p[-1] == '_';
        if (hex == 12 && at_start && !g_ascii_isalnum(p[15])) {
            g_strlcpy(out, p, len < 16 ? len : 16);
            return;
        }
    }
    g_strlcpy(out, cn, len);
}

/* The client's certificate names the device (LSC or MIC); the SNI and the
 * server certificate's names are names the enrollment parties use, whose
 * resolution matters (DNS_NXDOMAIN).  Each message is read once. */
static void read_new_facts(tls_case_t *c)
{
    const tls_conn_t *tls = c->tls;
    diag_flow_tls_t *st = c->df ? &c->df->tls : NULL;
    if (tls->has_sni && tls->sni[0] && (!st || !st->sni_noted)) {
        diag_parties_note_name(c->d, tls->sni);
        if (st)
            st->sni_noted = true;
    }
    guint from = st ? st->cert_messages_seen : 0;
    for (guint i = from; i < tls->cert_messages->len; i++) {
        const tls_cert_message_t *m = &g_array_index(tls->cert_messages, tls_cert_message_t, i);
        const cert_info_t *leaf = leaf_of(m);
        if (!leaf || !tls->roles_known)
            continue;
        if (tls_dir_is_client(tls, m->from_dir)) {
            bool phone = leaf->kind == CERT_KIND_LSC || leaf->kind == CERT_KIND_MIC;
            if (phone && leaf->subject_cn && c->df)
                device_from_cn(leaf->subject_cn, c->df->device, sizeof(c->df->device));
            continue;
        }
        if (looks_like_host_name(leaf->subject_cn))
            diag_parties_note_name(c->d, leaf->subject_cn);
        for (char **san = leaf->san_dns; san && *san; san++) {
            if (looks_like_host_name(*san))
                diag_parties_note_name(c->d, *san);
        }
    }
    if (st && tls->roles_known)
        st->cert_messages_seen = tls->cert_messages->len;
}

/* ---- writing verdicts ---- */

/* "CN=" before cert_name when it is a CN, nothing before a whole subject. */
static const char *cn_prefix(const cert_info_t *cert)
{
    return cert->subject_cn ? "CN=" : "";
}

static const char *cert_name(const cert_info_t *cert)
{
    if (cert->subject_cn)
        return cert->subject_cn;
    return cert->subject && *cert->subject ? cert->subject : "(no subject)";
}

static const char *issuer_name(const cert_info_t *cert)
{
    if (cert->issuer_cn)
        return cert->issuer_cn;
    return cert->issuer && *cert->issuer ? cert->issuer : "(no issuer)";
}

static void format_utc(int64_t epoch_s, char *out, size_t len)
{
    GDateTime *t = g_date_time_new_from_unix_utc(epoch_s);
    char *text = t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ") : NULL;
    g_strlcpy(out, text ? text : "(out of range)", len);
    g_free(text);
    if (t)
        g_date_time_unref(t);
}

static void fact_cert(verdict_t *v, const cert_info_t *cert)
{
    verdict_fact_text(v, "subject", cert->subject ? cert->subject : "");
    verdict_fact_text(v, "issuer", cert->issuer ? cert->issuer : "");
    char when[40];
    format_utc(cert->not_before, when, sizeof(when));
    verdict_fact_text(v, "not_before", when);
    format_utc(cert->not_after, when, sizeof(when));
    verdict_fact_text(v, "not_after", when);
    verdict_fact_text(v, "kind", cert_kind_name(cert->kind));
}

static void fact_refusal(verdict_t *v, const refusal_t *r)
{
    if (r->alert)
        verdict_fact_text(v, "alert", tls_alert_description_name(r->alert->description));
    else
        verdict_fact_text(v, "alert", "none (closed without sending data)");
}

/* "with a fatal unknown_ca alert" / "by closing ...". */
static void refusal_text(const refusal_t *r, char *out, size_t len)
{
    if (r->alert)
        g_snprintf(out, len, "with a fatal %s alert",
                   tls_alert_description_name(r->alert->description));
    else
        g_strlcpy(out, "by closing the connection without sending any data", len);
}

/* A verdict about this connection, with the frames it rests on: the
 * ClientHello, the Certificate messages, the refusal and the close. */
static void verdict_begin(tls_case_t *c, verdict_t *v, verdict_id_t id, const packet_info_t *at)
{
    verdict_init(v, id, at);
    diag_verdict_for_flow(c->d, v, c->flow);
    const tls_conn_t *tls = c->tls;
    if (tls->client_hello_seen)
        verdict_add_evidence(v, tls->client_hello_at.pcap_cnt);
    for (guint i = 0; i < tls->cert_messages->len; i++)
        verdict_add_evidence(v, g_array_index(tls->cert_messages, tls_cert_message_t, i).at.pcap_cnt);
}

static void verdict_finish(tls_case_t *c, verdict_t *v, const refusal_t *r)
{
    if (r) {
        verdict_add_evidence(v, r->at.pcap_cnt);
        fact_refusal(v, r);
    }
    if (c->flow->closed_by >= 0) {
        verdict_add_evidence(v, c->flow->closed_at.pcap_cnt);
        if (r && packet_not_before(&c->flow->closed_at, &v->at))
            v->at = c->flow->closed_at; /* the close completed the evidence */
    }
    if (c->tls->has_sni && c->tls->sni[0])
        verdict_fact_text(v, "sni", c->tls->sni);
    diag_emit(c->d, v);
}

/* ---- the server refused the client's certificate ---- */

static void server_refused_client(tls_case_t *c, const tls_alert_seen_t *alert)
{
    const tls_cert_message_t *m = cert_message(c->tls, true, &alert->at);
    const cert_info_t *leaf = leaf_of(m);
    if (!leaf)
        return; /* no client certificate to blame (or not visible) */
    refusal_t r = { alert, alert->at };
    verdict_t v;
    if (alert->description == ALERT_UNKNOWN_CA &&
        (leaf->kind == CERT_KIND_LSC || leaf->kind == CERT_KIND_MIC)) {
        verdict_id_t id = leaf->kind == CERT_KIND_LSC ? V_LSC_CA_UNTRUSTED : V_MIC_CA_UNTRUSTED;
        if (!diag_flow_once(c->df, id))
            return;
        verdict_begin(c, &v, id, &alert->at);
        verdict_set_summary(&v,
                            "%s presented its %s (%s%s, issued by %s) to %s, which refused it "
                            "with a fatal unknown_ca alert: the server does not trust that issuer",
                            v.device, cert_kind_name(leaf->kind), cn_prefix(leaf), cert_name(leaf),
                            issuer_name(leaf), v.server);
        fact_cert(&v, leaf);
        verdict_finish(c, &v, &r);
        return;
    }
    /* OpenSSL answers an expired peer certificate with certificate_expired,
     * one not yet valid with bad_certificate. */
    if (alert->description != ALERT_CERTIFICATE_EXPIRED &&
        alert->description != ALERT_BAD_CERTIFICATE)
        return;
    validity_t validity = validity_at(leaf, m->at.ts_us);
    if (validity == VALIDITY_OK)
        return;
    verdict_id_t id = validity_verdict(validity);
    if (!diag_flow_once(c->df, id))
        return;
    verdict_begin(c, &v, id, &alert->at);
    char when[40];
    format_utc(validity == VALIDITY_EXPIRED ? leaf->not_after : leaf->not_before, when, sizeof(when));
    verdict_set_summary(&v,
                        "%s refused the client certificate of %s (%s%s, issued by %s) with a "
                        "fatal %s alert: it %s %s, and the capture time is %s that",
                        v.server, v.device, cn_prefix(leaf), cert_name(leaf), issuer_name(leaf),
                        tls_alert_description_name(alert->description),
                        validity == VALIDITY_EXPIRED ? "expired on" : "is valid only from", when,
                        validity == VALIDITY_EXPIRED ? "after" : "before");
    fact_cert(&v, leaf);
    verdict_finish(c, &v, &r);
}

/* ---- the client refused the server's certificate ---- */

/* The certificate of the server's chain outside its validity period: the
 * leaf whatever the refusal; another one of the chain only when the alert
 * says it was about time (a stale cross-certificate the client ignores
 * must not take the blame for another refusal). */
static const cert_info_t *chain_time_problem(const tls_cert_message_t *m, const refusal_t *r,
                                             validity_t *validity)
{
    const cert_info_t *leaf = leaf_of(m);
    *validity = validity_at(leaf, m->at.ts_us);
    if (*validity != VALIDITY_OK)
        return leaf;
    bool time_alert = r->alert && (r->alert->description == ALERT_CERTIFICATE_EXPIRED ||
                                   r->alert->description == ALERT_BAD_CERTIFICATE);
    if (!time_alert)
        return NULL;
    for (guint i = 1; i < m->certs->len; i++) {
        const cert_info_t *cert = cert_at(m, i);
        if (!cert)
            continue;
        *validity = validity_at(cert, m->at.ts_us);
        if (*validity != VALIDITY_OK)
            return cert;
    }
    return NULL;
}

static void client_refused_server(tls_case_t *c, const refusal_t *r)
{
    const tls_cert_message_t *m = cert_message(c->tls, false, &r->at);
    const cert_info_t *leaf = leaf_of(m);
    if (!leaf)
        return; /* TLS 1.3 without keys, or a resumed session: nothing to read the cause from */
    const cert_info_t *last = cert_at(m, m->certs->len - 1);
    const char *sni = c->tls->has_sni && c->tls->sni[0] ? c->tls->sni : NULL;
    bool unknown_ca = r->alert && r->alert->description == ALERT_UNKNOWN_CA;
    char how[96];
    refusal_text(r, how, sizeof(how));
    verdict_t v;
    verdict_id_t id;
    validity_t validity;
    const cert_info_t *stale = chain_time_problem(m, r, &validity);

    if (c->flow->server.port == c->d->a->capf_port) {
        id = V_CAPF_SERVER_CERT_REJECTED;
        if (!diag_flow_once(c->df, id))
            return;
        verdict_begin(c, &v, id, &r->at);
        verdict_set_summary(&v,
                            "The phone %s refused the certificate CAPF %s presented (%s%s, issued "
                            "by %s) %s: it is not the CAPF certificate the phone's ITL holds",
                            v.device, v.server, cn_prefix(leaf), cert_name(leaf), issuer_name(leaf), how);
        fact_cert(&v, leaf);
    } else if (stale) {
        id = validity_verdict(validity);
        if (!diag_flow_once(c->df, id))
            return;
        verdict_begin(c, &v, id, &r->at);
        char when[40];
        format_utc(validity == VALIDITY_EXPIRED ? stale->not_after : stale->not_before, when,
                   sizeof(when));
        verdict_set_summary(&v,
                            "%s refused the certificate of %s %s: %s%s%s (issued by %s) %s %s, "
                            "and the capture time is %s that",
                            v.device, v.server, how, stale == leaf ? "" : "its chain's ",
                            cn_prefix(stale), cert_name(stale), issuer_name(stale),
                            validity == VALIDITY_EXPIRED ? "expired on" : "is valid only from",
                            when, validity == VALIDITY_EXPIRED ? "after" : "before");
        fact_cert(&v, stale);
    } else if (leaf->self_signed) {
        id = V_SERVER_CERT_SELF_SIGNED;
        if (!diag_flow_once(c->df, id))
            return;
        verdict_begin(c, &v, id, &r->at);
        verdict_set_summary(&v, "%s refused the self-signed certificate of %s (%s%s) %s",
                            v.device, v.server, cn_prefix(leaf), cert_name(leaf), how);
        fact_cert(&v, leaf);
    } else if (sni && !cert_names_host(leaf, sni)) {
        id = V_SERVER_NAME_MISMATCH;
        if (!diag_flow_once(c->df, id))
            return;
        verdict_begin(c, &v, id, &r->at);
        verdict_set_summary(&v,
                            "%s asked %s for %s, but the certificate is issued to %s%s (issued "
                            "by %s) and none of its names matches; the client refused it %s",
                            v.device, v.server, sni, cn_prefix(leaf), cert_name(leaf), issuer_name(leaf), how);
        fact_cert(&v, leaf);
    } else {
        /* The chain: against --trust when given (a time problem was
         * handled above); without it, a chain that stops short of a
         * self-signed root is the likely reason for unknown_ca or a close;
         * failing that, unknown_ca says the client's own store lacks it. */
        const trust_verify_result_t *trust = &m->trust;
        bool untrusted_here = trust->checked && trust->chain.code != X509_V_OK;
        bool incomplete = !trust->checked && (!last || !last->self_signed) && (unknown_ca || !r->alert);
        if (!untrusted_here && !incomplete && !unknown_ca)
            return; /* an alert that names no cause the certificates explain */
        id = V_CA_CHAIN_UNTRUSTED;
        if (!diag_flow_once(c->df, id))
            return;
        verdict_begin(c, &v, id, &r->at);
        const char *why;
        char reason[160];
        if (untrusted_here) {
            g_snprintf(reason, sizeof(reason), "it does not verify against the trust store given (%s)",
                       trust->chain.text);
            why = reason;
        } else if (incomplete) {
            g_snprintf(reason, sizeof(reason),
                       "the chain sent ends at %s, issued by %s, which the server did not send",
                       last ? cert_name(last) : "an unreadable certificate",
                       last ? issuer_name(last) : "an unknown issuer");
            why = reason;
        } else {
            why = "the client does not trust the root it leads to";
        }
        verdict_set_summary(&v, "%s refused the certificate chain of %s (%s%s, issued by %s) %s: %s",
                            v.device, v.server, cn_prefix(leaf), cert_name(leaf), issuer_name(leaf), how, why);
        fact_cert(&v, leaf);
        verdict_fact_number(&v, "chain_length", m->count);
        if (untrusted_here) {
            verdict_fact_text(&v, "verify_error", trust->chain.text);
            verdict_fact_number(&v, "verify_depth", trust->chain.depth);
        }
    }
    verdict_finish(c, &v, r);
}

/* ---- the client carried on: warnings ---- */

static void accepted_warning(tls_case_t *c, verdict_id_t id, const cert_info_t *cert, bool is_client,
                             const packet_info_t *at, const char *what)
{
    if (!diag_flow_once(c->df, id))
        return;
    verdict_t v;
    verdict_begin(c, &v, id, at);
    v.severity = VERDICT_WARNING;
    verdict_set_summary(&v, "%s's %s certificate (%s%s, issued by %s), seen between %s and %s, "
                        "%s; it was accepted",
                        is_client ? v.device : v.server, is_client ? "client" : "server",
                        cn_prefix(cert), cert_name(cert), issuer_name(cert), v.client, v.server, what);
    fact_cert(&v, cert);
    verdict_finish(c, &v, NULL);
}

static void check_accepted_cert(tls_case_t *c, const tls_cert_message_t *m, bool is_client,
                                const packet_info_t *at)
{
    const cert_info_t *cert = leaf_of(m);
    if (!cert)
        return;
    char text[160], when[40];
    validity_t validity = validity_at(cert, m->at.ts_us);
    if (validity != VALIDITY_OK) {
        format_utc(validity == VALIDITY_EXPIRED ? cert->not_after : cert->not_before, when, sizeof(when));
        if (validity == VALIDITY_EXPIRED)
            g_snprintf(text, sizeof(text), "expired on %s, before the capture time", when);
        else
            g_snprintf(text, sizeof(text), "becomes valid only on %s, after the capture time", when);
        accepted_warning(c, validity_verdict(validity), cert, is_client, at, text);
        return;
    }
    int64_t window_s = (int64_t)c->d->config.expiry_warning_days * SECONDS_PER_DAY;
    int64_t left_s = cert->not_after - m->at.ts_us / G_USEC_PER_SEC;
    if (left_s <= window_s) {
        format_utc(cert->not_after, when, sizeof(when));
        g_snprintf(text, sizeof(text), "expires on %s, in %" G_GINT64_FORMAT " day%s", when,
                   left_s / SECONDS_PER_DAY, left_s / SECONDS_PER_DAY == 1 ? "" : "s");
        accepted_warning(c, V_CERT_EXPIRING_SOON, cert, is_client, at, text);
    }
}

/* Accepted certificates are no failure: CUCM's own self-signed CAPF,
 * CallManager and Tomcat certificates are self-signed by design.  What
 * still deserves a warning is a name that does not match and a validity
 * period that is over, not begun or ending soon. */
static void client_accepted(tls_case_t *c, const packet_info_t *at)
{
    const tls_cert_message_t *server_msg = cert_message(c->tls, false, NULL);
    const cert_info_t *leaf = leaf_of(server_msg);
    const char *sni = c->tls->has_sni && c->tls->sni[0] ? c->tls->sni : NULL;
    if (leaf && sni && !cert_names_host(leaf, sni) && diag_flow_once(c->df, V_SERVER_NAME_MISMATCH)) {
        verdict_t v;
        verdict_begin(c, &v, V_SERVER_NAME_MISMATCH, at);
        v.severity = VERDICT_WARNING;
        verdict_set_summary(&v,
                            "%s asked %s for %s, but the certificate is issued to %s%s (issued "
                            "by %s) and none of its names matches; the client carried on anyway",
                            v.device, v.server, sni, cn_prefix(leaf), cert_name(leaf), issuer_name(leaf));
        fact_cert(&v, leaf);
        verdict_finish(c, &v, NULL);
    }
    check_accepted_cert(c, server_msg, false, at);
    check_accepted_cert(c, cert_message(c->tls, true, NULL), true, at);
}

/* ---- judging a connection ---- */

/* The client closed first, right after the handshake (measured from the
 * packet that completed it, else from the server's certificate). */
static bool client_closed_soon(const tls_case_t *c)
{
    const flow_t *flow = c->flow;
    if (flow->closed_by < 0 || !tls_dir_is_client(c->tls, flow->closed_by))
        return false;
    int64_t since_us;
    if (c->df && c->df->tls.established_us) {
        since_us = c->df->tls.established_us;
    } else {
        const tls_cert_message_t *m = cert_message(c->tls, false, NULL);
        if (!m)
            return false;
        since_us = m->at.ts_us;
    }
    return flow->closed_at.ts_us - since_us <= REFUSAL_CLOSE_WITHIN_US;
}

static void judge(tls_case_t *c, const packet_info_t *at)
{
    const tls_conn_t *tls = c->tls;
    if (c->df)
        c->df->tls.judged = true;
    const tls_alert_seen_t *alert = first_fatal_alert(tls);
    if (alert && is_certificate_alert(alert->description)) {
        if (tls_dir_is_client(tls, alert->from_dir)) {
            refusal_t r = { alert, alert->at };
            client_refused_server(c, &r);
        } else {
            server_refused_client(c, alert);
        }
        return;
    }
    if (tls->state != TLS_STATE_ESTABLISHED)
        return;
    if (client_sent_data(tls)) {
        client_accepted(c, at);
        return;
    }
    /* No alert: a client that checks the certificate after the handshake
     * (older curl checking the name) just closes without a request. */
    if (!alert && client_closed_soon(c)) {
        refusal_t r = { NULL, c->flow->closed_at };
        client_refused_server(c, &r);
    }
}

void diag_tls_record(diagnosis_t *d, const flow_t *flow, const tls_conn_t *tls,
                     const packet_info_t *at, bool final)
{
    tls_case_t c = { d, flow, tls, diag_flow(d, flow) };
    /* The device name first: the verdicts below and diag_capf.c's
     * inferred ones, called right after at the end, use it. */
    read_new_facts(&c);
    if (c.df && !c.df->tls.established_us && tls->state == TLS_STATE_ESTABLISHED)
        c.df->tls.established_us = at->ts_us; /* the record goes out as the state changes */
    /* Judged at the end, when the close that follows a refusal is part
     * of the evidence and whether the client carried on is known. */
    if (!final || !tls->roles_known || (c.df && c.df->tls.judged))
        return;
    judge(&c, at);
}
