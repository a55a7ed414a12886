/* Where a packet came from: its time and its place in its capture file. */
#ifndef ENROLLMON_PACKET_INFO_H
#define ENROLLMON_PACKET_INFO_H

#include <stdint.h>

typedef struct packet_info {
    int64_t ts_us;          /* packet time, microseconds since the epoch */
    const char *pcap_file;  /* NULL when live */
    uint64_t pcap_cnt;      /* 1-based number in its file (live: since start) */
} packet_info_t;

/* Microseconds since the epoch from a capture header's seconds and
 * microseconds.  The seconds come from the file, perhaps a damaged one:
 * they are clamped to 2^40 s (some 34,000 years) either way, so that the
 * time in microseconds, and deadlines and windows added to it, never
 * overflow 64 bits. */
static inline int64_t packet_time_us(int64_t sec, int64_t usec)
{
    const int64_t max_sec = INT64_C(1) << 40;
    if (sec > max_sec)
        sec = max_sec;
    else if (sec < -max_sec)
        sec = -max_sec;
    if (usec < 0 || usec > 999999)
        usec = 0;
    return sec * 1000000 + usec;
}

#endif
