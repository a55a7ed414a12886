#include "eve.h"

#include "../monitor/capf_flow.h"
#include "../monitor/classify.h"
#include "../monitor/dns_names.h"
#include "../monitor/tls_flow.h"
#include "cert_json.h"
#include "eve_internal.h"
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Called with stream_lock held: the first failure is the one line told. */
static void write_failed(eve_sink_t *s, int err)
{
    s->failed = true;
    s->lost = true;
    fprintf(stderr, "enrollmon: error: cannot write events to '%s': %s\n", s->path, g_strerror(err));
}

static void write_line(eve_sink_t *s)
{
    g_mutex_lock(&s->stream_lock);
    if (!s->failed) {
        g_string_append_c(s->line, '\n');
        if (fwrite(s->line->str, 1, s->line->len, s->fp) != s->line->len)
            write_failed(s, errno);
        else if (s->flush_each && fflush(s->fp) != 0)
            write_failed(s, errno);
    }
    g_mutex_unlock(&s->stream_lock);
}

void eve_begin_event(eve_sink_t *s, json_t *j, const char *type, const packet_info_t *at,
                        const flow_t *flow)
{
    g_string_truncate(s->line, 0);
    json_init(j, s->line);
    json_object_begin(j, NULL);
    char ts[40];
    json_format_timestamp(at->ts_us, ts, sizeof(ts));
    json_string(j, "timestamp", ts);
    json_string(j, "event_type", type);
    if (at->pcap_file)
        json_string(j, "pcap_file", at->pcap_file);
    json_uint(j, "pcap_cnt", at->pcap_cnt);
    if (!flow)
        return;
    char addr[IP_ADDR_TEXT_MAX];
    json_uint(j, "flow_id", flow->id);
    ip_addr_format(&flow->client.addr, addr, sizeof(addr));
    json_string(j, "src_ip", addr);
    json_uint(j, "src_port", flow->client.port);
    ip_addr_format(&flow->server.addr, addr, sizeof(addr));
    json_string(j, "dest_ip", addr);
    json_uint(j, "dest_port", flow->server.port);
    json_string(j, "proto", flow->proto == IPPROTO_NUM_TCP   ? "TCP"
                            : flow->proto == IPPROTO_NUM_UDP ? "UDP"
                                                             : "IP");
}

void eve_end_event(eve_sink_t *s, json_t *j)
{
    json_object_end(j);
    write_line(s);
}

static const char *side_name(const tls_conn_t *tls, int dir)
{
    return tls_dir_is_client(tls, dir) ? "client" : "server";
}

/* The certificates of the first Certificate message a side sent. */
static void write_cert_list(json_t *j, const char *key, const tls_conn_t *tls, bool client_side)
{
    json_array_begin(j, key);
    for (guint i = 0; i < tls->cert_messages->len; i++) {
        const tls_cert_message_t *m = &g_array_index(tls->cert_messages, tls_cert_message_t, i);
        if (tls_dir_is_client(tls, m->from_dir) != client_side)
            continue;
        for (guint k = 0; k < m->certs->len; k++) {
            const cert_ref_t *ref = g_ptr_array_index(m->certs, k);
            cert_json_write(j, NULL, &ref->info);
        }
        break;
    }
    json_array_end(j);
}

static void eve_tls(event_sink_t *base, const flow_t *flow, const tls_conn_t *tls,
                    const packet_info_t *at, bool changed, bool final)
{
    eve_sink_t *s = (eve_sink_t *)base;
    if (!changed)
        return;
    json_t j;
    eve_begin_event(s, &j, "tls", at, flow);
    json_object_begin(&j, "tls");
    char version[32];
    if (tls->version) {
        tls_version_format(tls->version, version, sizeof(version));
        json_string(&j, "version", version);
    } else {
        json_null(&j, "version");
    }
    if (tls->client_version) {
        tls_version_format(tls->client_version, version, sizeof(version));
        json_string(&j, "client_version", version);
    }
    json_string(&j, "sni", tls->has_sni ? tls->sni : NULL);
    if (tls->alpn[0])
        json_string(&j, "alpn", tls->alpn);
    if (tls->server_hello_seen) {
        char suite[8];
        snprintf(suite, sizeof(suite), "0x%04x", tls->cipher_suite);
        json_string(&j, "cipher_suite", suite);
    }
    json_string(&j, "state", tls_state_name(tls->state));
    json_bool(&j, "client_hello", tls->client_hello_seen);
    json_bool(&j, "server_hello", tls->server_hello_seen);
    if (tls->hello_retry)
        json_bool(&j, "hello_retry_request", true);
    if (tls->midstream)
        json_bool(&j, "midstream", true);
    write_cert_list(&j, "server_certs", tls, false);
    write_cert_list(&j, "client_certs", tls, true);
    bool decrypted = tls->decrypt.records[0] || tls->decrypt.records[1];
    /* TLS 1.3 encrypts the certificates: without keys they are not
     * inspectable, which must not read as "none were sent". */
    json_bool(&j, "certs_visible", !tls->tls13 || decrypted);
    if (tls->certificate_request_seen) {
        json_object_begin(&j, "certificate_request");
        json_uint(&j, "pcap_cnt", tls->certificate_request_at.pcap_cnt);
        json_uint(&j, "ca_name_count", tls->ca_name_count);
        json_array_begin(&j, "ca_names");
        for (guint i = 0; i < tls->ca_names->len; i++)
            json_string(&j, NULL, g_ptr_array_index(tls->ca_names, i));
        json_array_end(&j);
        json_object_end(&j);
    }
    json_array_begin(&j, "certificate_messages");
    for (guint i = 0; i < tls->cert_messages->len; i++) {
        const tls_cert_message_t *m = &g_array_index(tls->cert_messages, tls_cert_message_t, i);
        json_object_begin(&j, NULL);
        json_string(&j, "from", side_name(tls, m->from_dir));
        json_uint(&j, "count", m->count);
        json_uint(&j, "pcap_cnt", m->at.pcap_cnt);
        if (m->at.pcap_file && at->pcap_file && strcmp(m->at.pcap_file, at->pcap_file) != 0)
            json_string(&j, "pcap_file", m->at.pcap_file);
        /* null: no CN in the name; a certificate that did not parse has
         * "parsed": false at its index in "parsed". */
        json_array_begin(&j, "subject_cns");
        for (guint k = 0; k < m->certs->len; k++) {
            const cert_ref_t *ref = g_ptr_array_index(m->certs, k);
            json_string(&j, NULL, ref->info.parsed ? ref->info.subject_cn : NULL);
        }
        json_array_end(&j);
        json_array_begin(&j, "issuer_cns");
        for (guint k = 0; k < m->certs->len; k++) {
            const cert_ref_t *ref = g_ptr_array_index(m->certs, k);
            json_string(&j, NULL, ref->info.parsed ? ref->info.issuer_cn : NULL);
        }
        json_array_end(&j);
        json_array_begin(&j, "parsed");
        for (guint k = 0; k < m->certs->len; k++) {
            const cert_ref_t *ref = g_ptr_array_index(m->certs, k);
            json_bool(&j, NULL, ref->info.parsed);
        }
        json_array_end(&j);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_array_begin(&j, "alerts");
    for (guint i = 0; i < tls->alerts->len; i++) {
        const tls_alert_seen_t *al = &g_array_index(tls->alerts, tls_alert_seen_t, i);
        json_object_begin(&j, NULL);
        json_string(&j, "from", side_name(tls, al->from_dir));
        if (al->encrypted) {
            json_null(&j, "level");
            json_string(&j, "description", "encrypted");
            json_null(&j, "code");
            json_bool(&j, "encrypted", true);
        } else {
            json_string(&j, "level", tls_alert_level_name(al->level));
            json_string(&j, "description", tls_alert_description_name(al->description));
            json_uint(&j, "code", al->description);
            if (al->decrypted)
                json_bool(&j, "decrypted", true);
        }
        json_uint(&j, "pcap_cnt", al->at.pcap_cnt);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_bool(&j, "decrypted", decrypted);
    if (tls->decrypt.state != TLS_DECRYPT_NOT_ATTEMPTED) {
        json_object_begin(&j, "decryption");
        json_string(&j, "status", tls_decrypt_state_name(tls->decrypt.state));
        if (tls->decrypt.reason)
            json_string(&j, "reason", tls->decrypt.reason);
        if (tls->decrypt.suite)
            json_string(&j, "cipher_suite_name", tls->decrypt.suite->name);
        json_uint(&j, "records_toserver", tls->decrypt.records[tls->client_dir]);
        json_uint(&j, "records_toclient", tls->decrypt.records[!tls->client_dir]);
        json_uint(&j, "bytes_toserver", tls->decrypt.bytes[tls->client_dir]);
        json_uint(&j, "bytes_toclient", tls->decrypt.bytes[!tls->client_dir]);
        json_object_end(&j);
    }
    if (tls->gaps[0] || tls->gaps[1])
        json_uint(&j, "gaps", tls->gaps[0] + tls->gaps[1]);
    if (tls->oversize_messages)
        json_uint(&j, "oversize_handshake_messages", tls->oversize_messages);
    if (tls->invalid[0] || tls->invalid[1])
        json_bool(&j, "stream_invalid", true);
    /* How the connection ended and how long it lasted. */
    json_object_begin(&j, "end");
    if (flow->closed_by >= 0) {
        json_string(&j, "by", side_name(tls, flow->closed_by));
        json_string(&j, "how", flow->closed_by_rst ? "rst" : "fin");
        json_uint(&j, "pcap_cnt", flow->closed_at.pcap_cnt);
    } else {
        json_null(&j, "by");
        json_string(&j, "how", "open");
    }
    json_object_end(&j);
    json_int(&j, "duration_ms", (flow->last_ts_us - flow->first_ts_us) / 1000);
    /* the inference needs the whole session: only in its last record */
    if (tls->on_capf_port && final) {
        const capf_infer_input_t *ci = &tls->capf_infer;
        json_object_begin(&j, "capf_inferred");
        json_bool(&j, "inferred", true);
        json_string(&j, "outcome", capf_inferred_outcome_name(capf_infer_outcome(ci)));
        json_array_begin(&j, "records");
        for (unsigned i = 0; i < ci->record_count; i++) {
            const capf_record_size_t *r = &ci->records[i];
            json_object_begin(&j, NULL);
            json_string(&j, "from", r->from_client ? "client" : "server");
            json_uint(&j, "len", r->wire_len);
            json_uint(&j, "estimated_plaintext", r->plaintext_est);
            json_string(&j, "guess", capf_size_class_name(r->size_class));
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
    }
    json_bool(&j, "update", tls->emitted);
    json_object_end(&j);
    eve_end_event(s, &j);
}

/* Field values longer than this are cut in value_hex ("truncated": true). */
#define CAPF_VALUE_HEX_MAX 256

static void write_hex(json_t *j, const char *key, byte_span_t bytes, size_t max, bool *cut)
{
    static const char digits[] = "0123456789abcdef";
    cursor_t c = cur_from_span(bytes);
    size_t n = cur_remaining(&c) < max ? cur_remaining(&c) : max;
    *cut = n < cur_remaining(&c);
    char *hex = g_malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = cur_u8(&c);
        hex[2 * i] = digits[b >> 4];
        hex[2 * i + 1] = digits[b & 15];
    }
    hex[2 * n] = '\0';
    json_string_len(j, key, hex, 2 * n);
    g_free(hex);
}

static void eve_capf(event_sink_t *base, const flow_t *flow, const capf_message_t *msg,
                     const capf_event_extra_t *extra, const packet_info_t *at)
{
    eve_sink_t *s = (eve_sink_t *)base;
    json_t j;
    char text[16];
    eve_begin_event(s, &j, "capf", at, flow);
    json_object_begin(&j, "capf");
    json_uint(&j, "opcode", msg->opcode);
    const capf_name_t *op = capf_opcode_lookup(msg->opcode);
    json_string(&j, "opcode_name", op ? op->name : NULL);
    snprintf(text, sizeof(text), "0x%08x", (unsigned)msg->session_id);
    json_string(&j, "session_id", text);
    json_string(&j, "direction", extra->from_client ? "to_server" : "to_client");
    json_uint(&j, "body_len", msg->body_len);
    json_array_begin(&j, "fields");
    for (unsigned i = 0; i < msg->field_count; i++) {
        const capf_field_t *f = &msg->fields[i];
        json_object_begin(&j, NULL);
        json_uint(&j, "tag", f->tag);
        const capf_name_t *tag = f->depth == 0 ? capf_tag_lookup(f->tag) : NULL;
        if (tag)
            json_string(&j, "tag_name", tag->name);
        if (f->depth)
            json_uint(&j, "depth", f->depth);
        json_uint(&j, "len", f->len);
        bool cut = false;
        write_hex(&j, "value_hex", f->value, CAPF_VALUE_HEX_MAX, &cut);
        /* Cut here, or by the end of the body (a malformed field). */
        if (cut || f->value.len < f->len)
            json_bool(&j, "truncated", true);
        json_object_end(&j);
    }
    json_array_end(&j);
    if (msg->fields_total > msg->field_count)
        json_uint(&j, "fields_total", msg->fields_total);
    /* The device named in this message, else the one the session named. */
    const capf_conn_t *conn = extra->conn;
    if (msg->has_device)
        json_string(&j, "device", msg->device);
    else if (conn && conn->has_device)
        json_string(&j, "device", conn->device);
    else
        json_null(&j, "device");
    if (msg->has_status) {
        json_uint(&j, "status", msg->status);
        const capf_name_t *st = capf_status_lookup(msg->status);
        json_string(&j, "status_name", st ? st->name : NULL);
    } else {
        json_null(&j, "status");
        json_null(&j, "status_name");
    }
    if (extra->cert)
        cert_json_write(&j, "cert", &extra->cert->info);
    if (extra->csr_modulus_md5 && extra->csr_modulus_md5[0])
        json_string(&j, "csr_modulus_md5", extra->csr_modulus_md5);
    if (extra->cert_match_known)
        json_bool(&j, "cert_matches_csr", extra->cert_matches_csr);
    if (msg->malformed)
        json_bool(&j, "malformed", true);
    json_object_end(&j);
    eve_end_event(s, &j);
}

static void eve_flow_end(event_sink_t *base, const flow_t *flow, flow_end_reason_t reason,
                         const packet_info_t *at)
{
    eve_sink_t *s = (eve_sink_t *)base;
    json_t j;
    char when[40];
    eve_begin_event(s, &j, "flow", at, flow);
    json_string(&j, "app_proto", flow->tls_seen ? "tls" : NULL);
    json_object_begin(&j, "flow");
    json_uint(&j, "pkts_toserver", flow->packets[DIR_TO_SERVER]);
    json_uint(&j, "pkts_toclient", flow->packets[DIR_TO_CLIENT]);
    json_uint(&j, "bytes_toserver", flow->bytes[DIR_TO_SERVER]);
    json_uint(&j, "bytes_toclient", flow->bytes[DIR_TO_CLIENT]);
    json_format_timestamp(flow->first_ts_us, when, sizeof(when));
    json_string(&j, "start", when);
    json_format_timestamp(flow->last_ts_us, when, sizeof(when));
    json_string(&j, "end", when);
    json_uint(&j, "first_pcap_cnt", flow->first_packet.pcap_cnt);
    json_string(&j, "reason", flow_end_reason_name(reason));
    json_object_end(&j);
    if (flow->classify) {
        classify_result_t r;
        classify_get_result(flow->classify, &r);
        json_object_begin(&j, "ndpi");
        json_string(&j, "protocol", r.protocol);
        json_string(&j, "category", r.category);
        json_string(&j, "confidence", r.confidence);
        json_array_begin(&j, "risks");
        for (unsigned i = 0; i < r.risk_count; i++)
            json_string(&j, NULL, r.risks[i]);
        json_array_end(&j);
        json_object_end(&j);
    }
    if (flow->proto == IPPROTO_NUM_TCP) {
        const tcp_flags_seen_t *f = &flow->tcp_flags;
        const tcp_dir_stats_t *up = &flow->tcp[DIR_TO_SERVER].stats;
        const tcp_dir_stats_t *down = &flow->tcp[DIR_TO_CLIENT].stats;
        json_object_begin(&j, "tcp");
        json_uint(&j, "syn", f->syn);
        json_uint(&j, "synack", f->synack);
        json_uint(&j, "rst_toserver", f->rst[DIR_TO_SERVER]);
        json_uint(&j, "rst_toclient", f->rst[DIR_TO_CLIENT]);
        json_uint(&j, "fin_toserver", f->fin[DIR_TO_SERVER]);
        json_uint(&j, "fin_toclient", f->fin[DIR_TO_CLIENT]);
        json_bool(&j, "handshake_complete", f->handshake_complete);
        json_bool(&j, "midstream", flow->tcp[DIR_TO_SERVER].midstream || flow->tcp[DIR_TO_CLIENT].midstream);
        /* Stream facts only where there was a stream: a scan's SYNs have none. */
        if (up->segments || down->segments) {
            json_uint(&j, "gaps", up->gaps + down->gaps);
            json_uint(&j, "gap_bytes", up->gap_bytes + down->gap_bytes);
            json_uint(&j, "retransmitted_segments", up->retransmitted_segments + down->retransmitted_segments);
            json_uint(&j, "out_of_order_segments", up->out_of_order_segments + down->out_of_order_segments);
            json_uint(&j, "overlap_bytes", up->overlap_bytes + down->overlap_bytes);
            json_uint(&j, "overlap_conflicts", up->overlap_conflicts + down->overlap_conflicts);
            json_string(&j, "stream_analysis",
                        flow->stream_ignored[0] && flow->stream_ignored[1] ? "stopped" : "followed");
        }
        json_object_end(&j);
    }
    eve_end_event(s, &j);
}

static void eve_stats(event_sink_t *base, const run_stats_t *st, const memcap_t *mc,
                      const dns_stats_t *dns, const packet_info_t *at)
{
    eve_sink_t *s = (eve_sink_t *)base;
    json_t j;
    eve_begin_event(s, &j, "stats", at, NULL);
    json_object_begin(&j, "stats");
    json_uint(&j, "packets", st->packets);
    json_uint(&j, "bytes", st->bytes);
    json_object_begin(&j, "decoder");
    json_uint(&j, "ipv4", st->ipv4);
    json_uint(&j, "ipv6", st->ipv6);
    json_uint(&j, "tcp", st->tcp);
    json_uint(&j, "udp", st->udp);
    json_uint(&j, "other_ip", st->other_ip);
    json_uint(&j, "tunneled", st->tunneled);
    json_uint(&j, "not_ip", st->not_ip);
    json_uint(&j, "truncated", st->decode_status[DECODE_TRUNCATED]);
    json_uint(&j, "malformed", st->decode_status[DECODE_MALFORMED]);
    json_uint(&j, "fragments", st->fragments);
    json_uint(&j, "fragments_reassembled", st->fragments_reassembled);
    json_uint(&j, "fragments_dropped", st->fragments_dropped);
    json_object_end(&j);
    json_object_begin(&j, "flows");
    json_uint(&j, "total", st->flows_total);
    json_uint(&j, "tcp", st->flows_tcp);
    json_uint(&j, "udp", st->flows_udp);
    json_uint(&j, "active", st->flows_active);
    json_uint(&j, "evicted", st->flows_evicted);
    json_object_end(&j);
    json_object_begin(&j, "tcp");
    json_uint(&j, "gaps", st->tcp_gaps);
    json_uint(&j, "gap_bytes", st->tcp_gap_bytes);
    json_uint(&j, "overlap_conflicts", st->tcp_overlap_conflicts);
    json_object_end(&j);
    json_object_begin(&j, "tls");
    json_uint(&j, "connections", st->tls_connections);
    json_uint(&j, "certificates", st->tls_certificates);
    json_uint(&j, "alerts", st->tls_alerts);
    json_uint(&j, "invalid_streams", st->tls_invalid_streams);
    json_uint(&j, "not_followed", st->tls_not_followed);
    json_uint(&j, "certificates_not_kept", st->tls_certs_not_kept);
    json_uint(&j, "decrypted_connections", st->tls_decrypted);
    json_uint(&j, "decrypted_bytes", st->tls_decrypted_bytes);
    json_uint(&j, "decrypt_failures", st->tls_decrypt_failures);
    json_object_end(&j);
    json_object_begin(&j, "http");
    json_uint(&j, "exchanges", st->http_exchanges);
    json_uint(&j, "pki", st->http_pki);
    json_uint(&j, "no_response", st->http_no_response);
    json_uint(&j, "no_request", st->http_no_request);
    json_object_end(&j);
    json_object_begin(&j, "dns");
    json_uint(&j, "messages", dns->messages);
    json_uint(&j, "queries", dns->queries);
    json_uint(&j, "responses", dns->responses);
    json_uint(&j, "transactions", dns->transactions);
    json_uint(&j, "answered", dns->answered);
    json_uint(&j, "unanswered", dns->unanswered);
    json_uint(&j, "responses_alone", dns->responses_alone);
    json_uint(&j, "retransmissions", dns->retransmissions);
    json_uint(&j, "not_dns", dns->not_dns);
    json_uint(&j, "truncated", dns->truncated);
    json_uint(&j, "malformed", dns->malformed);
    json_uint(&j, "tcp_framing_lost", dns->tcp_framing_lost);
    json_object_end(&j);
    json_object_begin(&j, "memory");
    /* everything that grows with traffic: flows, their buffers, TLS state,
     * parsed certificates (the certificate cache is still alive here) */
    json_uint(&j, "in_use", mc->in_use);
    json_uint(&j, "peak", mc->peak);
    json_uint(&j, "reassembly_in_use", mc->buffers_in_use);
    json_uint(&j, "reassembly_peak", mc->buffers_peak);
    json_uint(&j, "global_limit", mc->global_limit);
    json_uint(&j, "flow_limit", mc->flow_limit);
    json_object_end(&j);
    json_object_begin(&j, "caps_hit");
    for (int c = 0; c < CAP_COUNT; c++)
        json_uint(&j, cap_name(c), mc->hits[c]);
    json_object_end(&j);
    json_object_begin(&j, "files");
    json_uint(&j, "read", st->files_read);
    json_uint(&j, "failed", st->files_failed);
    json_uint(&j, "truncated", st->files_truncated);
    json_object_end(&j);
    if (st->capture_interfaces) {
        /* live: what the capture layer (libpcap, the kernel) counted itself */
        json_object_begin(&j, "drops");
        json_uint(&j, "received", st->capture_received);
        json_uint(&j, "kernel", st->capture_dropped);
        json_uint(&j, "interface", st->capture_if_dropped);
        json_object_end(&j);
    } else {
        json_null(&j, "drops"); /* offline: nothing is dropped by a capture layer */
    }
    json_object_end(&j);
    eve_end_event(s, &j);
}

static void eve_finish(event_sink_t *base)
{
    eve_sink_t *s = (eve_sink_t *)base;
    g_mutex_lock(&s->stream_lock);
    if (!s->failed && fflush(s->fp) != 0)
        write_failed(s, errno);
    g_mutex_unlock(&s->stream_lock);
}

static void eve_destroy(event_sink_t *base)
{
    eve_sink_t *s = (eve_sink_t *)base;
    if (s->owns_fp && fclose(s->fp) != 0 && !s->failed)
        write_failed(s, errno);
    g_mutex_clear(&s->stream_lock);
    g_string_free(s->line, TRUE);
    g_free(s->path);
    g_free(s);
}

event_sink_t *eve_sink_new(const char *path, GError **error)
{
    return eve_sink_open(path, false, error);
}

event_sink_t *eve_sink_open(const char *path, bool append, GError **error)
{
    FILE *fp;
    bool owns = true;
    if (strcmp(path, "-") == 0) {
        fp = stdout;
        owns = false;
    } else {
        fp = fopen(path, append ? "a" : "w");
        if (!fp) {
            int err = errno;
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
                        "cannot write events to '%s': %s", path, g_strerror(err));
            return NULL;
        }
    }
    eve_sink_t *s = g_new0(eve_sink_t, 1);
    s->base.tls = eve_tls;
    s->base.capf = eve_capf;
    s->base.flow_end = eve_flow_end;
    s->base.stats = eve_stats;
    s->base.http = eve_http;
    s->base.dns = eve_dns;
    s->base.verdict = eve_verdict;
    s->base.finish = eve_finish;
    s->base.destroy = eve_destroy;
    s->fp = fp;
    s->owns_fp = owns;
    s->path = g_strdup(path);
    s->line = g_string_sized_new(1024);
    g_mutex_init(&s->stream_lock);
    return &s->base;
}

bool eve_sink_failed(const event_sink_t *sink)
{
    eve_sink_t *s = (eve_sink_t *)sink;
    g_mutex_lock(&s->stream_lock);
    bool failed = s->failed || s->lost;
    g_mutex_unlock(&s->stream_lock);
    return failed;
}

void eve_sink_set_flush_each(event_sink_t *sink, bool on)
{
    eve_sink_t *s = (eve_sink_t *)sink;
    g_mutex_lock(&s->stream_lock);
    s->flush_each = on;
    g_mutex_unlock(&s->stream_lock);
}

bool eve_sink_reopen(event_sink_t *sink, GError **error)
{
    eve_sink_t *s = (eve_sink_t *)sink;
    if (!s->owns_fp)
        return true; /* standard output: nothing to reopen */
    /* Opened before the old one is closed: if it cannot be, nothing is lost. */
    FILE *fp = fopen(s->path, "a");
    if (!fp) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
                    "cannot reopen '%s' for events: %s (still writing to the file it was)", s->path,
                    g_strerror(err));
        g_mutex_lock(&s->stream_lock);
        s->lost = true;
        g_mutex_unlock(&s->stream_lock);
        return false;
    }
    g_mutex_lock(&s->stream_lock);
    FILE *old = s->fp;
    s->fp = fp;
    /* What the old file still buffers goes to it before it is closed. */
    if (fclose(old) != 0 && !s->failed)
        write_failed(s, errno);
    /* A new file: writing resumes after a failure (space freed by the
     * rotation), though the run still ends with "something was lost". */
    s->failed = false;
    g_mutex_unlock(&s->stream_lock);
    return true;
}
