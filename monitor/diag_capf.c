/* CAPF verdicts: CAPF_REFUSED, CAPF_SESSION_ABORTED, CSR_CERT_KEY_MISMATCH
 * (0x04 against 0x09) and ENROLLMENT_OK, from the decrypted messages; and
 * the same, marked inferred, from the encrypted record sizes when there
 * are no keys (capf_infer.h).
 */
#include "../dissectors/capf_proto.h"
#include "capf_flow.h"
#include "diag_internal.h"
#include "tls_flow.h"

#include <string.h>

static void set_flow_device(diagnosis_t *d, const flow_t *flow, const char *device)
{
    diag_flow_t *df = diag_flow(d, flow);
    if (df && device && *device)
        g_strlcpy(df->device, device, sizeof(df->device));
}

static const char *status_text(uint8_t status)
{
    const capf_name_t *n = capf_status_lookup(status);
    return n ? n->label : "unknown status";
}

static void refused(diagnosis_t *d, const flow_t *flow, const capf_conn_t *conn, uint8_t status,
                    const packet_info_t *at)
{
    diag_flow_t *df = diag_flow(d, flow);
    if (!diag_flow_once(df, V_CAPF_REFUSED))
        return;
    verdict_t v;
    verdict_init(&v, V_CAPF_REFUSED, at);
    diag_verdict_for_flow(d, &v, flow);
    verdict_add_evidence(&v, conn->request_at.pcap_cnt);
    verdict_add_evidence(&v, at->pcap_cnt);
    verdict_set_summary(&v, "CAPF refused the certificate operation for %s: status 0x%02x (%s)",
                        v.device, status, status_text(status));
    char hex[8];
    g_snprintf(hex, sizeof(hex), "0x%02x", status);
    verdict_fact_text(&v, "status", hex);
    verdict_fact_text(&v, "status_name", status_text(status));
    if (status == CAPF_STATUS_ALREADY_ISSUED)
        g_strlcpy(v.advice,
                  "A certificate was already issued for this operation: in CUCM, set the phone's "
                  "certificate operation again (Install/Upgrade) with a new deadline, or choose "
                  "No Pending Operation, then reset the phone.",
                  sizeof(v.advice));
    else if (status == CAPF_STATUS_DEVICE_UNKNOWN)
        g_strlcpy(v.advice,
                  "CAPF does not know this device name: add the device in CUCM (or correct its "
                  "name) and give it a certificate operation.",
                  sizeof(v.advice));
    diag_emit(d, &v);
}

static void key_mismatch(diagnosis_t *d, const flow_t *flow, const capf_conn_t *conn,
                         const capf_event_extra_t *extra, const packet_info_t *at)
{
    diag_flow_t *df = diag_flow(d, flow);
    if (!diag_flow_once(df, V_CSR_CERT_KEY_MISMATCH))
        return;
    verdict_t v;
    verdict_init(&v, V_CSR_CERT_KEY_MISMATCH, at);
    diag_verdict_for_flow(d, &v, flow);
    verdict_add_evidence(&v, conn->csr_at.pcap_cnt);
    verdict_add_evidence(&v, at->pcap_cnt);
    const char *cert_md5 = extra->cert ? extra->cert->info.modulus_md5 : "";
    const char *csr_md5 = extra->csr_modulus_md5 ? extra->csr_modulus_md5 : conn->csr_modulus_md5;
    verdict_set_summary(&v,
                        "CAPF issued %s a certificate whose key is not the one the phone sent "
                        "(CSR modulus MD5 %s, certificate modulus MD5 %s)",
                        v.device, csr_md5, cert_md5);
    verdict_fact_text(&v, "csr_modulus_md5", csr_md5);
    verdict_fact_text(&v, "cert_modulus_md5", cert_md5);
    diag_emit(d, &v);
}

void diagnosis_capf(diagnosis_t *d, const flow_t *flow, const capf_message_t *msg,
                       const capf_event_extra_t *extra, const packet_info_t *at)
{
    const capf_conn_t *conn = extra->conn;
    if (conn && conn->has_device)
        set_flow_device(d, flow, conn->device);
    const char *device = conn && conn->has_device ? conn->device : NULL;
    if (msg->opcode == CAPF_OP_CSR && extra->csr_modulus_md5 && device) {
        diag_parties_note_key(d, extra->csr_modulus_md5, device, at->ts_us);
        diag_parties_note_capf_request(d, device, at->ts_us);
    } else if (msg->opcode == CAPF_OP_REQUEST && device) {
        diag_parties_note_capf_request(d, device, at->ts_us);
    }
    if (extra->cert && device)
        diag_parties_note_key(d, extra->cert->info.modulus_md5, device, at->ts_us);
    if (extra->cert_match_known && !extra->cert_matches_csr && conn)
        key_mismatch(d, flow, conn, extra, at);
    /* A refusal: an end of session with a status other than OK before any
     * certificate. */
    if (msg->opcode == CAPF_OP_END_SESSION && msg->has_status && msg->status != CAPF_STATUS_OK &&
        conn && !conn->certificate_seen)
        refused(d, flow, conn, msg->status, at);
}

static const char *how_it_ended(const flow_t *flow)
{
    if (flow->closed_by < 0)
        return "the connection stayed open until the end of the capture";
    bool by_client = flow->closed_by == DIR_TO_SERVER;
    if (flow->closed_by_rst)
        return by_client ? "the phone reset the connection" : "CAPF reset the connection";
    return by_client ? "the phone closed the connection" : "CAPF closed the connection";
}

void diagnosis_capf_end(diagnosis_t *d, const flow_t *flow, const capf_conn_t *conn,
                   const packet_info_t *at)
{
    if (conn->has_device)
        set_flow_device(d, flow, conn->device);
    diag_flow_t *df = diag_flow(d, flow);
    capf_outcome_t outcome = capf_conn_outcome(conn);
    if (outcome == CAPF_OUTCOME_ISSUED) {
        if (conn->key_match_known && !conn->cert_matches_csr)
            return; /* CSR_CERT_KEY_MISMATCH said it */
        if (!diag_flow_once(df, V_ENROLLMENT_OK))
            return;
        verdict_t v;
        verdict_init(&v, V_ENROLLMENT_OK, conn->ack_at.pcap_cnt ? &conn->ack_at : at);
        diag_verdict_for_flow(d, &v, flow);
        verdict_add_evidence(&v, conn->request_at.pcap_cnt);
        verdict_add_evidence(&v, conn->certificate_at.pcap_cnt);
        verdict_add_evidence(&v, conn->ack_at.pcap_cnt);
        const char *subject = conn->certificate ? conn->certificate->info.subject_cn : NULL;
        verdict_set_summary(&v, "CAPF delivered a certificate%s%s to %s and the phone acknowledged it",
                            subject ? " for " : "", subject ? subject : "", v.device);
        if (conn->certificate && conn->certificate->info.serial)
            verdict_fact_text(&v, "serial", conn->certificate->info.serial);
        diag_emit(d, &v);
        return;
    }
    if (outcome != CAPF_OUTCOME_INCOMPLETE && outcome != CAPF_OUTCOME_ISSUED_UNACKED)
        return;
    if (df && (df->fired & (UINT64_C(1) << V_CAPF_REFUSED)))
        return;
    if (!diag_flow_once(df, V_CAPF_SESSION_ABORTED))
        return;
    verdict_t v;
    verdict_init(&v, V_CAPF_SESSION_ABORTED, flow->closed_by >= 0 ? &flow->closed_at : at);
    diag_verdict_for_flow(d, &v, flow);
    verdict_add_evidence(&v, conn->first_at.pcap_cnt);
    verdict_add_evidence(&v, conn->request_at.pcap_cnt);
    verdict_add_evidence(&v, conn->csr_at.pcap_cnt);
    verdict_add_evidence(&v, conn->certificate_at.pcap_cnt);
    if (flow->closed_by >= 0)
        verdict_add_evidence(&v, flow->closed_at.pcap_cnt);
    const capf_name_t *last = conn->opcode_count
                                  ? capf_opcode_lookup(conn->opcodes[conn->opcode_count - 1])
                                  : NULL;
    verdict_set_summary(&v, "CAPF session for %s ended before a certificate was %s: last message "
                        "%s, then %s",
                        v.device,
                        outcome == CAPF_OUTCOME_ISSUED_UNACKED ? "acknowledged" : "delivered",
                        last ? last->label : "none", how_it_ended(flow));
    diag_emit(d, &v);
}

void diag_capf_inferred(diagnosis_t *d, const flow_t *flow, const tls_conn_t *tls,
                        const packet_info_t *at)
{
    if (!tls->on_capf_port || tls->app_is_capf || flow->capf)
        return;
    capf_inferred_outcome_t outcome = capf_infer_outcome(&tls->capf_infer);
    verdict_id_t id;
    const char *what;
    switch (outcome) {
    case CAPF_INFERRED_DELIVERED:
        id = V_ENROLLMENT_OK;
        what = "a certificate-sized record from CAPF and the phone's acknowledgement";
        break;
    case CAPF_INFERRED_DELIVERED_UNACKED:
        id = V_CAPF_SESSION_ABORTED;
        what = "a certificate-sized record from CAPF, then no acknowledgement";
        break;
    case CAPF_INFERRED_REFUSED:
        id = V_CAPF_REFUSED;
        what = "CAPF answered the request with a short record and closed";
        break;
    case CAPF_INFERRED_ABORTED:
        id = V_CAPF_SESSION_ABORTED;
        what = "the session stopped before any certificate-sized record";
        break;
    default:
        return;
    }
    diag_flow_t *df = diag_flow(d, flow);
    if (!diag_flow_once(df, id))
        return;
    verdict_t v;
    verdict_init(&v, id, at);
    v.inferred = true;
    diag_verdict_for_flow(d, &v, flow);
    verdict_add_evidence(&v, tls->client_hello_at.pcap_cnt);
    verdict_add_evidence(&v, tls->server_hello_at.pcap_cnt);
    verdict_add_evidence(&v, at->pcap_cnt);
    verdict_set_summary(&v, "inferred from encrypted record sizes (no keys): %s (%s)", what, v.device);
    diag_emit(d, &v);
}
