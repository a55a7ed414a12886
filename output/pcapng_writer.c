#include "pcapng_writer.h"

#include <glib.h>
#include <string.h>

#define BLOCK_SHB 0x0A0D0D0Au
#define BLOCK_IDB 0x00000001u
#define BLOCK_EPB 0x00000006u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define OPT_END 0
#define OPT_COMMENT 1
#define OPT_SHB_USERAPPL 4
#define OPT_IF_TSRESOL 9

struct pcapng_writer {
    FILE *fp;
    bool failed;
    unsigned interfaces;
};

/* Blocks are built in memory and written in one call: the total length is
 * at both ends, known only when the block is complete. */
static void put32(GByteArray *b, uint32_t v)
{
    uint8_t le[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    g_byte_array_append(b, le, 4);
}

static void put16(GByteArray *b, uint16_t v)
{
    uint8_t le[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    g_byte_array_append(b, le, 2);
}

static void pad4(GByteArray *b)
{
    static const uint8_t zeros[3] = { 0 };
    if (b->len % 4)
        g_byte_array_append(b, zeros, 4 - b->len % 4);
}

static void put_option(GByteArray *b, uint16_t code, const void *value, size_t len)
{
    if (len > 0xfff0)
        len = 0xfff0; /* an option's length is 16 bits */
    put16(b, code);
    put16(b, (uint16_t)len);
    g_byte_array_append(b, value, (guint)len);
    pad4(b);
}

static void end_options(GByteArray *b)
{
    put16(b, OPT_END);
    put16(b, 0);
}

/* Frames the body as a block: type, total length, body, total length. */
static void write_block(pcapng_writer_t *w, uint32_t type, GByteArray *body)
{
    GByteArray *block = g_byte_array_sized_new(body->len + 12);
    put32(block, type);
    put32(block, body->len + 12);
    g_byte_array_append(block, body->data, body->len);
    put32(block, body->len + 12);
    if (fwrite(block->data, 1, block->len, w->fp) != block->len)
        w->failed = true;
    g_byte_array_free(block, TRUE);
}

pcapng_writer_t *pcapng_writer_open(const char *path)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return NULL;
    pcapng_writer_t *w = g_new0(pcapng_writer_t, 1);
    w->fp = fp;
    GByteArray *b = g_byte_array_new();
    put32(b, BYTE_ORDER_MAGIC);
    put16(b, 1); /* version 1.0 */
    put16(b, 0);
    put32(b, 0xffffffffu); /* section length: not given */
    put32(b, 0xffffffffu);
    const char *app = "enrollmon";
    put_option(b, OPT_SHB_USERAPPL, app, strlen(app));
    end_options(b);
    write_block(w, BLOCK_SHB, b);
    g_byte_array_free(b, TRUE);
    return w;
}

unsigned pcapng_writer_interface(pcapng_writer_t *w, int linktype, uint32_t snaplen)
{
    GByteArray *b = g_byte_array_new();
    put16(b, (uint16_t)linktype);
    put16(b, 0);
    put32(b, snaplen);
    uint8_t resolution = 6; /* microseconds */
    put_option(b, OPT_IF_TSRESOL, &resolution, 1);
    end_options(b);
    write_block(w, BLOCK_IDB, b);
    g_byte_array_free(b, TRUE);
    return w->interfaces++;
}

void pcapng_writer_packet(pcapng_writer_t *w, unsigned interface, uint64_t ts_us, const uint8_t *data,
                          uint32_t caplen, uint32_t wirelen, const char *const *comments)
{
    GByteArray *b = g_byte_array_sized_new(caplen + 64);
    uint64_t ts = ts_us;
    put32(b, interface);
    put32(b, (uint32_t)(ts >> 32));
    put32(b, (uint32_t)ts);
    put32(b, caplen);
    put32(b, wirelen);
    g_byte_array_append(b, data, caplen);
    pad4(b);
    if (comments && comments[0]) {
        for (const char *const *c = comments; *c; c++)
            put_option(b, OPT_COMMENT, *c, strlen(*c));
        end_options(b);
    }
    write_block(w, BLOCK_EPB, b);
    g_byte_array_free(b, TRUE);
}

bool pcapng_writer_close(pcapng_writer_t *w)
{
    if (!w)
        return false;
    bool ok = !w->failed && fflush(w->fp) == 0;
    ok = fclose(w->fp) == 0 && ok;
    g_free(w);
    return ok;
}
