#include "verdict.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Advice texts follow failures.md's last column. */
static const verdict_kind_t catalogue[V_COUNT] = {
    [V_LSC_CA_UNTRUSTED] = { "LSC_CA_UNTRUSTED", VERDICT_ERROR,
        "LSC from an untrusted CAPF",
        "The phone holds an LSC from another cluster or from a regenerated CAPF: upload that CAPF "
        "certificate to CallManager-trust / CAPF-trust, or delete the LSC and issue it again." },
    [V_MIC_CA_UNTRUSTED] = { "MIC_CA_UNTRUSTED", VERDICT_ERROR,
        "MIC issuer not trusted",
        "The Cisco manufacturing CA certificates are missing from the server's trust store "
        "(CallManager-trust / CAPF-trust): upload them." },
    [V_CAPF_SERVER_CERT_REJECTED] = { "CAPF_SERVER_CERT_REJECTED", VERDICT_ERROR,
        "phone rejected CAPF's certificate",
        "The CAPF certificate in the phone's ITL differs from the one CAPF presents (regenerated "
        "CAPF certificate): restart the TFTP service, then reset the phone." },
    [V_CAPF_UNREACHABLE] = { "CAPF_UNREACHABLE", VERDICT_ERROR,
        "CAPF not reachable",
        "Check the network path, ACLs and firewalls between the phone and CAPF, and the CAPF "
        "address the phone was given." },
    [V_CAPF_SERVICE_DOWN] = { "CAPF_SERVICE_DOWN", VERDICT_ERROR,
        "CAPF service down",
        "The Cisco Certificate Authority Proxy Function service is stopped or not activated on "
        "that node: start or activate it." },
    [V_CAPF_REFUSED] = { "CAPF_REFUSED", VERDICT_ERROR,
        "CAPF refused the operation",
        "Look at the device's certificate operation in CUCM and at the CAPF trace for the status." },
    [V_CAPF_SESSION_ABORTED] = { "CAPF_SESSION_ABORTED", VERDICT_ERROR,
        "CAPF session cut short",
        "Look at the CAPF trace for that device at that time." },
    [V_CA_CHAIN_UNTRUSTED] = { "CA_CHAIN_UNTRUSTED", VERDICT_ERROR,
        "server chain not trusted",
        "Upload the missing CA certificates (the root and the intermediates of the server's "
        "certificate) to CAPF-trust." },
    [V_SERVER_CERT_SELF_SIGNED] = { "SERVER_CERT_SELF_SIGNED", VERDICT_ERROR,
        "self-signed server certificate",
        "The CA web server (IIS) must present a CA-issued certificate; a self-signed one is not "
        "supported." },
    [V_SERVER_NAME_MISMATCH] = { "SERVER_NAME_MISMATCH", VERDICT_ERROR,
        "server name not in its certificate",
        "Make the Online CA hostname the certificate's FQDN, or issue the certificate again with "
        "that name." },
    [V_CERT_NOT_YET_VALID] = { "CERT_NOT_YET_VALID", VERDICT_ERROR,
        "certificate not yet valid",
        "Fix NTP on both ends; the clocks disagree with the certificate's validity." },
    [V_CERT_EXPIRED] = { "CERT_EXPIRED", VERDICT_ERROR,
        "certificate expired",
        "Renew the certificate, and check NTP on both ends (a CAPF certificate near expiry: "
        "regenerate it before issuing LSCs)." },
    [V_DNS_NXDOMAIN] = { "DNS_NXDOMAIN", VERDICT_ERROR,
        "name does not resolve",
        "Fix the DNS record, or use the name the server's certificate carries." },
    [V_CA_LOGIN_TIMEOUT] = { "CA_LOGIN_TIMEOUT", VERDICT_ERROR,
        "CA web login not answered",
        "The CA web server is slow or unreachable after TCP; CES gives up after 10 s "
        "(CSCvo58656)." },
    [V_CA_REQUEST_TIMEOUT] = { "CA_REQUEST_TIMEOUT", VERDICT_ERROR,
        "CA request not answered",
        "The CA is slow to answer or to issue; CES gives up after 10 s." },
    [V_CA_AUTH_FAILED] = { "CA_AUTH_FAILED", VERDICT_ERROR,
        "CA web login refused",
        "Wrong enrollment account or password in the Online CA configuration." },
    [V_TEMPLATE_REJECTED] = { "TEMPLATE_REJECTED", VERDICT_ERROR,
        "certificate template refused",
        "The template name in the service parameters is wrong, or the enrollment account cannot "
        "enroll with it." },
    [V_EST_ENROLL_FAILED] = { "EST_ENROLL_FAILED", VERDICT_ERROR,
        "EST enrollment failed",
        "Look at the CES/nginx error.log at that time." },
    [V_CSR_CERT_KEY_MISMATCH] = { "CSR_CERT_KEY_MISMATCH", VERDICT_ERROR,
        "certificate not made from the CSR",
        "The certificate was signed from another (older) CSR: generate the CSR again and "
        "resubmit." },
    [V_SCEP_NO_SHADOW_CA] = { "SCEP_NO_SHADOW_CA", VERDICT_ERROR,
        "no rollover CA certificate",
        "The CA has no rollover (shadow) certificate yet: lengthen the auto-rollover overlap so it "
        "exists before clients ask." },
    [V_TCP_QUEUE_LIMIT] = { "TCP_QUEUE_LIMIT", VERDICT_ERROR,
        "server stops accepting connections",
        "Raise `ip http max-connections`, spread the clients' timers, and fix the cause of the "
        "request storm." },
    [V_ENROLLMENT_OK] = { "ENROLLMENT_OK", VERDICT_INFO,
        "certificate delivered",
        "Nothing to do." },
    [V_CERT_EXPIRING_SOON] = { "CERT_EXPIRING_SOON", VERDICT_WARNING,
        "certificate expires soon",
        "Renew the certificate before it expires (a CAPF certificate: regenerate it before "
        "issuing LSCs)." },
    [V_RESPONSE_NOT_SEEN] = { "RESPONSE_NOT_SEEN", VERDICT_WARNING,
        "answer not seen before the capture ended",
        "Capture longer: the request was still waiting when the capture stopped." },
};

const char *verdict_severity_name(verdict_severity_t severity)
{
    switch (severity) {
    case VERDICT_INFO: return "info";
    case VERDICT_WARNING: return "warning";
    case VERDICT_ERROR: return "error";
    }
    return "error";
}

const verdict_kind_t *verdict_kind(verdict_id_t id)
{
    return id < V_COUNT ? &catalogue[id] : NULL;
}

verdict_id_t verdict_id_from_name(const char *name)
{
    for (int i = 0; i < V_COUNT; i++)
        if (name && strcmp(catalogue[i].id, name) == 0)
            return (verdict_id_t)i;
    return V_COUNT;
}

void verdict_init(verdict_t *v, verdict_id_t id, const packet_info_t *at)
{
    memset(v, 0, sizeof(*v));
    v->id = id;
    v->severity = catalogue[id].severity;
    v->count = 1;
    g_strlcpy(v->advice, catalogue[id].advice, sizeof(v->advice));
    if (at) {
        v->at = *at;
        v->first_ts_us = at->ts_us;
    }
}

void verdict_add_evidence(verdict_t *v, uint64_t pcap_cnt)
{
    if (!pcap_cnt)
        return;
    unsigned i = 0;
    while (i < v->evidence_count && v->evidence[i] < pcap_cnt)
        i++;
    if (i < v->evidence_count && v->evidence[i] == pcap_cnt)
        return;
    if (v->evidence_count == VERDICT_EVIDENCE_MAX) {
        v->evidence_more = true;
        return;
    }
    memmove(&v->evidence[i + 1], &v->evidence[i], (v->evidence_count - i) * sizeof(v->evidence[0]));
    v->evidence[i] = pcap_cnt;
    v->evidence_count++;
}

void verdict_add_flow(verdict_t *v, uint64_t flow_id)
{
    for (unsigned i = 0; i < v->flow_count; i++)
        if (v->flow_ids[i] == flow_id)
            return;
    if (v->flow_count == VERDICT_FLOWS_MAX) {
        v->flows_more = true;
        return;
    }
    v->flow_ids[v->flow_count++] = flow_id;
}

void verdict_set_summary(verdict_t *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->summary, sizeof(v->summary), fmt, ap);
    va_end(ap);
}

static verdict_fact_t *fact_slot(verdict_t *v, const char *key)
{
    for (unsigned i = 0; i < v->fact_count; i++)
        if (strcmp(v->facts[i].key, key) == 0)
            return &v->facts[i];
    if (v->fact_count == VERDICT_FACTS_MAX)
        return NULL;
    verdict_fact_t *f = &v->facts[v->fact_count++];
    memset(f, 0, sizeof(*f));
    f->key = key;
    return f;
}

void verdict_fact_text(verdict_t *v, const char *key, const char *value)
{
    verdict_fact_t *f = fact_slot(v, key);
    if (!f)
        return;
    f->is_number = false;
    g_strlcpy(f->text, value ? value : "", sizeof(f->text));
}

void verdict_fact_number(verdict_t *v, const char *key, int64_t value)
{
    verdict_fact_t *f = fact_slot(v, key);
    if (!f)
        return;
    f->is_number = true;
    f->number = value;
}

void verdict_merge(verdict_t *into, const verdict_t *other)
{
    for (unsigned i = 0; i < other->evidence_count; i++)
        verdict_add_evidence(into, other->evidence[i]);
    into->evidence_more |= other->evidence_more;
    for (unsigned i = 0; i < other->flow_count; i++)
        verdict_add_flow(into, other->flow_ids[i]);
    into->flows_more |= other->flows_more;
}
