/* The report's lines for HTTP enrollment exchanges and DNS failures,
 * apart from the sink that prints them. */
#ifndef ENROLLMON_REPORT_LINES_H
#define ENROLLMON_REPORT_LINES_H

#include "../monitor/dns_flow.h"
#include "../monitor/http_flow.h"

#include <glib.h>

/* "certsrv #12 10.1.1.30 -> 10.1.1.40:80 POST /certsrv/certfnsh.asp 200
 * submission: issued ReqID=77 template=CiscoRA"; false for an exchange
 * that is not certsrv, EST or SCEP. */
bool report_describe_pki_exchange(GString *line, const flow_t *flow, const http_exchange_t *ex);

/* "dns enroll-ca.example.com A NXDOMAIN (asked by 10.1.1.30, server
 * 10.1.1.2)"; false for a query answered without an error. */
bool report_describe_dns_failure(GString *line, const flow_t *flow, const dns_transaction_t *tx);

#endif
