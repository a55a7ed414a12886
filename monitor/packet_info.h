/* Where a packet came from: its time and its place in its capture file. */
#ifndef ENROLLMON_PACKET_INFO_H
#define ENROLLMON_PACKET_INFO_H

#include <stdint.h>

typedef struct packet_info {
    int64_t ts_us;          /* packet time, microseconds since the epoch */
    const char *pcap_file;  /* NULL when live */
    uint64_t pcap_cnt;      /* 1-based number in its file (live: since start) */
} packet_info_t;

#endif
