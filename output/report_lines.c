#include "report_lines.h"

#include <inttypes.h>

static void append_endpoints(GString *line, const flow_t *flow)
{
    char client[IP_ADDR_TEXT_MAX], server[IP_ADDR_TEXT_MAX];
    ip_addr_format(&flow->client.addr, client, sizeof client);
    ip_addr_format(&flow->server.addr, server, sizeof server);
    g_string_append_printf(line, "#%" PRIu64 " %s -> %s:%u", flow->id, client, server, flow->server.port);
}

/* What the PKI layer concluded, in the words the CA's own pages use. */
static void append_pki_result(GString *line, const http_exchange_t *ex)
{
    const pki_record_t *p = &ex->pki;
    GString *d = g_string_new(NULL);
    if (p->outcome != PKI_OUTCOME_NONE)
        g_string_append_printf(d, " %s", pki_outcome_name(p->outcome));
    if (p->outcome == PKI_OUTCOME_DENIED && p->outcome_message[0])
        g_string_append_printf(d, " \"%s\"", p->outcome_message);
    if (p->disposition[0])
        g_string_append_printf(d, " disposition %s", p->disposition);
    if (p->req_id >= 0)
        g_string_append_printf(d, " ReqID=%ld", p->req_id);
    if (p->template_name[0])
        g_string_append_printf(d, " template=%s", p->template_name);
    if (p->has_csr)
        g_string_append_printf(d, " CSR %s", p->csr_subject[0] ? p->csr_subject : "(no subject)");
    if (p->has_certificate && p->certificate.parsed)
        g_string_append_printf(d, " certificate %s",
                               p->certificate.subject_cn ? p->certificate.subject_cn : "(no CN)");
    if (p->chain_count)
        g_string_append_printf(d, " %u in PKCS#7", p->chain_count);
    if (ex->cert_match_known)
        g_string_append(d, ex->cert_matches_csr ? " key matches CSR" : " KEY DIFFERS FROM CSR");
    if (p->body_truncated)
        g_string_append(d, " (body cut by the cap)");
    g_string_append_printf(line, " %s%s%s", pki_step_name(p->step), d->len ? ":" : "", d->str);
    g_string_free(d, TRUE);
}

bool report_describe_pki_exchange(GString *line, const flow_t *flow, const http_exchange_t *ex)
{
    if (!ex->pki_dissected)
        return false;
    g_string_append_printf(line, "%s ", pki_kind_name(ex->pki.kind));
    append_endpoints(line, flow);
    g_string_append_printf(line, " %s %s", ex->method, ex->uri);
    if (ex->has_response)
        g_string_append_printf(line, " %d", ex->status);
    else if (ex->no_response)
        g_string_append_printf(line, " (no response after %" PRId64 " ms)", ex->waited_ms);
    append_pki_result(line, ex);
    return true;
}

bool report_describe_dns_failure(GString *line, const flow_t *flow, const dns_transaction_t *tx)
{
    if (!tx->query_seen || (tx->answered && tx->rcode == 0))
        return false;
    const char *name = tx->has_question && tx->qname[0] ? tx->qname : "(no question)";
    g_string_append_printf(line, "dns %s %s ", name, dns_type_name(tx->qtype));
    if (tx->answered)
        g_string_append(line, tx->rcode_name);
    else
        g_string_append_printf(line, "unanswered after %" PRId64 " ms (%s)", tx->waited_us / 1000,
                               dns_unanswered_name(tx->unanswered));
    char client[IP_ADDR_TEXT_MAX], server[IP_ADDR_TEXT_MAX];
    const endpoint_t *asker = tx->query_from_client ? &flow->client : &flow->server;
    const endpoint_t *resolver = tx->query_from_client ? &flow->server : &flow->client;
    ip_addr_format(&asker->addr, client, sizeof client);
    ip_addr_format(&resolver->addr, server, sizeof server);
    g_string_append_printf(line, " (asked by %s, server %s)", client, server);
    return true;
}
