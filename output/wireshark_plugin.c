/* The CAPF Lua plugin for Wireshark, generated from capf_proto's tables. */
#include "wireshark_plugin.h"

#include "../dissectors/capf.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#ifndef ENROLLMON_VERSION
#define ENROLLMON_VERSION "0"
#endif

/* The part that does not depend on the tables: it uses the constants and
 * the name tables the generated head defines.  Lines, not one literal: a
 * string constant this long is beyond what C11 promises. */
static const char *const lua_body[] = {
    "local package_labels = { [PACKAGE_TAG_CERT] = \"Certificate (00 01 + DER)\" }",
    "",
    "local capf = Proto(\"capf\", \"Cisco CAPF (Certificate Authority Proxy Function)\")",
    "-- The CAPF port as seen by TCP: TLS, or CAPF in the clear (tools that log plaintext).",
    "local capf_port_proto = Proto(\"capf_port\", \"CAPF port (TLS or CAPF in the clear)\")",
    "",
    "local pf = {",
    "    magic = ProtoField.uint8(\"capf.magic\", \"Magic\", base.HEX),",
    "    opcode = ProtoField.uint8(\"capf.opcode\", \"Opcode\", base.HEX, opcode_labels),",
    "    session_id = ProtoField.uint32(\"capf.session_id\", \"Session id\", base.HEX),",
    "    length = ProtoField.uint16(\"capf.length\", \"Body length\", base.DEC),",
    "    field = ProtoField.none(\"capf.field\", \"Field\"),",
    "    field_tag = ProtoField.uint8(\"capf.field.tag\", \"Tag\", base.HEX, tag_labels),",
    "    field_package_tag = ProtoField.uint8(\"capf.field.package_tag\", \"Tag (in a certificate package)\", base.HEX, package_labels),",
    "    field_len = ProtoField.uint16(\"capf.field.len\", \"Length\", base.DEC),",
    "    field_value = ProtoField.bytes(\"capf.field.value\", \"Value\"),",
    "    device = ProtoField.string(\"capf.device\", \"Device name\"),",
    "    status = ProtoField.uint8(\"capf.status\", \"Status\", base.HEX, status_labels),",
    "    cert = ProtoField.bytes(\"capf.cert\", \"Certificate\"),",
    "}",
    "capf.fields = {",
    "    pf.magic, pf.opcode, pf.session_id, pf.length, pf.field, pf.field_tag, pf.field_package_tag,",
    "    pf.field_len, pf.field_value, pf.device, pf.status, pf.cert,",
    "}",
    "",
    "local ef = {",
    "    refused = ProtoExpert.new(\"capf.refused\", \"CAPF request refused\", expert.group.RESPONSE_CODE, expert.severity.WARN),",
    "    unknown_opcode = ProtoExpert.new(\"capf.unknown_opcode\", \"Unknown CAPF opcode\", expert.group.UNDECODED, expert.severity.NOTE),",
    "    unknown_tag = ProtoExpert.new(\"capf.unknown_tag\", \"Unknown CAPF field tag\", expert.group.UNDECODED, expert.severity.NOTE),",
    "    malformed = ProtoExpert.new(\"capf.malformed\", \"CAPF field runs past the end of the body\", expert.group.MALFORMED, expert.severity.ERROR),",
    "    not_capf = ProtoExpert.new(\"capf.not_capf\", \"Not a CAPF message (no magic 0x55)\", expert.group.MALFORMED, expert.severity.ERROR),",
    "}",
    "capf.experts = { ef.refused, ef.unknown_opcode, ef.unknown_tag, ef.malformed, ef.not_capf }",
    "",
    "capf.prefs.port = Pref.uint(\"CAPF port\", CAPF_DEFAULT_PORT,",
    "    \"TCP port of the CAPF service: TLS there is decrypted and its data dissected as CAPF; CAPF in the clear too\")",
    "",
    "-- Wireshark's X.509 certificate dissector, by whichever name this version offers.",
    "local x509_dissector = nil",
    "do",
    "    local ok, d = pcall(Dissector.get, \"x509af\")",
    "    if ok and d then",
    "        x509_dissector = d",
    "    else",
    "        local ok_table, syntax = pcall(DissectorTable.get, \"ber.syntax\")",
    "        if ok_table and syntax then",
    "            local ok_cert, cert = pcall(function() return syntax:get_dissector(\"Certificate\") end)",
    "            if ok_cert and cert then x509_dissector = cert end",
    "        end",
    "    end",
    "end",
    "local tls_dissector = Dissector.get(\"tls\")",
    "",
    "local f_tcp_stream = Field.new(\"tcp.stream\")",
    "",
    "-- Per TCP connection: the device it named first (and where), and whether it is TLS or CAPF in the clear.",
    "local sessions = {}",
    "function capf.init()",
    "    sessions = {}",
    "end",
    "",
    "local function session(pinfo)",
    "    local key",
    "    local streams = { f_tcp_stream() }",
    "    if #streams > 0 then",
    "        key = \"tcp \" .. tostring(streams[#streams].value)",
    "    else",
    "        local a = tostring(pinfo.src) .. \":\" .. tostring(pinfo.src_port)",
    "        local b = tostring(pinfo.dst) .. \":\" .. tostring(pinfo.dst_port)",
    "        if a > b then a, b = b, a end",
    "        key = a .. \" \" .. b",
    "    end",
    "    local s = sessions[key]",
    "    if not s then",
    "        s = {}",
    "        sessions[key] = s",
    "    end",
    "    return s",
    "end",
    "",
    "local function name_or_number(names, value)",
    "    return names[value] or string.format(\"0x%02x\", value)",
    "end",
    "",
    "-- As enrollmon prints it: up to the NUL, printable ASCII as it is, other bytes (and the backslash) as \\xNN.",
    "local function device_string(tvb, offset, len)",
    "    local pieces, n = {}, 0",
    "    for i = 0, len - 1 do",
    "        local b = tvb(offset + i, 1):uint()",
    "        if b == 0 then break end",
    "        local piece",
    "        if b >= 0x20 and b <= 0x7e and b ~= 0x5c then",
    "            piece = string.char(b)",
    "        else",
    "            piece = string.format(\"\\\\x%02x\", b)",
    "        end",
    "        if n + #piece >= DEVICE_MAX then break end",
    "        pieces[#pieces + 1] = piece",
    "        n = n + #piece",
    "    end",
    "    return table.concat(pieces)",
    "end",
    "",
    "local function hand_to_x509(tvb, pinfo, item)",
    "    if not x509_dissector then return end",
    "    pcall(function() x509_dissector:call(tvb, pinfo, item) end)",
    "end",
    "",
    "-- The fields of a body (depth 0) or of a certificate package (depth 1), from offset up to stop.",
    "local function dissect_fields(tvb, pinfo, tree, offset, stop, depth, msg)",
    "    while offset < stop do",
    "        if stop - offset < FIELD_HEADER_LEN then",
    "            msg.malformed = true",
    "            local item = tree:add(pf.field, tvb(offset, stop - offset))",
    "            item:set_text(\"Field header cut by the end of the body\")",
    "            item:add_proto_expert_info(ef.malformed)",
    "            return",
    "        end",
    "        local tag = tvb(offset, 1):uint()",
    "        local len = tvb(offset + 1, 2):uint()",
    "        local available = stop - offset - FIELD_HEADER_LEN",
    "        local whole = len <= available",
    "        local vlen = whole and len or available",
    "        local voffset = offset + FIELD_HEADER_LEN",
    "        local label, name",
    "        if depth == 0 then label, name = tag_labels[tag], tag_names[tag] else label = package_labels[tag] end",
    "        local ftree = tree:add(pf.field, tvb(offset, FIELD_HEADER_LEN + vlen))",
    "        ftree:set_text(string.format(\"Field 0x%02x: %s%s, %d byte%s\", tag, label or \"unknown\",",
    "            name and (\" (\" .. name .. \")\") or \"\", len, len == 1 and \"\" or \"s\"))",
    "        if depth == 0 then",
    "            ftree:add(pf.field_tag, tvb(offset, 1))",
    "            if not label then ftree:add_proto_expert_info(ef.unknown_tag) end",
    "        else",
    "            ftree:add(pf.field_package_tag, tvb(offset, 1))",
    "        end",
    "        local len_item = ftree:add(pf.field_len, tvb(offset + 1, 2))",
    "        if not whole then",
    "            msg.malformed = true",
    "            len_item:add_proto_expert_info(ef.malformed)",
    "        end",
    "        if vlen > 0 then ftree:add(pf.field_value, tvb(voffset, vlen)) end",
    "        if depth == 1 then",
    "            if tag == PACKAGE_TAG_CERT and whole and vlen >= 3 and not msg.cert_seen",
    "                and tvb(voffset, 1):uint() == 0x00 and tvb(voffset + 1, 1):uint() == 0x01 then",
    "                msg.cert_seen = true",
    "                local der = tvb(voffset + 2, vlen - 2)",
    "                local cert_item = ftree:add(pf.cert, der)",
    "                hand_to_x509(der:tvb(), pinfo, cert_item)",
    "            end",
    "        else",
    "            if tag == TAG_DEVICE_NAME then",
    "                if msg.device == nil then",
    "                    msg.device = device_string(tvb, voffset, vlen)",
    "                    msg.device_offset, msg.device_len = voffset, vlen",
    "                end",
    "            elseif tag == TAG_STATUS or (tag == TAG_CERT_STATUS and msg.opcode == OP_CERTIFICATE) then",
    "                if msg.status == nil and whole and vlen == 1 then",
    "                    msg.status = tvb(voffset, 1):uint()",
    "                    msg.status_offset = voffset",
    "                end",
    "            elseif tag == TAG_CERT_PACKAGE then",
    "                dissect_fields(tvb, pinfo, ftree, voffset, voffset + vlen, 1, msg)",
    "            end",
    "        end",
    "        offset = voffset + vlen",
    "    end",
    "end",
    "",
    "-- One whole message at offset, total bytes long.",
    "local function dissect_message(tvb, pinfo, tree, offset, total, first)",
    "    local opcode = tvb(offset + 1, 1):uint()",
    "    local body_len = tvb(offset + 6, 2):uint()",
    "    local mtree = tree:add(capf, tvb(offset, total))",
    "    mtree:append_text(\", \" .. (opcode_labels[opcode] or string.format(\"unknown opcode 0x%02x\", opcode)))",
    "    mtree:add(pf.magic, tvb(offset, 1))",
    "    local op_item = mtree:add(pf.opcode, tvb(offset + 1, 1))",
    "    if not opcode_labels[opcode] then op_item:add_proto_expert_info(ef.unknown_opcode) end",
    "    mtree:add(pf.session_id, tvb(offset + 2, 4))",
    "    mtree:add(pf.length, tvb(offset + 6, 2))",
    "    local msg = { opcode = opcode }",
    "    dissect_fields(tvb, pinfo, mtree, offset + HEADER_LEN, offset + HEADER_LEN + body_len, 0, msg)",
    "",
    "    -- The device named in this message, else the one the connection named before.",
    "    local s = session(pinfo)",
    "    local device = msg.device",
    "    if device ~= nil then",
    "        if s.device == nil then",
    "            s.device, s.device_frame = device, pinfo.number",
    "        end",
    "        if msg.device_len > 0 then",
    "            mtree:add(pf.device, tvb(msg.device_offset, msg.device_len), device)",
    "        else",
    "            mtree:add(pf.device, tvb(offset, total), device):set_generated()",
    "        end",
    "    elseif s.device ~= nil and (not pinfo.visited or s.device_frame < pinfo.number) then",
    "        device = s.device",
    "        local item = mtree:add(pf.device, tvb(offset, total), device)",
    "        item:set_generated()",
    "        item:append_text(\" (named earlier in this connection)\")",
    "    end",
    "    local status_item",
    "    if msg.status ~= nil then",
    "        status_item = mtree:add(pf.status, tvb(msg.status_offset, 1))",
    "        if opcode == OP_END_SESSION and msg.status ~= STATUS_OK then",
    "            status_item:add_proto_expert_info(ef.refused, \"CAPF request refused: \"",
    "                .. (status_labels[msg.status] or string.format(\"status 0x%02x\", msg.status)))",
    "        end",
    "    end",
    "",
    "    local info = \"CAPF \" .. name_or_number(opcode_names, opcode)",
    "    if msg.device ~= nil then info = info .. \" \" .. msg.device end",
    "    if msg.status ~= nil then info = info .. \" \" .. name_or_number(status_names, msg.status) end",
    "    if first then",
    "        pinfo.cols.protocol:set(\"CAPF\")",
    "        pinfo.cols.info:set(info)",
    "    else",
    "        pinfo.cols.info:append(\", \" .. info)",
    "    end",
    "end",
    "",
    "-- CAPF messages, cut on the framing: a segment can hold part of a message or several.",
    "local function dissect_capf(tvb, pinfo, tree)",
    "    local len = tvb:len()",
    "    local offset = 0",
    "    local first = tostring(pinfo.cols.protocol) ~= \"CAPF\"",
    "    while offset < len do",
    "        local remaining = len - offset",
    "        if tvb(offset, 1):uint() ~= CAPF_MAGIC then",
    "            local item = tree:add(capf, tvb(offset, remaining))",
    "            item:append_text(\", not a CAPF message\")",
    "            item:add_proto_expert_info(ef.not_capf)",
    "            return len",
    "        end",
    "        if remaining < HEADER_LEN then",
    "            pinfo.desegment_offset = offset",
    "            pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT",
    "            return len",
    "        end",
    "        local total = HEADER_LEN + tvb(offset + 6, 2):uint()",
    "        if remaining < total then",
    "            pinfo.desegment_offset = offset",
    "            pinfo.desegment_len = total - remaining",
    "            return len",
    "        end",
    "        dissect_message(tvb, pinfo, tree, offset, total, first)",
    "        first = false",
    "        offset = offset + total",
    "    end",
    "    return offset",
    "end",
    "",
    "function capf.dissector(tvb, pinfo, tree)",
    "    return dissect_capf(tvb, pinfo, tree)",
    "end",
    "",
    "-- On the CAPF port: TLS (the usual case), or CAPF in the clear, decided on the first data of the connection.",
    "local function starts_capf(tvb)",
    "    if tvb:len() < 1 or tvb(0, 1):uint() ~= CAPF_MAGIC then return false end",
    "    return tvb:len() < 2 or opcode_labels[tvb(1, 1):uint()] ~= nil",
    "end",
    "",
    "function capf_port_proto.dissector(tvb, pinfo, tree)",
    "    local s = session(pinfo)",
    "    if s.plaintext == nil then s.plaintext = starts_capf(tvb) end",
    "    if s.plaintext then return dissect_capf(tvb, pinfo, tree) end",
    "    return tls_dissector:call(tvb, pinfo, tree)",
    "end",
    "",
    "local registered_port = nil",
    "local function register_port(port)",
    "    if registered_port == port then return end",
    "    local tcp_table = DissectorTable.get(\"tcp.port\")",
    "    local tls_table = DissectorTable.get(\"tls.port\")",
    "    if registered_port then",
    "        tcp_table:remove(registered_port, capf_port_proto)",
    "        tls_table:remove(registered_port, capf)",
    "    end",
    "    tcp_table:add(port, capf_port_proto)",
    "    tls_table:add(port, capf)",
    "    registered_port = port",
    "end",
    "",
    "function capf.prefs_changed()",
    "    register_port(capf.prefs.port)",
    "end",
    "",
    "register_port(capf.prefs.port)",
    NULL,
};

/* A Lua string literal: quotes, backslashes and control bytes escaped. */
static void lua_quote(GString *out, const char *text)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            g_string_append_printf(out, "\\%03u", (unsigned)*p);
        else
            g_string_append_c(out, (char)*p);
    }
    g_string_append_c(out, '"');
}

/* local NAME = { [0x01] = "...", ... } from one column of a table. */
static void lua_table(GString *out, const char *lua_name, const capf_name_t *table, size_t count, bool labels)
{
    g_string_append_printf(out, "local %s = {\n", lua_name);
    for (size_t i = 0; i < count; i++) {
        g_string_append_printf(out, "    [0x%02x] = ", (unsigned)table[i].value);
        lua_quote(out, labels ? table[i].label : table[i].name);
        g_string_append(out, ",\n");
    }
    g_string_append(out, "}\n");
}

char *wireshark_plugin_lua(void)
{
    GString *out = g_string_new(NULL);
    g_string_append(out,
        "-- capf.lua: Cisco CAPF (Certificate Authority Proxy Function) for Wireshark 3.6 and later.\n"
        "-- Generated by enrollmon " ENROLLMON_VERSION " (--export-wireshark-plugin) from the opcode, tag and\n"
        "-- status tables of enrollmon's own CAPF dissector: regenerate it rather than edit it.\n"
        "--\n"
        "-- Install: copy to ~/.local/lib/wireshark/plugins/ (or tshark -X lua_script:capf.lua).\n"
        "-- Fields: capf.magic capf.opcode capf.session_id capf.length capf.field capf.field.tag\n"
        "--         capf.field.package_tag capf.field.len capf.field.value capf.device capf.status capf.cert\n"
        "-- Preference: capf.port (default 3804). TLS keys: tls.keylog_file.\n\n");
    g_string_append_printf(out, "local CAPF_DEFAULT_PORT = %d\n", CAPF_DEFAULT_PORT);
    g_string_append_printf(out, "local CAPF_MAGIC = 0x%02x\n", CAPF_MAGIC);
    g_string_append_printf(out, "local HEADER_LEN = %d\n", CAPF_HEADER_LEN);
    g_string_append_printf(out, "local FIELD_HEADER_LEN = %d\n", CAPF_FIELD_HEADER_LEN);
    /* capf.c's device buffer, NUL included: names are cut alike. */
    g_string_append_printf(out, "local DEVICE_MAX = %d\n", CAPF_DEVICE_MAX);
    g_string_append_printf(out, "local OP_CERTIFICATE = 0x%02x\n", CAPF_OP_CERTIFICATE);
    g_string_append_printf(out, "local OP_END_SESSION = 0x%02x\n", CAPF_OP_END_SESSION);
    g_string_append_printf(out, "local TAG_STATUS = 0x%02x\n", CAPF_TAG_STATUS);
    g_string_append_printf(out, "local TAG_CERT_STATUS = 0x%02x\n", CAPF_TAG_CERT_STATUS);
    g_string_append_printf(out, "local TAG_CERT_PACKAGE = 0x%02x\n", CAPF_TAG_CERT_PACKAGE);
    g_string_append_printf(out, "local TAG_DEVICE_NAME = 0x%02x\n", CAPF_TAG_DEVICE_NAME);
    g_string_append_printf(out, "local PACKAGE_TAG_CERT = 0x%02x\n", CAPF_PACKAGE_TAG_CERT);
    g_string_append_printf(out, "local STATUS_OK = 0x%02x\n\n", CAPF_STATUS_OK);
    /* Names as in enrollmon's events (Info column), labels for people (tree). */
    lua_table(out, "opcode_names", capf_opcodes, capf_opcode_count, false);
    lua_table(out, "opcode_labels", capf_opcodes, capf_opcode_count, true);
    lua_table(out, "tag_names", capf_tags, capf_tag_count, false);
    lua_table(out, "tag_labels", capf_tags, capf_tag_count, true);
    lua_table(out, "status_names", capf_statuses, capf_status_count, false);
    lua_table(out, "status_labels", capf_statuses, capf_status_count, true);
    g_string_append_c(out, '\n');
    for (size_t i = 0; lua_body[i]; i++) {
        g_string_append(out, lua_body[i]);
        g_string_append_c(out, '\n');
    }
    return g_string_free(out, FALSE);
}

bool wireshark_plugin_export(const char *dir, char **written_path, GError **error)
{
    if (written_path)
        *written_path = NULL;
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "cannot write the Wireshark plugin to '%s': %s",
                    dir, g_strerror(err));
        return false;
    }
    char *path = g_build_filename(dir, WIRESHARK_PLUGIN_FILE, NULL);
    char *text = wireshark_plugin_lua();
    GError *write_error = NULL;
    bool ok = g_file_set_contents(path, text, -1, &write_error);
    g_free(text);
    if (!ok) {
        g_set_error(error, G_FILE_ERROR, write_error->code, "cannot write the Wireshark plugin: %s",
                    write_error->message);
        g_error_free(write_error);
        g_free(path);
        return false;
    }
    if (written_path)
        *written_path = path;
    else
        g_free(path);
    return true;
}
