#include "capf_msg.h"

#include <string.h>

static void put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void capf_build_begin(capf_builder_t *b, uint8_t opcode, uint32_t session_id)
{
    b->buf[0] = CAPF_MAGIC;
    b->buf[1] = opcode;
    b->buf[2] = (uint8_t)(session_id >> 24);
    b->buf[3] = (uint8_t)(session_id >> 16);
    b->buf[4] = (uint8_t)(session_id >> 8);
    b->buf[5] = (uint8_t)session_id;
    put_u16(b->buf + 6, 0);
    b->len = CAPF_HEADER_LEN;
    b->overflow = false;
}

bool capf_field_encode(uint8_t *out, size_t cap, size_t *pos, uint8_t tag, const void *value,
                       size_t len)
{
    if (len > 0xffffu || *pos > cap || cap - *pos < CAPF_FIELD_HEADER_LEN + len)
        return false;
    out[*pos] = tag;
    put_u16(out + *pos + 1, len);
    if (len > 0)
        memcpy(out + *pos + CAPF_FIELD_HEADER_LEN, value, len);
    *pos += CAPF_FIELD_HEADER_LEN + len;
    return true;
}

void capf_build_field(capf_builder_t *b, uint8_t tag, const void *value, size_t len)
{
    if (b->overflow)
        return;
    if (!capf_field_encode(b->buf, sizeof(b->buf), &b->len, tag, value, len))
        b->overflow = true;
}

void capf_build_u8(capf_builder_t *b, uint8_t tag, uint8_t value)
{
    capf_build_field(b, tag, &value, 1);
}

bool capf_build_end(capf_builder_t *b)
{
    if (b->overflow || b->len < CAPF_HEADER_LEN || b->len - CAPF_HEADER_LEN > CAPF_MSG_MAX_BODY)
        return false;
    put_u16(b->buf + 6, b->len - CAPF_HEADER_LEN);
    return true;
}

bool capf_header_parse(const uint8_t raw[CAPF_HEADER_LEN], capf_header_t *h)
{
    if (raw[0] != CAPF_MAGIC)
        return false;
    h->opcode = raw[1];
    h->session_id = (uint32_t)raw[2] << 24 | (uint32_t)raw[3] << 16 | (uint32_t)raw[4] << 8 |
                    (uint32_t)raw[5];
    h->body_len = (uint16_t)((unsigned)raw[6] << 8 | raw[7]);
    return true;
}

void capf_field_iter_init(capf_field_iter_t *it, const uint8_t *data, size_t len)
{
    it->data = data;
    it->len = data ? len : 0;
    it->pos = 0;
    it->malformed = false;
}

bool capf_field_next(capf_field_iter_t *it, capf_field_t *f)
{
    if (it->malformed || it->pos >= it->len)
        return false;
    size_t left = it->len - it->pos;
    if (left < CAPF_FIELD_HEADER_LEN) {
        it->malformed = true;
        return false;
    }
    const uint8_t *p = it->data + it->pos;
    size_t vlen = (size_t)p[1] << 8 | p[2];
    if (vlen > left - CAPF_FIELD_HEADER_LEN) {
        it->malformed = true;
        return false;
    }
    f->tag = p[0];
    f->len = (uint16_t)vlen;
    f->value = p + CAPF_FIELD_HEADER_LEN;
    it->pos += CAPF_FIELD_HEADER_LEN + vlen;
    return true;
}

bool capf_field_find(const uint8_t *data, size_t len, uint8_t tag, capf_field_t *f, bool *malformed)
{
    capf_field_iter_t it;
    capf_field_iter_init(&it, data, len);
    capf_field_t cur;
    bool found = false;
    while (capf_field_next(&it, &cur)) {
        if (cur.tag == tag) {
            *f = cur;
            found = true;
            break;
        }
    }
    if (malformed)
        *malformed = it.malformed;
    return found;
}

bool capf_field_u8(const uint8_t *data, size_t len, uint8_t tag, uint8_t *value)
{
    capf_field_t f;
    if (!capf_field_find(data, len, tag, &f, NULL) || f.len != 1)
        return false;
    *value = f.value[0];
    return true;
}

bool capf_field_name(const uint8_t *data, size_t len, uint8_t tag, char *out, size_t cap)
{
    capf_field_t f;
    if (cap == 0 || !capf_field_find(data, len, tag, &f, NULL))
        return false;
    const uint8_t *nul = f.len > 0 ? memchr(f.value, 0, f.len) : NULL;
    if (!nul)
        return false;
    size_t n = (size_t)(nul - f.value);
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if (f.value[i] < 0x21 || f.value[i] > 0x7e)
            return false;
    memcpy(out, f.value, n);
    out[n] = '\0';
    return true;
}

const char *capf_opcode_name(uint8_t opcode)
{
    const capf_name_t *n = capf_opcode_lookup(opcode);
    return n ? n->name : "unknown";
}

const char *capf_status_name(uint8_t status)
{
    const capf_name_t *n = capf_status_lookup(status);
    return n ? n->name : "unknown";
}
