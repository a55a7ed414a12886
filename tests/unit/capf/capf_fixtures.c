/* Decrypted CAPF messages from the project's own lab captures (pcaps/),
 * as `tshark -r pcaps/<capture>.pcapng -o tls.keylog_file:pcaps/<capture>.keys
 * -d tcp.port==3804,tls -Y data -T fields -e data.data` prints them: one
 * TLS record each.  The expected modulus MD5s come from
 * `openssl x509 -inform der -noout -modulus | openssl md5` on the certificate
 * and `openssl rsa -pubin -inform der -noout -modulus | openssl md5` on the
 * public key of the 0x04.
 */
#include "capf_fixtures.h"

#include <string.h>

const capf_fixture_msg_t capf_fixture_enroll_ok[] = {
    { false,
      "550100001001000407000103"
    },
    { true,
      "550200001001001b070001020d00105345503734413032464330413637350001000101"
    },
    { false,
      "55030000100100050a00020800"
    },
    { true,
      "550400001001012909012630820122300d06092a864886f70d01010105000382010f0030"
      "82010a0282010100cf10309161c29e9bef99a3115c64a84dd0e422dc53d96f7b0cce8061"
      "3dfb4bc00787dd4f59f0a44d7e4228eb2c91cac198c4ebbe76f0c85b020a124b42d47c75"
      "1a52b3d5e9f508eaeee25034978cfa7f6b6d30f36b0cd165e1d8f44f324b486d408f7443"
      "1e4da613584f28a724d8beb81d71ca99970b20df9fe51a817ec3e993e464b55a28defa39"
      "c448335dc124a3a8218b94fd5e3603fe7dfe2078857dbe4a3708cb1c0b22dc9916f19a2c"
      "c1ae690f1b1d465ffe608b186a8ca6fbfc09c10899c67389f7dfa5a8a14fad4011737db2"
      "7a3dea2f3261b5cd9f3eb73edac72f3584ea27c136819cf61d4ce06e165c176a355f70b7"
      "48c92a109f91bab6f763dc210203010001"
    },
    { false,
      "55090000100103770300010104037001036d0001308203673082024fa003020102020210"
      "01300d06092a864886f70d01010b05003035311b3019060355040a0c12656e726f6c6c6d"
      "6f6e205445535420504b493116301406035504030c0d434150462d316132623363346430"
      "1e170d3234303130313030303030305a170d3439313233313233353935395a3037311b30"
      "19060355040a0c12656e726f6c6c6d6f6e205445535420504b493118301606035504030c"
      "0f53455037344130324643304136373530820122300d06092a864886f70d010101050003"
      "82010f003082010a0282010100cf10309161c29e9bef99a3115c64a84dd0e422dc53d96f"
      "7b0cce80613dfb4bc00787dd4f59f0a44d7e4228eb2c91cac198c4ebbe76f0c85b020a12"
      "4b42d47c751a52b3d5e9f508eaeee25034978cfa7f6b6d30f36b0cd165e1d8f44f324b48"
      "6d408f74431e4da613584f28a724d8beb81d71ca99970b20df9fe51a817ec3e993e464b5"
      "5a28defa39c448335dc124a3a8218b94fd5e3603fe7dfe2078857dbe4a3708cb1c0b22dc"
      "9916f19a2cc1ae690f1b1d465ffe608b186a8ca6fbfc09c10899c67389f7dfa5a8a14fad"
      "4011737db27a3dea2f3261b5cd9f3eb73edac72f3584ea27c136819cf61d4ce06e165c17"
      "6a355f70b748c92a109f91bab6f763dc210203010001a37f307d300c0603551d130101ff"
      "04023000300e0603551d0f0101ff0404030205a0301d0603551d250416301406082b0601"
      "050507030106082b06010505070302301d0603551d0e041604148d0e26fefc2121b335f0"
      "bec80239745f4a0e61e6301f0603551d230418301680146b4aff3e1e6ca114ded656e5d6"
      "e40756b74f7042300d06092a864886f70d01010b05000382010100b30f7aecabc1d5e0fe"
      "16d10ce32b3b1912920eab69331f2e13393c3433c8561e6f5fcfc39f5ae096ad285a7e99"
      "34ea358b60b65f448d4e8e6c62925ada26a43ce22e9026dc1b88adbebc224be7d5f53bcf"
      "a0bde3b5219d37216cb6b0d29603de9f986680303bcab43e09cf14400d25856d338b952a"
      "7c5a5112e81b9134700be9903f0b2671868cef96978845342c2833660cba0d5d151217de"
      "d84591ee324dcf026929fe8a0a74e2872f00e00beb6b36322c2a7089c8797d394b256ce6"
      "1116179dd16a1ee3fcc26101ac4e445bc104ef4c22505c2fc472b14726231a1b5bb22f79"
      "2457304cce3ae6c77fc8e59dee758c1596d3e6875e03de7212bdb57343e190"
    },
    { true,
      "550a00001001000401000101"
    },
    { false,
      "550f00001001000401000101"
    },
};
const size_t capf_fixture_enroll_ok_count = sizeof(capf_fixture_enroll_ok) / sizeof(capf_fixture_enroll_ok[0]);

const capf_fixture_msg_t capf_fixture_key_mismatch[] = {
    { true,
      "550400001001012909012630820122300d06092a864886f70d01010105000382010f0030"
      "82010a0282010100c57acb01f59bd4b6e89646dc199553e14062158e9d247d620937e695"
      "e3d1b6a36d5306987900c810b08cfc7608415dac203ce3dd1f474247c89de5e706d2e112"
      "ff7a2a093905c3e758e64ccca42baf8fa049a85b985cb65dffeeffedd60fae41a68811ab"
      "7bb00e7f164cdf324d8ef03d6b52055ff0b32f4fe42f6e4aadb8974f1c27507ee383056d"
      "78d47b09813f7d7d63ead93363cd8a30c2f8c05c2b006cf05429a07a7f21fc2b68d0f11d"
      "2ee4f765584ac24f1ebe423ac51d488911aa6d858de88de44d28b50796fe031f20a32e8a"
      "cd6bb1545526e78a618286b2d06c4885bf3267fe424eda6b4fbb15602cff30aff0476fc7"
      "985911e12b04be4ea020f4470203010001"
    },
    { false,
      "55090000100103770300010104037001036d0001308203673082024fa003020102020210"
      "01300d06092a864886f70d01010b05003035311b3019060355040a0c12656e726f6c6c6d"
      "6f6e205445535420504b493116301406035504030c0d434150462d316132623363346430"
      "1e170d3234303130313030303030305a170d3439313233313233353935395a3037311b30"
      "19060355040a0c12656e726f6c6c6d6f6e205445535420504b493118301606035504030c"
      "0f53455037344130324643304136373530820122300d06092a864886f70d010101050003"
      "82010f003082010a0282010100ad123761033b57986d9f7d406f4321e8c4fba751fcf8c9"
      "c57ee5ae7ea447b2371b458bd9462676ad8ccbf4e06a050159f364534e02b5107c434e49"
      "4dab1b46e4fb60c3ce828ac3fb9203036ac37ce408a6de18ed3c7a145e66bd2490bb7fe4"
      "03e960b23c9638d0cffd9bbf3d55a25aaf0a3580d8032a2648c78daf9863c0e0f7d7f5e6"
      "8d9729e535ffc8c58a25629492a29dd0a594d49f94d1f06a757a90060dcadaaf38680111"
      "b3f71632b5de58e52381e63422dabab89283560fe3168843e17a77820143955cda6e4263"
      "d02e749bab5ef026910d91cac4df63371ac2c3defb96874a1eea90b39d791fa0958a325a"
      "d4f39141564e5b4d9aadaa6cd6946355090203010001a37f307d300c0603551d130101ff"
      "04023000300e0603551d0f0101ff0404030205a0301d0603551d250416301406082b0601"
      "050507030106082b06010505070302301d0603551d0e041604149d650c9bb1bad51f99c5"
      "5788ba00704ac4131e5a301f0603551d230418301680146b4aff3e1e6ca114ded656e5d6"
      "e40756b74f7042300d06092a864886f70d01010b05000382010100dde0c77588b7c5614d"
      "d9c67277b2140d088fe4784f78701b2b5485077ca36223eb29aa02fc4edb0566fc433385"
      "0a41189b7c243ad80f8321bb2f9352e9efbd878264d8e7aa771b34f3946637ac9fcaeeac"
      "931726dbd31d9ec202e06cd6967916dd0de4f51395d86ce132b1b49003217d10edbe1941"
      "6f974cd11ff7ddc70aec256f91191ef393c01666361197d11d007ff3b44130a97fec0e19"
      "56f0c4a2e8be0b532dee8755c251640e5fe32e511bbefbcf6156fb272c67c4c923654f7c"
      "5fc02644b3e13cb60620d0a88875a6fb5289074af502c27cd377c80cec9144ffedd624be"
      "5995bdb637b8e750164542de56b7b7df2e93645f43fb8d5e29511600096958"
    },
};
const size_t capf_fixture_key_mismatch_count = sizeof(capf_fixture_key_mismatch) / sizeof(capf_fixture_key_mismatch[0]);

const char capf_fixture_enroll_ok_cert_md5[] = "32c9102b5047b72ab1168f6185cfc62d";
const char capf_fixture_enroll_ok_csr_md5[] = "32c9102b5047b72ab1168f6185cfc62d";
const char capf_fixture_key_mismatch_cert_md5[] = "c68f15ac5f336c33d0ac28474a2137db";
const char capf_fixture_key_mismatch_csr_md5[] = "f04c935af52a85e15a3266580d491918";

uint8_t *capf_test_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    g_assert_true(n % 2 == 0);
    uint8_t *out = g_malloc(n / 2 ? n / 2 : 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]);
        int lo = g_ascii_xdigit_value(hex[2 * i + 1]);
        g_assert_true(hi >= 0 && lo >= 0);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

GByteArray *capf_test_begin(uint8_t opcode, uint32_t session_id)
{
    uint8_t header[8] = { 0x55, opcode, (uint8_t)(session_id >> 24), (uint8_t)(session_id >> 16),
                          (uint8_t)(session_id >> 8), (uint8_t)session_id, 0, 0 };
    GByteArray *m = g_byte_array_new();
    g_byte_array_append(m, header, sizeof(header));
    return m;
}

void capf_test_field_lying(GByteArray *m, uint8_t tag, uint16_t claimed, const void *value, size_t len)
{
    uint8_t h[3] = { tag, (uint8_t)(claimed >> 8), (uint8_t)claimed };
    g_byte_array_append(m, h, sizeof(h));
    if (len)
        g_byte_array_append(m, value, (guint)len);
}

void capf_test_field(GByteArray *m, uint8_t tag, const void *value, size_t len)
{
    g_assert_cmpuint(len, <=, 0xffff);
    capf_test_field_lying(m, tag, (uint16_t)len, value, len);
}

void capf_test_u8(GByteArray *m, uint8_t tag, uint8_t value)
{
    capf_test_field(m, tag, &value, 1);
}

void capf_test_end(GByteArray *m)
{
    g_assert_cmpuint(m->len, >=, 8);
    size_t body = m->len - 8;
    g_assert_cmpuint(body, <=, 0xffff);
    m->data[6] = (uint8_t)(body >> 8);
    m->data[7] = (uint8_t)body;
}

uint8_t *capf_test_copy(const uint8_t *data, size_t len)
{
    uint8_t *out = g_malloc(len ? len : 1);
    if (len)
        memcpy(out, data, len);
    return out;
}
