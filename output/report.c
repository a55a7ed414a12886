#include "report.h"

#include "../monitor/capf_flow.h"
#include "../monitor/dns_names.h"
#include "../monitor/tls_flow.h"

#include "report_lines.h"

#include <glib.h>
#include <string.h>

typedef struct report_sink {
    event_sink_t base;
    FILE *out;
    bool quiet;         /* counts only, no per-connection lines */
    uint64_t tls_lines;
    uint64_t kinds[CERT_KIND_CA_ISSUED + 1];
    uint64_t fatal_alerts;
    uint64_t failed_handshakes;
    uint64_t capf_sessions;
    uint64_t capf_outcomes[CAPF_OUTCOME_ISSUED + 1];
    uint64_t capf_key_mismatches;
    uint64_t pki_key_mismatches;
    uint64_t dns_errors;        /* answered with an error rcode */
    /* Live: a one-line summary at each stats event, the full one at the end
     * from the last of them. */
    bool live;
    bool have_last;
    run_stats_t last;
    memcap_t last_memcap;
    dns_stats_t last_dns;
} report_sink_t;

/* "LSC SEP74A02FC0A675 <- CAPF-1a2b3c4d": kind, leaf CN, issuer CN. */
static void describe_chain(GString *line, report_sink_t *r, const tls_conn_t *tls, bool client_side)
{
    for (guint i = 0; i < tls->cert_messages->len; i++) {
        const tls_cert_message_t *m = &g_array_index(tls->cert_messages, tls_cert_message_t, i);
        if (tls_dir_is_client(tls, m->from_dir) != client_side)
            continue;
        if (m->certs->len == 0) {
            g_string_append(line, "none sent");
            return;
        }
        const cert_info_t *leaf = &((const cert_ref_t *)g_ptr_array_index(m->certs, 0))->info;
        r->kinds[leaf->kind]++;
        g_string_append(line, cert_kind_name(leaf->kind));
        if (leaf->parsed)
            g_string_append_printf(line, " %s <- %s", leaf->subject_cn ? leaf->subject_cn : "(no CN)",
                                   leaf->issuer_cn ? leaf->issuer_cn : "(no CN)");
        if (m->count > 1)
            g_string_append_printf(line, " (+%u in chain)", m->count - 1);
        return;
    }
    if (tls->tls13)
        g_string_append(line, "not inspectable (TLS 1.3)");
    else
        g_string_append(line, "-");
}

static void report_tls(event_sink_t *base, const flow_t *flow, const tls_conn_t *tls,
                       const packet_info_t *at, bool changed, bool final)
{
    report_sink_t *r = (report_sink_t *)base;
    (void)changed;
    (void)at;
    if (!final)
        return;
    char client[IP_ADDR_TEXT_MAX], server[IP_ADDR_TEXT_MAX], version[32];
    ip_addr_format(&flow->client.addr, client, sizeof(client));
    ip_addr_format(&flow->server.addr, server, sizeof(server));
    if (tls->version)
        tls_version_format(tls->version, version, sizeof(version));
    else if (tls->client_version)
        tls_version_format(tls->client_version, version, sizeof(version));
    else
        snprintf(version, sizeof(version), "TLS");
    GString *line = g_string_new(NULL);
    bool v6c = flow->client.addr.family == 6, v6s = flow->server.addr.family == 6;
    g_string_append_printf(line, "tls #%" G_GUINT64_FORMAT " %s%s%s:%u -> %s%s%s:%u %s sni=%s %s",
                           flow->id, v6c ? "[" : "", client, v6c ? "]" : "", flow->client.port,
                           v6s ? "[" : "", server, v6s ? "]" : "", flow->server.port, version,
                           tls->has_sni ? tls->sni : "-", tls_state_name(tls->state));
    g_string_append(line, " | server: ");
    describe_chain(line, r, tls, false);
    g_string_append(line, " | client: ");
    describe_chain(line, r, tls, true);
    if (tls->alerts->len) {
        g_string_append(line, " | alerts:");
        for (guint i = 0; i < tls->alerts->len; i++) {
            const tls_alert_seen_t *al = &g_array_index(tls->alerts, tls_alert_seen_t, i);
            const char *from = tls_dir_is_client(tls, al->from_dir) ? "client" : "server";
            if (al->encrypted)
                g_string_append_printf(line, " %s encrypted (frame %" G_GUINT64_FORMAT ")", from,
                                       al->at.pcap_cnt);
            else
                g_string_append_printf(line, " %s %s %s (frame %" G_GUINT64_FORMAT ")", from,
                                       tls_alert_level_name(al->level),
                                       tls_alert_description_name(al->description), al->at.pcap_cnt);
            if (!al->encrypted && al->level == 2)
                r->fatal_alerts++;
        }
    }
    if (tls->state == TLS_STATE_FAILED)
        r->failed_handshakes++;
    if (!r->quiet)
        fprintf(r->out, "%s\n", line->str);
    g_string_free(line, TRUE);
    r->tls_lines++;
}

/* One line per CAPF connection when it ends:
 * capf #7 10.1.1.20:51562 -> 10.1.1.5:3804 device=SEP74A02FC0A675 session=0x00001001
 *   opcodes=01,02,03,04,09,0a,0f issued | cert: LSC SEP74A02FC0A675 <- CAPF-1a2b3c4d, key matches CSR */
static void report_capf_end(event_sink_t *base, const flow_t *flow, const capf_conn_t *conn,
                            const packet_info_t *at)
{
    report_sink_t *r = (report_sink_t *)base;
    (void)at;
    capf_outcome_t outcome = capf_conn_outcome(conn);
    if (outcome == CAPF_OUTCOME_NONE)
        return;
    r->capf_sessions++;
    r->capf_outcomes[outcome]++;
    if (conn->key_match_known && !conn->cert_matches_csr)
        r->capf_key_mismatches++;
    if (r->quiet)
        return;
    char client[IP_ADDR_TEXT_MAX], server[IP_ADDR_TEXT_MAX];
    ip_addr_format(&flow->client.addr, client, sizeof(client));
    ip_addr_format(&flow->server.addr, server, sizeof(server));
    bool v6c = flow->client.addr.family == 6, v6s = flow->server.addr.family == 6;
    GString *line = g_string_new(NULL);
    g_string_append_printf(line, "capf #%" G_GUINT64_FORMAT " %s%s%s:%u -> %s%s%s:%u device=%s",
                           flow->id, v6c ? "[" : "", client, v6c ? "]" : "", flow->client.port,
                           v6s ? "[" : "", server, v6s ? "]" : "", flow->server.port,
                           conn->has_device ? conn->device : "-");
    if (conn->has_session_id)
        g_string_append_printf(line, " session=0x%08x", (unsigned)conn->session_id);
    g_string_append(line, " opcodes=");
    for (unsigned i = 0; i < conn->opcode_count; i++)
        g_string_append_printf(line, "%s%02x", i ? "," : "", conn->opcodes[i]);
    if (conn->opcodes_total > conn->opcode_count)
        g_string_append_printf(line, ",... (%u)", conn->opcodes_total);
    g_string_append_printf(line, " %s", capf_outcome_name(outcome));
    if ((outcome == CAPF_OUTCOME_REFUSED || outcome == CAPF_OUTCOME_ENDED) && conn->end_has_status) {
        const capf_name_t *st = capf_status_lookup(conn->end_status);
        g_string_append_printf(line, ": %s (status 0x%02x, frame %" G_GUINT64_FORMAT ")",
                               st ? st->name : "unknown", conn->end_status, conn->end_at.pcap_cnt);
    }
    if (conn->certificate) {
        const cert_info_t *cert = &conn->certificate->info;
        g_string_append_printf(line, " | cert: %s", cert_kind_name(cert->kind));
        if (cert->parsed)
            g_string_append_printf(line, " %s <- %s", cert->subject_cn ? cert->subject_cn : "(no CN)",
                                   cert->issuer_cn ? cert->issuer_cn : "(no CN)");
        g_string_append_printf(line, " (frame %" G_GUINT64_FORMAT ")", conn->certificate_at.pcap_cnt);
        if (conn->key_match_known)
            g_string_append(line, conn->cert_matches_csr ? ", key matches CSR" : ", KEY DIFFERS FROM CSR");
    }
    if (conn->malformed)
        g_string_append_printf(line, " | %" G_GUINT64_FORMAT " malformed", conn->malformed);
    if (conn->resyncs[0] || conn->resyncs[1] || conn->gaps[0] || conn->gaps[1])
        g_string_append(line, " | framing lost and resumed");
    fprintf(r->out, "%s\n", line->str);
    g_string_free(line, TRUE);
}

static void report_http(event_sink_t *base, const flow_t *flow, const http_exchange_t *ex,
                        const packet_info_t *at)
{
    report_sink_t *r = (report_sink_t *)base;
    (void)at;
    if (ex->cert_match_known && !ex->cert_matches_csr)
        r->pki_key_mismatches++;
    if (r->quiet)
        return;
    GString *line = g_string_new(NULL);
    if (report_describe_pki_exchange(line, flow, ex))
        fprintf(r->out, "%s\n", line->str);
    g_string_free(line, TRUE);
}

static void report_dns(event_sink_t *base, const flow_t *flow, const dns_transaction_t *tx,
                       const packet_info_t *at)
{
    report_sink_t *r = (report_sink_t *)base;
    (void)at;
    GString *line = g_string_new(NULL);
    if (report_describe_dns_failure(line, flow, tx)) {
        r->dns_errors += tx->answered;
        if (!r->quiet)
            fprintf(r->out, "%s\n", line->str);
    }
    g_string_free(line, TRUE);
}

static void print_summary(report_sink_t *r, const run_stats_t *st, const memcap_t *mc,
                          const dns_stats_t *dns)
{
    if (st->files_failed && !st->files_read)
        return; /* the error lines said it all: nothing was analysed */
    fprintf(r->out,
            "summary: %" G_GUINT64_FORMAT " packets, %" G_GUINT64_FORMAT " flows, %" G_GUINT64_FORMAT
            " TLS connections (%" G_GUINT64_FORMAT " failed handshakes, %" G_GUINT64_FORMAT
            " fatal alerts)\n",
            st->packets, st->flows_total, st->tls_connections, r->failed_handshakes, r->fatal_alerts);
    fprintf(r->out,
            "certificates presented (first of each chain): LSC %" G_GUINT64_FORMAT
            ", MIC %" G_GUINT64_FORMAT ", self-signed %" G_GUINT64_FORMAT ", CA-issued %" G_GUINT64_FORMAT
            ", unparsable %" G_GUINT64_FORMAT "\n",
            r->kinds[CERT_KIND_LSC], r->kinds[CERT_KIND_MIC], r->kinds[CERT_KIND_SELF_SIGNED],
            r->kinds[CERT_KIND_CA_ISSUED], r->kinds[CERT_KIND_UNKNOWN]);
    bool any_cap = false;
    for (int c = 0; c < CAP_COUNT; c++)
        any_cap = any_cap || mc->hits[c];
    if (any_cap) {
        fprintf(r->out, "limits hit (data was dropped, see the stats event):");
        for (int c = 0; c < CAP_COUNT; c++)
            if (mc->hits[c])
                fprintf(r->out, " %s=%" G_GUINT64_FORMAT, cap_name(c), mc->hits[c]);
        fprintf(r->out, "\n");
    }
    if (st->flows_evicted || st->tls_not_followed || st->tls_certs_not_kept)
        fprintf(r->out, "memory: %" G_GUINT64_FORMAT " flows retired early, %" G_GUINT64_FORMAT
                        " TLS connections not followed, %" G_GUINT64_FORMAT " certificates not kept\n",
                st->flows_evicted, st->tls_not_followed, st->tls_certs_not_kept);
    if (r->capf_sessions)
        fprintf(r->out,
                "capf: %" G_GUINT64_FORMAT " sessions (issued %" G_GUINT64_FORMAT
                ", not acknowledged %" G_GUINT64_FORMAT ", refused %" G_GUINT64_FORMAT
                ", other %" G_GUINT64_FORMAT "; certificate key differs from CSR: %" G_GUINT64_FORMAT ")\n",
                r->capf_sessions, r->capf_outcomes[CAPF_OUTCOME_ISSUED],
                r->capf_outcomes[CAPF_OUTCOME_ISSUED_UNACKED], r->capf_outcomes[CAPF_OUTCOME_REFUSED],
                r->capf_outcomes[CAPF_OUTCOME_INCOMPLETE] + r->capf_outcomes[CAPF_OUTCOME_ENDED],
                r->capf_key_mismatches);
    if (st->http_exchanges)
        fprintf(r->out,
                "http: %" G_GUINT64_FORMAT " exchanges (%" G_GUINT64_FORMAT " certsrv/EST/SCEP, %" G_GUINT64_FORMAT
                " without response, %" G_GUINT64_FORMAT " without request; certificate key differs from CSR: %"
                G_GUINT64_FORMAT ")\n",
                st->http_exchanges, st->http_pki, st->http_no_response, st->http_no_request,
                r->pki_key_mismatches);
    if (dns->transactions)
        fprintf(r->out,
                "dns: %" G_GUINT64_FORMAT " queries (%" G_GUINT64_FORMAT " answered, %" G_GUINT64_FORMAT
                " of them with an error; %" G_GUINT64_FORMAT " unanswered)\n",
                dns->answered + dns->unanswered, dns->answered, r->dns_errors, dns->unanswered);
    if (st->tcp_gaps)
        fprintf(r->out, "tcp: %" G_GUINT64_FORMAT " gaps (%" G_GUINT64_FORMAT
                        " bytes missing from the capture)\n",
                st->tcp_gaps, st->tcp_gap_bytes);
}

/* Live, every --stats-interval: one line, as the run goes. */
static void print_interim(report_sink_t *r, const run_stats_t *st, const memcap_t *mc,
                          const dns_stats_t *dns)
{
    uint64_t caps = 0;
    for (int c = 0; c < CAP_COUNT; c++)
        caps += mc->hits[c];
    fprintf(r->out,
            "stats: %" G_GUINT64_FORMAT " packets (%.1f MB), %" G_GUINT64_FORMAT " flows (%" G_GUINT64_FORMAT
            " open), %" G_GUINT64_FORMAT " TLS, %" G_GUINT64_FORMAT " HTTP, %" G_GUINT64_FORMAT
            " DNS queries, memory %.1f MiB, limits hit %" G_GUINT64_FORMAT "; capture: %" G_GUINT64_FORMAT
            " received, %" G_GUINT64_FORMAT " dropped by the kernel, %" G_GUINT64_FORMAT
            " by the interface\n",
            st->packets, (double)st->bytes / 1e6, st->flows_total, st->flows_active, st->tls_connections,
            st->http_exchanges, dns->answered + dns->unanswered, (double)mc->in_use / (1024.0 * 1024.0),
            caps, st->capture_received, st->capture_dropped, st->capture_if_dropped);
}

static void report_stats(event_sink_t *base, const run_stats_t *st, const memcap_t *mc,
                         const dns_stats_t *dns, const packet_info_t *at)
{
    report_sink_t *r = (report_sink_t *)base;
    (void)at;
    if (!r->live) {
        print_summary(r, st, mc, dns);
        return;
    }
    print_interim(r, st, mc, dns);
    r->last = *st;
    r->last_memcap = *mc;
    r->last_dns = *dns;
    r->have_last = true;
}

static void report_finish(event_sink_t *base)
{
    report_sink_t *r = (report_sink_t *)base;
    if (r->live && r->have_last)
        print_summary(r, &r->last, &r->last_memcap, &r->last_dns);
    fflush(r->out);
}

void report_sink_set_live(event_sink_t *sink, bool live)
{
    ((report_sink_t *)sink)->live = live;
}

static void report_destroy(event_sink_t *base)
{
    g_free(base);
}

event_sink_t *report_sink_new(FILE *out, bool quiet)
{
    report_sink_t *r = g_new0(report_sink_t, 1);
    r->base.tls = report_tls;
    r->base.capf_end = report_capf_end;
    r->base.stats = report_stats;
    r->base.http = report_http;
    r->base.dns = report_dns;
    r->base.finish = report_finish;
    r->base.destroy = report_destroy;
    r->out = out;
    r->quiet = quiet;
    return &r->base;
}
