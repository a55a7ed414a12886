/* Writing pcapng (the IETF draft's Section Header, Interface Description
 * and Enhanced Packet blocks), with packet comments (opt_comment), which
 * libpcap cannot write.  Little-endian, microsecond timestamps.
 */
#ifndef ENROLLMON_PCAPNG_WRITER_H
#define ENROLLMON_PCAPNG_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct pcapng_writer pcapng_writer_t;

/* Writes the section header; NULL with errno set when the file cannot be made. */
pcapng_writer_t *pcapng_writer_open(const char *path);

/* An interface of this link type (libpcap's DLT_ value); returns its index. */
unsigned pcapng_writer_interface(pcapng_writer_t *w, int linktype, uint32_t snaplen);

/* One packet; ts_us: microseconds since the epoch, as pcapng stores them
 * (unsigned 64 bits); comments: NULL-terminated texts, each its own
 * opt_comment (NULL for none). */
void pcapng_writer_packet(pcapng_writer_t *w, unsigned interface, uint64_t ts_us, const uint8_t *data,
                          uint32_t caplen, uint32_t wirelen, const char *const *comments);

/* Closes the file; false when anything could not be written. */
bool pcapng_writer_close(pcapng_writer_t *w);

#endif
