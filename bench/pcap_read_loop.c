/* pcap-read-loop: the floor the benchmark measures everything against.
 *
 * Opens one capture with libpcap and calls pcap_next_ex until the end,
 * doing nothing with a packet but count it and add up its captured and
 * original lengths.  Whatever a tool does beyond this loop is its own cost.
 *
 * Usage: pcap-read-loop FILE
 * Prints: packets=N caplen_bytes=N wire_bytes=N
 * Exit status: 0 the whole file was read, 1 it is damaged or cut short
 * (the counts before the damage are still printed), 2 it cannot be opened.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_open_offline(argv[1], errbuf);
    if (!p) {
        fprintf(stderr, "pcap-read-loop: %s: %s\n", argv[1], errbuf);
        return 2;
    }
    struct pcap_pkthdr *hdr;
    const u_char *data;
    uint64_t packets = 0, caplen_bytes = 0, wire_bytes = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
        packets++;
        caplen_bytes += hdr->caplen;
        wire_bytes += hdr->len;
    }
    int status = 0;
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "pcap-read-loop: %s: stopped after packet %" PRIu64 ": %s\n", argv[1], packets,
                pcap_geterr(p));
        status = 1;
    }
    pcap_close(p);
    printf("packets=%" PRIu64 " caplen_bytes=%" PRIu64 " wire_bytes=%" PRIu64 "\n", packets, caplen_bytes,
           wire_bytes);
    return status;
}
