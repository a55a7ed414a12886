"""The lab's scenarios: one per failure id of ../shared/docs/failures.md, the
ENROLLMENT_OK runs for CAPF, certsrv and EST, and one long mixed capture.

Each run function starts the servers and runs the clients through a
Context (make_captures.py); `expect` lists what the capture must lead to:
("verdict", ID, device) with the device the verdict must name (the phone's
name, else the client's address), and ("inner", ...) for what its TLS
carries inside (checked independently with tshark).
"""
import socket

from make_captures import HOST, Scenario

PHONE = "SEP74A02FC0A675"
FOREIGN_PHONE = "SEP001122334455"
CAPF_PORT = 3804


def capf_server(lab, ctx, *extra, tls="tls12-gcm", port=CAPF_PORT):
    return ctx.server("capf-server", "--pki", lab.pki, "--host", HOST, "--port", str(port),
                      "--tls", tls, "--keylog", ctx.keylog, *extra, port=port)


def capf_client(lab, ctx, *extra, tls="tls12-gcm", port=CAPF_PORT, expect_exit=0):
    return ctx.client("capf-client", "--pki", lab.pki, "--host", HOST, "--port", str(port),
                      "--tls", tls, "--keylog", ctx.keylog, *extra, expect_exit=expect_exit)


# capf-client exit statuses
OK, FAILED, REFUSED, MISMATCH, CUT = 0, 1, 3, 4, 5


def capf_enroll_ok(tls):
    def run(lab, ctx):
        capf_server(lab, ctx, "--client-auth", "required", "--trust", "trust-mic.pem",
                    "--known-device", PHONE, tls=tls)
        capf_client(lab, ctx, "--device", PHONE, "--client-cert", f"phone-{PHONE}-mic",
                    "--trust", "trust-capf-a.pem", tls=tls)
    return run


def capf_lsc_untrusted(lab, ctx):
    capf_server(lab, ctx, "--client-auth", "required", "--trust", "trust-capf-a.pem")
    capf_client(lab, ctx, "--device", FOREIGN_PHONE, "--client-cert", f"phone-{FOREIGN_PHONE}-lsc-b",
                "--trust", "trust-capf-a.pem", expect_exit=FAILED)


def cucm_mic_untrusted(lab, ctx):
    # The phone's TLS to CUCM (SIP 5061): CallManager-trust lacks the
    # Cisco manufacturing CAs, so the phone's MIC is unknown to it.
    capf_server(lab, ctx, "--server-cert", "cucm", "--client-auth", "required",
                "--trust", "trust-capf-a.pem", port=5061)
    capf_client(lab, ctx, "--device", PHONE, "--client-cert", f"phone-{PHONE}-mic",
                "--trust", "trust-cucm.pem", port=5061, expect_exit=FAILED)


def capf_server_cert_rejected(lab, ctx):
    # CAPF presents cluster B's certificate; the phone's ITL holds cluster
    # A's, so the phone refuses it, three times (it retries).
    capf_server(lab, ctx, "--server-cert", "capf-b", "--connections", "3")
    capf_client(lab, ctx, "--device", PHONE, "--trust", "trust-capf-a.pem", "--retries", "2",
                "--retry-delay-ms", "1000", expect_exit=FAILED)


def capf_unreachable(lab, ctx):
    # A path that drops the SYNs: a listener whose accept queue is full and
    # never drained answers nothing (a closed port would answer RST).  The
    # filling connection was made before the capture's filter saw it.
    capf_client(lab, ctx, "--device", PHONE, "--retries", "1", "--retry-delay-ms", "1000",
                "--connect-timeout-ms", "4000", expect_exit=FAILED)


def capf_unreachable_setup():
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind((HOST, CAPF_PORT))
    hole.listen(0)
    filler = socket.create_connection((HOST, CAPF_PORT))
    return hole, filler


def capf_service_down(lab, ctx):
    capf_client(lab, ctx, "--device", PHONE, "--retries", "2", "--retry-delay-ms", "1000",
                "--connect-timeout-ms", "2000", expect_exit=FAILED)


def capf_refused(status):
    def run(lab, ctx):
        if status == "07":
            capf_server(lab, ctx, "--already-issued", PHONE)
            capf_client(lab, ctx, "--device", PHONE, expect_exit=REFUSED)
        else:
            capf_server(lab, ctx, "--known-device", PHONE)
            capf_client(lab, ctx, "--device", "CSF123", expect_exit=REFUSED)
    return run


def capf_session_aborted(lab, ctx):
    capf_server(lab, ctx, "--known-device", PHONE)
    capf_client(lab, ctx, "--device", PHONE, "--abort-after", "03", "--abort-mode", "rst",
                expect_exit=CUT)


def capf_key_mismatch(lab, ctx):
    capf_server(lab, ctx, "--known-device", PHONE, "--issue-wrong-key")
    capf_client(lab, ctx, "--device", PHONE, expect_exit=MISMATCH)


CERTSRV_PORT = 443
EST_PORT = 8084
# ces-client / est-client exit statuses
DENIED, TIMED_OUT = 3, 5


def certsrv_server(lab, ctx, *extra, tls="tls12-gcm"):
    return ctx.server("certsrv-server", "--pki", lab.pki, "--host", HOST, "--port", str(CERTSRV_PORT),
                      "--tls", tls, "--keylog", ctx.keylog, "--templates", "CiscoRA,WebServer",
                      *extra, port=CERTSRV_PORT)


def ces_client(lab, ctx, *extra, tls="tls12-gcm", expect_exit=0):
    return ctx.client("ces-client", "--pki", lab.pki, "--host", HOST, "--port", str(CERTSRV_PORT),
                      "--tls", tls, "--keylog", ctx.keylog, "--subject-cn", PHONE, *extra,
                      expect_exit=expect_exit)


def certsrv_case(server_args=(), client_args=(), tls="tls12-gcm", expect_exit=0):
    def run(lab, ctx):
        certsrv_server(lab, ctx, "--connections", "1", *server_args, tls=tls)
        ces_client(lab, ctx, *client_args, tls=tls, expect_exit=expect_exit)
    return run


def est_case(server_args=(), client_args=(), tls="tls12-gcm", expect_exit=0):
    def run(lab, ctx):
        ctx.server("est-server", "--pki", lab.pki, "--host", HOST, "--port", str(EST_PORT), "--tls", tls,
                   "--keylog", ctx.keylog, "--cert", "ces-chain", "--connections", "1", *server_args,
                   port=EST_PORT)
        ctx.client("est-client", "--pki", lab.pki, "--host", HOST, "--port", str(EST_PORT), "--tls", tls,
                   "--keylog", ctx.keylog, "--subject-cn", PHONE, "--check-host", *client_args,
                   expect_exit=expect_exit)
    return run


FULL_FLOW = ("--template", "CiscoRA", "--check-host")
CES_STARTUP = ("--steps", "login,chain")


def mixed(lab, ctx):
    """Many phones enroll over a few minutes; some fail.  CES fetches the CA
    chain and enrolls through certsrv; a name does not resolve."""
    ctx.server("dns-responder", "--host", HOST, "--port", "53", "--name", "ca.example.test=127.0.0.1",
               "--name", "cucm-pub.example.test=127.0.0.1", "--nxdomain", "capf.example.test",
               port=53, proto="udp")
    certsrv_server(lab, ctx, "--connections", "3")
    capf_server(lab, ctx, "--client-auth", "optional", "--trust", "trust-mic.pem",
                "--connections", str(len(MIXED_PHONES) + 2), *MIXED_KNOWN, "--already-issued", MIXED_PHONES[3])
    ctx.client("dns-query", "--server", HOST, "--port", "53", "ca.example.test", "A", expect_exit=0)
    ces_client(lab, ctx, *CES_STARTUP)
    for i, phone in enumerate(MIXED_PHONES):
        ctx.pause(14)
        if i == 2:
            ctx.client("dns-query", "--server", HOST, "--port", "53", "capf.example.test", "A",
                       expect_exit=3)
        if i == 5:
            ces_client(lab, ctx, *FULL_FLOW)
        if i == 7:
            ces_client(lab, ctx, "--template", "CiscoRAx", "--steps", "login,form,submit,retrieve",
                       expect_exit=DENIED)
        cert = ("--client-cert", f"phone-{PHONE}-mic") if phone == PHONE else ()
        if phone == MIXED_PHONES[3]:
            capf_client(lab, ctx, "--device", phone, *cert, expect_exit=REFUSED)
        elif phone == MIXED_UNKNOWN:
            capf_client(lab, ctx, "--device", phone, expect_exit=REFUSED)
        elif phone == MIXED_ABORT:
            capf_client(lab, ctx, "--device", phone, "--abort-after", "03", "--abort-mode", "rst",
                        expect_exit=CUT)
        else:
            capf_client(lab, ctx, "--device", phone, *cert, expect_exit=OK)


# Phones of the mixed capture: names as CUCM writes them (SEP + MAC).
MIXED_PHONES = [PHONE] + ["SEP%012X" % (0x74A02FC0A700 + 0x11 * i) for i in range(1, 12)]
MIXED_UNKNOWN = MIXED_PHONES[6]
MIXED_ABORT = MIXED_PHONES[9]
MIXED_KNOWN = [arg for p in MIXED_PHONES if p != MIXED_UNKNOWN for arg in ("--known-device", p)]


def mixed_expect():
    lines = []
    for p in MIXED_PHONES:
        if p == MIXED_PHONES[3] or p == MIXED_UNKNOWN:
            lines.append(("verdict", "CAPF_REFUSED", p))
        elif p == MIXED_ABORT:
            lines.append(("verdict", "CAPF_SESSION_ABORTED", p))
        else:
            lines.append(("verdict", "ENROLLMENT_OK", p))
    lines += [("verdict", "DNS_NXDOMAIN", HOST), ("verdict", "TEMPLATE_REJECTED", PHONE),
              ("inner", "capf"), ("inner", "http", "/certsrv/certfnsh.asp")]
    return lines


def dns_nxdomain(lab, ctx):
    ctx.server("dns-responder", "--host", HOST, "--port", "53", "--name", "ca.example.test=127.0.0.1",
               "--nxdomain", "cucm-pub.example.test", port=53, proto="udp")
    ctx.client("dns-query", "--server", HOST, "--port", "53", "ca.example.test", "A", expect_exit=0)
    ctx.client("dns-query", "--server", HOST, "--port", "53", "cucm-pub.example.test", "A",
               expect_exit=3)


def scep_no_shadow(lab, ctx):
    ctx.server("ios-ca", "--pki", lab.pki, "--host", HOST, "--port", "80", port=80)
    ctx.client("scep-storm", "--host", HOST, "--port", "80", "--clients", "1", "--concurrency", "1",
               expect_exit=None)


def tcp_queue_limit(lab, ctx):
    # The IOS HTTP server's limits (seed 001): 16 concurrent, 80 connections
    # a minute, then 15 s of not listening; 300 SCEP clients spread over 20 s.
    ctx.server("ios-ca", "--pki", lab.pki, "--host", HOST, "--port", "80", "--duration-s", "60",
               port=80)
    ctx.client("scep-storm", "--host", HOST, "--port", "80", "--clients", "300", "--concurrency",
               "300", "--start-spread-ms", "20000", "--separate", expect_exit=None, timeout=120)


HTTP_INNER_LOGIN = ("inner", "http", "/certsrv")
HTTP_INNER_SUBMIT = ("inner", "http", "/certsrv/certfnsh.asp")
HTTP_INNER_EST = ("inner", "http", "/.well-known/est/simpleenroll")

SCENARIOS = [
    Scenario("capf-enroll-ok-tls12", "A phone (MIC) enrolls through CAPF over TLS 1.2 ECDHE-GCM: request, CSR, certificate, acknowledgement.",
             f"tcp port {CAPF_PORT}", capf_enroll_ok("tls12-gcm"),
             [("verdict", "ENROLLMENT_OK", PHONE), ("inner", "capf")]),
    Scenario("capf-enroll-ok-tls13", "The same enrollment over TLS 1.3: certificates and CAPF messages visible only with the key log.",
             f"tcp port {CAPF_PORT}", capf_enroll_ok("tls13"),
             [("verdict", "ENROLLMENT_OK", PHONE), ("inner", "capf")]),
    Scenario("capf-enroll-ok-rsa-cbc", "The same enrollment over TLS 1.2 with RSA key exchange and AES-CBC; CAPF's private key is kept beside the capture.",
             f"tcp port {CAPF_PORT}", capf_enroll_ok("tls12-rsa-cbc"),
             [("verdict", "ENROLLMENT_OK", PHONE), ("inner", "capf")], server_key="capf-a"),
    Scenario("capf-lsc-ca-untrusted", "A phone presents an LSC from another cluster's CAPF; CAPF answers with a fatal unknown_ca.",
             f"tcp port {CAPF_PORT}", capf_lsc_untrusted,
             [("verdict", "LSC_CA_UNTRUSTED", FOREIGN_PHONE), ("inner", "none")]),
    Scenario("cucm-mic-ca-untrusted", "A phone presents its MIC to CUCM (SIP TLS 5061) whose trust store lacks the manufacturing CAs: fatal unknown_ca.",
             "tcp port 5061", cucm_mic_untrusted,
             [("verdict", "MIC_CA_UNTRUSTED", PHONE), ("inner", "none")]),
    Scenario("capf-server-cert-rejected", "CAPF presents a certificate other than the one in the phone's ITL; the phone refuses it, and retries twice.",
             f"tcp port {CAPF_PORT}", capf_server_cert_rejected,
             [("verdict", "CAPF_SERVER_CERT_REJECTED", HOST), ("inner", "none")]),
    Scenario("capf-unreachable", "The phone's SYNs to CAPF go unanswered (retransmitted, no SYN-ACK), twice.",
             f"tcp port {CAPF_PORT}", capf_unreachable,
             [("verdict", "CAPF_UNREACHABLE", HOST), ("inner", "none")]),
    Scenario("capf-service-down", "Nothing listens on 3804: every SYN is answered by RST; the phone retries.",
             f"tcp port {CAPF_PORT}", capf_service_down,
             [("verdict", "CAPF_SERVICE_DOWN", HOST), ("inner", "none")]),
    Scenario("capf-refused-already-issued", "CAPF refuses the request: a certificate was already issued to this device (0x0f, status 0x07).",
             f"tcp port {CAPF_PORT}", capf_refused("07"),
             [("verdict", "CAPF_REFUSED", PHONE), ("inner", "capf")]),
    Scenario("capf-refused-device-unknown", "CAPF refuses the request: no device with this name (0x0f, status 0x09).",
             f"tcp port {CAPF_PORT}", capf_refused("09"),
             [("verdict", "CAPF_REFUSED", "CSF123"), ("inner", "capf")]),
    Scenario("capf-session-aborted", "The phone cuts the CAPF session with a TCP RST after CAPF's 0x03, before any certificate.",
             f"tcp port {CAPF_PORT}", capf_session_aborted,
             [("verdict", "CAPF_SESSION_ABORTED", PHONE), ("inner", "capf")]),
    Scenario("capf-key-mismatch", "CAPF issues a certificate whose public key differs from the phone's CSR (0x04 vs 0x09).",
             f"tcp port {CAPF_PORT}", capf_key_mismatch,
             [("verdict", "CSR_CERT_KEY_MISMATCH", PHONE), ("inner", "capf")]),
    Scenario("certsrv-enroll-ok-tls12", "CES (CiscoRA) enrolls a phone's certificate through AD CS web enrollment: NTLM dance, form, certfnsh.asp, certnew.cer.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(client_args=FULL_FLOW),
             [("verdict", "ENROLLMENT_OK", PHONE), HTTP_INNER_LOGIN, HTTP_INNER_SUBMIT]),
    Scenario("certsrv-enroll-ok-tls13", "The same certsrv enrollment over TLS 1.3.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(client_args=FULL_FLOW, tls="tls13"),
             [("verdict", "ENROLLMENT_OK", PHONE), HTTP_INNER_LOGIN, HTTP_INNER_SUBMIT]),
    Scenario("certsrv-enroll-ok-rsa-cbc", "The same certsrv enrollment over TLS 1.2 RSA key exchange with AES-CBC; the IIS key is kept beside the capture.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(client_args=FULL_FLOW, tls="tls12-rsa-cbc"),
             [("verdict", "ENROLLMENT_OK", PHONE), HTTP_INNER_LOGIN, HTTP_INNER_SUBMIT], server_key="web-good"),
    Scenario("est-enroll-ok", "CAPF enrolls through CES/CiscoRA's EST: cacerts, then simpleenroll answered 200 with PKCS#7.",
             f"tcp port {EST_PORT}", est_case(),
             [("verdict", "ENROLLMENT_OK", PHONE), HTTP_INNER_EST]),
    Scenario("ca-chain-untrusted", "The CA web server sends its certificate without the intermediate; CES cannot build the chain and sends unknown_ca.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(("--cert", "web-good"), CES_STARTUP, expect_exit=FAILED),
             [("verdict", "CA_CHAIN_UNTRUSTED", HOST), ("inner", "none")]),
    Scenario("ca-self-signed", "The CA web server presents a self-signed certificate; CES rejects it with unknown_ca.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(("--cert", "web-self-signed"), CES_STARTUP, expect_exit=FAILED),
             [("verdict", "SERVER_CERT_SELF_SIGNED", HOST), ("inner", "none")]),
    Scenario("ca-name-mismatch", "The CA web server's certificate is issued to another name than CES asked for (SNI); CES checks the name and rejects it.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(("--cert", "web-wrong-name-chain"), ("--check-host",) + CES_STARTUP, expect_exit=FAILED),
             [("verdict", "SERVER_NAME_MISMATCH", HOST), ("inner", "none")]),
    Scenario("ca-cert-not-yet-valid", "The CA web server's certificate is not valid yet (clocks apart); CES rejects it with bad_certificate.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(("--cert", "web-not-yet-valid-chain"), CES_STARTUP, expect_exit=FAILED),
             [("verdict", "CERT_NOT_YET_VALID", HOST), ("inner", "none")]),
    Scenario("ca-cert-expired", "The CA web server's certificate has expired; CES rejects it with certificate_expired.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(("--cert", "web-expired-chain"), CES_STARTUP, expect_exit=FAILED),
             [("verdict", "CERT_EXPIRED", HOST), ("inner", "none")]),
    Scenario("ca-login-timeout", "CES asks for /certsrv and gets no answer within its 10 s; it gives up.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(("--login-delay-ms", "12000"), CES_STARTUP, expect_exit=TIMED_OUT),
             [("verdict", "CA_LOGIN_TIMEOUT", HOST), HTTP_INNER_LOGIN]),
    Scenario("ca-request-timeout", "After a good login, CES asks for the CA chain (certnew.p7b) and gets no answer within 10 s.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(("--request-delay-ms", "12000"), CES_STARTUP, expect_exit=TIMED_OUT),
             [("verdict", "CA_REQUEST_TIMEOUT", HOST), HTTP_INNER_LOGIN]),
    Scenario("ca-auth-failed", "CES sends NTLM credentials the CA does not accept: /certsrv still answers 401.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(("--user", "ENROLLMON\\ciscora", "--password", "right"),
                                                       ("--user", "ENROLLMON\\ciscora", "--password", "wrong"), expect_exit=DENIED),
             [("verdict", "CA_AUTH_FAILED", HOST), HTTP_INNER_LOGIN]),
    Scenario("ca-template-rejected", "CES submits with a certificate template the CA does not know: the answer page is a denial (disposition 0x80094800).",
             f"tcp port {CERTSRV_PORT}", certsrv_case((), ("--template", "CiscoRAx", "--steps", "login,form,submit,retrieve"), expect_exit=DENIED),
             [("verdict", "TEMPLATE_REJECTED", PHONE), HTTP_INNER_SUBMIT]),
    Scenario("est-enroll-failed", "CAPF's EST simpleenroll is answered 401 by CES (EST_ERR_AUTH_FAIL).",
             f"tcp port {EST_PORT}", est_case(("--reject",), expect_exit=DENIED),
             [("verdict", "EST_ENROLL_FAILED", PHONE), HTTP_INNER_EST]),
    Scenario("certsrv-key-mismatch", "The CA returns a certificate (certnew.cer) whose public key is not the CSR's.",
             f"tcp port {CERTSRV_PORT}", certsrv_case(("--wrong-key",), ("--steps", "login,form,submit,retrieve"), expect_exit=MISMATCH),
             [("verdict", "CSR_CERT_KEY_MISMATCH", PHONE), HTTP_INNER_SUBMIT]),
    Scenario("dns-nxdomain", "The CUCM FQDN does not resolve: NXDOMAIN (the CA's name does).",
             "port 53", dns_nxdomain,
             [("verdict", "DNS_NXDOMAIN", HOST), ("inner", "none")]),
    Scenario("scep-no-shadow-ca", "A SCEP client asks the IOS CA for its rollover certificate: GetNextCACert answered 404.",
             "tcp port 80", scep_no_shadow,
             [("verdict", "SCEP_NO_SHADOW_CA", HOST), ("inner", "none")]),
    Scenario("mixed-enrollment", "About three minutes of a cluster: twelve phones enroll through CAPF (one refused as already issued, one unknown, one cut short), CES fetches the CA chain and enrolls once, one template is refused, one name does not resolve.",
             "tcp port 3804 or tcp port 443 or port 53", mixed, mixed_expect()),
    Scenario("tcp-queue-limit", "300 SCEP clients against an IOS CA limited to 16 concurrent and 80 connections a minute: 15 s periods of unanswered SYNs. The CA has no rollover certificate, so each GetNextCACert the clients ask is answered 404 (seed 001 shows both).",
             "tcp port 80", tcp_queue_limit,
             [("verdict", "TCP_QUEUE_LIMIT", HOST), ("verdict", "SCEP_NO_SHADOW_CA", HOST), ("inner", "none")]),
]

# Scenarios whose set-up must exist before the capture starts (so the
# capture does not show it).
SETUP = {"capf-unreachable": capf_unreachable_setup}
