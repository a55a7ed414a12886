/* The CAPF dissector for Wireshark/tshark (3.6 and later), as a Lua plugin.
 *
 * The Lua text is generated from the tables and constants of
 * ../dissectors/capf_proto.h, the ones enrollmon's own CAPF dissector uses,
 * so the names Wireshark shows cannot drift from the names in enrollmon's
 * `capf` events.  The plugin mirrors ../dissectors/capf.c: framing, fields
 * (a certificate package holds nested fields), device name (or the one the
 * connection named before), status (tag 0x01, or 0x03 in a certificate
 * message).
 */
#ifndef ENROLLMON_WIRESHARK_PLUGIN_H
#define ENROLLMON_WIRESHARK_PLUGIN_H

#include <glib.h>
#include <stdbool.h>

#define WIRESHARK_PLUGIN_FILE "capf.lua"

/* The whole Lua text; free with g_free. */
char *wireshark_plugin_lua(void);

/* Writes DIR/capf.lua (DIR is created when missing); false with error set
 * when it cannot be written.  *written_path (may be NULL) gets the file's
 * path, to free with g_free. */
bool wireshark_plugin_export(const char *dir, char **written_path, GError **error);

#endif
