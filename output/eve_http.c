/* The `http` event (events.md), with its `pki` object: one per exchange, a
 * request with its response, a request left without one ("no_response":
 * true, "waited_ms"), or a response whose request was not seen
 * ("request": null, "no_request": true).  The event's pcap_cnt is the frame
 * that completed the response (or, without one, the connection's last);
 * "request_pcap_cnt" is the request's.  Of the authentication headers only
 * the schemes appear, never credentials or challenges.
 */
#include "../monitor/http_flow.h"
#include "cert_json.h"
#include "eve_internal.h"

#include <stdio.h>
#include <string.h>

static void write_version(json_t *j, const char *key, const uint8_t v[2])
{
    char text[16];
    snprintf(text, sizeof(text), "HTTP/%u.%u", (unsigned)v[0], (unsigned)v[1]);
    json_string(j, key, text);
}

static void write_scheme(json_t *j, const char *key, http_auth_scheme_t scheme)
{
    json_string(j, key, http_auth_scheme_name(scheme));
}

/* The frame of another packet, with its file when that differs. */
static void write_frame(json_t *j, const char *key, const char *file_key, const packet_info_t *p,
                        const packet_info_t *at)
{
    json_uint(j, key, p->pcap_cnt);
    if (p->pcap_file && at->pcap_file && strcmp(p->pcap_file, at->pcap_file) != 0)
        json_string(j, file_key, p->pcap_file);
}

static void write_pki(json_t *j, const http_exchange_t *ex)
{
    const pki_record_t *p = &ex->pki;
    pki_kind_t kind = ex->pki_dissected ? p->kind : ex->pki_kind;
    pki_step_t step = ex->pki_dissected ? p->step : ex->pki_step;
    if (kind == PKI_NONE)
        return;
    json_object_begin(j, "pki");
    json_string(j, "kind", pki_kind_name(kind));
    json_string(j, "step", pki_step_name(step));
    if (p->req_id >= 0)
        json_int(j, "req_id", p->req_id);
    else
        json_null(j, "req_id");
    json_string(j, "template", p->template_name[0] ? p->template_name : NULL);
    json_string(j, "operation", p->operation[0] ? p->operation : NULL);
    json_string(j, "csr_subject", p->has_csr && p->csr_subject[0] ? p->csr_subject : NULL);
    /* this exchange's CSR, or for a certificate the CSR it answers */
    json_string(j, "csr_modulus_md5", ex->csr_modulus_md5[0] ? ex->csr_modulus_md5 : NULL);
    if (ex->csr_from_earlier)
        json_bool(j, "csr_from_earlier_exchange", true);
    if (p->has_certificate)
        cert_json_write(j, "certificate", &p->certificate);
    else
        json_null(j, "certificate");
    json_string(j, "cert_modulus_md5", ex->cert_modulus_md5[0] ? ex->cert_modulus_md5 : NULL);
    json_array_begin(j, "chain");
    for (unsigned i = 0; i < p->chain_count && i < PKI_MAX_CHAIN; i++)
        cert_json_write(j, NULL, &p->chain[i]);
    json_array_end(j);
    if (p->chain_count > PKI_MAX_CHAIN)
        json_uint(j, "chain_count", p->chain_count);
    json_string(j, "outcome", pki_outcome_name(p->outcome));
    json_string(j, "message", p->outcome_message[0] ? p->outcome_message : NULL);
    json_string(j, "disposition", p->disposition[0] ? p->disposition : NULL);
    if (ex->cert_match_known)
        json_bool(j, "cert_matches_csr", ex->cert_matches_csr);
    else
        json_null(j, "cert_matches_csr");
    if (p->body_truncated)
        json_bool(j, "body_truncated", true);
    json_object_end(j);
}

void eve_http(event_sink_t *base, const flow_t *flow, const http_exchange_t *ex,
              const packet_info_t *at)
{
    eve_sink_t *s = (eve_sink_t *)base;
    json_t j;
    eve_begin_event(s, &j, "http", at, flow);
    json_object_begin(&j, "http");

    /* the request */
    if (ex->has_request) {
        json_string(&j, "method", ex->method);
        json_string(&j, "uri", ex->uri);
        if (ex->uri_truncated)
            json_bool(&j, "uri_truncated", true);
        json_string(&j, "host", ex->has_host ? ex->host : NULL);
        json_string(&j, "user_agent", ex->has_user_agent ? ex->user_agent : NULL);
        write_version(&j, "protocol", ex->request_version);
    } else {
        json_null(&j, "request");
        json_bool(&j, "no_request", true);
        if (ex->request_lost)
            json_bool(&j, "request_lost", true);
        json_null(&j, "method");
        json_null(&j, "uri");
        json_null(&j, "host");
        json_null(&j, "user_agent");
    }

    /* the response */
    if (ex->has_response) {
        json_int(&j, "status", ex->status);
        json_string(&j, "reason", ex->reason);
        json_string(&j, "content_type", ex->has_content_type ? ex->content_type : NULL);
        json_uint(&j, "length", ex->response_length);
        if (!ex->has_request)
            write_version(&j, "protocol", ex->response_version);
    } else {
        json_null(&j, "status");
        json_null(&j, "content_type");
        json_null(&j, "length");
    }
    write_scheme(&j, "auth", http_exchange_auth(ex));
    if (ex->has_request) {
        json_string(&j, "request_content_type",
                    ex->has_request_content_type ? ex->request_content_type : NULL);
        json_uint(&j, "request_length", ex->request_length);
        write_scheme(&j, "authorization", ex->authorization);
        if (ex->expect_continue)
            json_bool(&j, "expect_continue", true);
        write_frame(&j, "request_pcap_cnt", "request_pcap_file", &ex->request_at, at);
    }
    if (ex->has_response) {
        write_scheme(&j, "www_authenticate", ex->www_authenticate);
        if (ex->www_authenticate_schemes & ~(1u << ex->www_authenticate)) {
            json_array_begin(&j, "www_authenticate_schemes");
            for (int sc = HTTP_AUTH_NTLM; sc <= HTTP_AUTH_OTHER; sc++)
                if (ex->www_authenticate_schemes & (1u << sc))
                    json_string(&j, NULL, http_auth_scheme_name((http_auth_scheme_t)sc));
            json_array_end(&j);
        }
        if (ex->interim_count) {
            /* 100 Continue and the like, before the final status */
            json_array_begin(&j, "interim");
            for (unsigned i = 0; i < ex->interim_count && i < HTTP_INTERIM_KEPT; i++)
                json_int(&j, NULL, ex->interim_status[i]);
            json_array_end(&j);
            if (ex->interim_count > HTTP_INTERIM_KEPT)
                json_uint(&j, "interim_count", ex->interim_count);
        }
        if (ex->response_ms >= 0)
            json_int(&j, "response_ms", ex->response_ms);
        else
            json_null(&j, "response_ms");
    } else {
        json_null(&j, "response_ms");
    }

    /* how it ended */
    if (ex->no_response) {
        json_bool(&j, "no_response", true);
        json_int(&j, "waited_ms", ex->waited_ms >= 0 ? ex->waited_ms : 0);
        if (ex->queue_overflow)
            json_bool(&j, "queue_overflow", true);
    }
    if (ex->response_lost)
        json_bool(&j, "response_lost", true);
    if (ex->has_request && !ex->request_complete)
        json_bool(&j, "request_incomplete", true);
    if (ex->has_response && !ex->response_complete)
        json_bool(&j, "response_incomplete", true);
    if (ex->request_gap || ex->response_gap)
        json_bool(&j, "gap", true);
    if (ex->request_truncated)
        json_bool(&j, "request_body_truncated", true);
    if (ex->response_truncated)
        json_bool(&j, "response_body_truncated", true);
    if ((ex->request_problems | ex->response_problems) &
        (HTTP_BAD_CONTENT_LENGTH | HTTP_CONFLICTING_LENGTH))
        json_bool(&j, "malformed_length", true);

    write_pki(&j, ex);
    json_object_end(&j);
    eve_end_event(s, &j);
}
