"""Small capture library for the stream tests (Python 3 standard library only).

Reading: classic pcap (micro- and nanosecond magic, either byte order) and
pcapng (section header, interface description, enhanced, simple and the
obsolete packet block; either byte order; several sections and interfaces).
Writing: classic pcap with any link type, and a plain pcapng (one section,
one interface, enhanced packet blocks).

Packet helpers parse and build Ethernet (with 802.1Q / 802.1ad tags), the
link headers enrollmon reads (raw IP, Linux cooked v1 and v2, BSD loopback
in either byte order, DLT_LOOP), IPv4 (header checksum), IPv6 (extension
headers), TCP (checksum over the pseudo header) and IP fragmentation.

Timestamps are integer nanoseconds throughout.
"""

import ipaddress
import struct

# Link types (tcpdump.org/linktypes.html; DLT_ values where they differ).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = 0x8100
ETHERTYPE_QINQ = 0x88A8
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100, 0x9200)

IPPROTO_HOPOPTS = 0
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_DSTOPTS = 60

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10


class CaptureError(Exception):
    pass


class Record:
    """One captured frame."""

    __slots__ = ("ts_ns", "linktype", "data", "orig_len")

    def __init__(self, ts_ns, linktype, data, orig_len=None):
        self.ts_ns = ts_ns
        self.linktype = linktype
        self.data = bytes(data)
        self.orig_len = len(data) if orig_len is None else orig_len

    def __repr__(self):
        return "Record(ts_ns=%d, linktype=%d, len=%d)" % (self.ts_ns, self.linktype, len(self.data))


# ---------------------------------------------------------------- reading

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D


def read_capture(path):
    """Returns the frames of a pcap or pcapng file as a list of Record."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 4:
        raise CaptureError("%s: too short for a capture" % path)
    if struct.unpack("<I", blob[:4])[0] == PCAPNG_SHB:
        return _read_pcapng(blob, path)
    return _read_pcap(blob, path)


def _read_pcap(blob, path):
    if len(blob) < 24:
        raise CaptureError("%s: pcap header cut short" % path)
    for bo in ("<", ">"):
        magic = struct.unpack(bo + "I", blob[:4])[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            break
    else:
        raise CaptureError("%s: neither pcap nor pcapng" % path)
    scale = 1000 if magic == PCAP_MAGIC_US else 1
    _vmaj, _vmin, _zone, _sigfigs, _snaplen, network = struct.unpack(bo + "HHiIII", blob[4:24])
    linktype = network & 0x0FFFFFFF  # upper bits: FCS length flags
    out = []
    pos = 24
    while pos + 16 <= len(blob):
        sec, frac, caplen, wirelen = struct.unpack(bo + "IIII", blob[pos:pos + 16])
        pos += 16
        if pos + caplen > len(blob):
            break  # cut short: keep what is whole
        out.append(Record(sec * 1_000_000_000 + frac * scale, linktype, blob[pos:pos + caplen], wirelen))
        pos += caplen
    return out


def _tsresol_to_ns_factor(resol):
    """if_tsresol: returns (multiplier, divisor) turning units into ns."""
    if resol & 0x80:
        return 1_000_000_000, 1 << (resol & 0x7F)
    exp = resol & 0x7F
    if exp <= 9:
        return 10 ** (9 - exp), 1
    return 1, 10 ** (exp - 9)


def _read_pcapng(blob, path):
    out = []
    pos = 0
    bo = "<"
    interfaces = []  # (linktype, mul, div, snaplen)
    while pos + 12 <= len(blob):
        btype_le = struct.unpack("<I", blob[pos:pos + 4])[0]
        if btype_le == PCAPNG_SHB:
            bom = blob[pos + 8:pos + 12]
            if bom == struct.pack("<I", PCAPNG_BOM):
                bo = "<"
            elif bom == struct.pack(">I", PCAPNG_BOM):
                bo = ">"
            else:
                raise CaptureError("%s: pcapng section header with a bad byte-order magic" % path)
            interfaces = []
        btype, blen = struct.unpack(bo + "II", blob[pos:pos + 8])
        if blen < 12 or blen % 4 or pos + blen > len(blob):
            break  # cut short or damaged: keep what came before
        body = blob[pos + 8:pos + blen - 4]
        trailer = struct.unpack(bo + "I", blob[pos + blen - 4:pos + blen])[0]
        if trailer != blen:
            raise CaptureError("%s: pcapng block at %d: trailing length differs" % (path, pos))
        if btype == 1:  # interface description
            linktype, _res, snaplen = struct.unpack(bo + "HHI", body[:8])
            mul, div = 1000, 1  # default resolution: microseconds
            opos = 8
            while opos + 4 <= len(body):
                code, olen = struct.unpack(bo + "HH", body[opos:opos + 4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    mul, div = _tsresol_to_ns_factor(body[opos + 4])
                opos += 4 + ((olen + 3) & ~3)
            interfaces.append((linktype, mul, div, snaplen))
        elif btype == 6:  # enhanced packet
            ifid, ts_hi, ts_lo, caplen, wirelen = struct.unpack(bo + "IIIII", body[:20])
            if ifid >= len(interfaces):
                raise CaptureError("%s: packet on undeclared interface %d" % (path, ifid))
            lt, mul, div, _snap = interfaces[ifid]
            units = (ts_hi << 32) | ts_lo
            out.append(Record(units * mul // div, lt, body[20:20 + caplen], wirelen))
        elif btype == 3:  # simple packet: interface 0, no timestamp
            if not interfaces:
                raise CaptureError("%s: simple packet block before any interface" % path)
            lt, _mul, _div, snaplen = interfaces[0]
            wirelen = struct.unpack(bo + "I", body[:4])[0]
            caplen = min(wirelen, len(body) - 4)
            if snaplen:
                caplen = min(caplen, snaplen)
            ts = out[-1].ts_ns if out else 0
            out.append(Record(ts, lt, body[4:4 + caplen], wirelen))
        elif btype == 2:  # obsolete packet block
            ifid, _drops, ts_hi, ts_lo, caplen, wirelen = struct.unpack(bo + "HHIIII", body[:20])
            lt, mul, div, _snap = interfaces[ifid]
            out.append(Record(((ts_hi << 32) | ts_lo) * mul // div, lt, body[20:20 + caplen], wirelen))
        pos += blen
    return out


# ---------------------------------------------------------------- writing

def write_pcap(path, linktype, records, big_endian=False, nanosecond=False, snaplen=262144):
    """Writes records (all of one link type) as a classic pcap file."""
    bo = ">" if big_endian else "<"
    magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
    parts = [struct.pack(bo + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for r in records:
        sec, rem = divmod(r.ts_ns, 1_000_000_000)
        frac = rem if nanosecond else rem // 1000
        data = r.data
        parts.append(struct.pack(bo + "IIII", sec, frac, len(data), max(r.orig_len, len(data))))
        parts.append(data)
    with open(path, "wb") as f:
        f.write(b"".join(parts))


def _pcapng_block(bo, btype, body):
    pad = (-len(body)) % 4
    blen = 12 + len(body) + pad
    return struct.pack(bo + "II", btype, blen) + body + b"\0" * pad + struct.pack(bo + "I", blen)


def write_pcapng(path, linktype, records, big_endian=False, nanosecond=False, snaplen=262144):
    """Writes a pcapng file: SHB, one IDB, then one EPB per record."""
    bo = ">" if big_endian else "<"
    shb = struct.pack(bo + "IHHq", PCAPNG_BOM, 1, 0, -1) + struct.pack(bo + "HH", 0, 0)
    idb_opts = b""
    if nanosecond:
        idb_opts = struct.pack(bo + "HH", 9, 1) + bytes([9]) + b"\0\0\0"
    idb_opts += struct.pack(bo + "HH", 0, 0)
    idb = struct.pack(bo + "HHI", linktype, 0, snaplen) + idb_opts
    parts = [_pcapng_block(bo, PCAPNG_SHB, shb), _pcapng_block(bo, 1, idb)]
    for r in records:
        units = r.ts_ns if nanosecond else r.ts_ns // 1000
        epb = struct.pack(bo + "IIIII", 0, units >> 32, units & 0xFFFFFFFF, len(r.data),
                          max(r.orig_len, len(r.data))) + r.data
        parts.append(_pcapng_block(bo, 6, epb))
    with open(path, "wb") as f:
        f.write(b"".join(parts))


# ---------------------------------------------------------------- checksums

def internet_checksum(data):
    """RFC 1071 one's complement sum, returned ready to store."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


# ---------------------------------------------------------------- link layer

def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


class Ether:
    """Ethernet II frame; vlans is a list of (tpid, tci), outermost first."""

    def __init__(self, dst=b"\0" * 6, src=b"\0" * 6, ethertype=ETHERTYPE_IPV4, payload=b"", vlans=None):
        self.dst = dst
        self.src = src
        self.ethertype = ethertype
        self.payload = payload
        self.vlans = list(vlans or [])

    @classmethod
    def parse(cls, data):
        if len(data) < 14:
            raise ValueError("Ethernet frame shorter than its header")
        dst, src = data[0:6], data[6:12]
        (etype,) = struct.unpack("!H", data[12:14])
        pos = 14
        vlans = []
        while etype in VLAN_TPIDS:
            if pos + 4 > len(data):
                raise ValueError("VLAN tag cut short")
            tci, inner = struct.unpack("!HH", data[pos:pos + 4])
            vlans.append((etype, tci))
            etype = inner
            pos += 4
        return cls(dst, src, etype, data[pos:], vlans)

    def build(self, pad=True):
        hdr = self.dst + self.src
        for tpid, tci in self.vlans:
            hdr += struct.pack("!HH", tpid, tci)
        hdr += struct.pack("!H", self.ethertype)
        frame = hdr + self.payload
        if pad and len(frame) < 60:
            frame += b"\0" * (60 - len(frame))  # minimum frame, as a NIC pads
        return frame


def ethertype_of_ip(network):
    version = network[0] >> 4 if network else 0
    if version == 4:
        return ETHERTYPE_IPV4
    if version == 6:
        return ETHERTYPE_IPV6
    return None


# BSD address-family values for IPv6 differ between systems: 24 (NetBSD,
# OpenBSD), 28 (FreeBSD), 30 (macOS); Linux's AF_INET6 is 10.
AF_INET = 2
AF_INET6_BSD = 24


def link_decode(linktype, data):
    """Returns (ethertype, network bytes, Ether or None), or None when the
    frame does not carry IPv4/IPv6 (ARP, LLC, ...)."""
    if linktype == LINKTYPE_ETHERNET:
        eth = Ether.parse(data)
        if eth.ethertype not in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
            return None
        return eth.ethertype, eth.payload, eth
    if linktype in (LINKTYPE_RAW, 12, 14, 228, 229):
        et = ethertype_of_ip(data)
        return (et, data, None) if et else None
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            return None
        if linktype == LINKTYPE_LOOP:
            (family,) = struct.unpack("!I", data[:4])
        else:
            (family,) = struct.unpack("<I", data[:4])
            if family > 0xFFFF:
                (family,) = struct.unpack(">I", data[:4])
        if family == AF_INET:
            return ETHERTYPE_IPV4, data[4:], None
        if family in (10, 24, 28, 30):
            return ETHERTYPE_IPV6, data[4:], None
        return None
    if linktype == LINKTYPE_LINUX_SLL:
        (etype,) = struct.unpack("!H", data[14:16])
        rest = data[16:]
    elif linktype == LINKTYPE_LINUX_SLL2:
        (etype,) = struct.unpack("!H", data[0:2])
        rest = data[20:]
    else:
        raise CaptureError("link type %d not handled by the test library" % linktype)
    while etype in VLAN_TPIDS and len(rest) >= 4:
        (etype,) = struct.unpack("!H", rest[2:4])
        rest = rest[4:]
    if etype not in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return None
    return etype, rest, None


def link_encode(linktype, network, src_mac=b"\x02\0\0\0\0\x01", dst_mac=b"\x02\0\0\0\0\x02",
                vlans=None, null_big_endian=False, outgoing=True):
    """Wraps an IPv4/IPv6 datagram in the header of linktype."""
    etype = ethertype_of_ip(network)
    if etype is None:
        raise ValueError("not an IP datagram")
    if linktype == LINKTYPE_ETHERNET:
        return Ether(dst_mac, src_mac, etype, network, vlans).build()
    if linktype == LINKTYPE_RAW:
        return bytes(network)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        family = AF_INET if etype == ETHERTYPE_IPV4 else AF_INET6_BSD
        bo = "!" if (linktype == LINKTYPE_LOOP or null_big_endian) else "<"
        return struct.pack(bo + "I", family) + network
    pkttype = 4 if outgoing else 0  # PACKET_OUTGOING / PACKET_HOST
    if linktype == LINKTYPE_LINUX_SLL:
        # packet type, ARPHRD_ETHER, address length, address (8 bytes), protocol
        return struct.pack("!HHH", pkttype, 1, 6) + src_mac + b"\0\0" + struct.pack("!H", etype) + network
    if linktype == LINKTYPE_LINUX_SLL2:
        # protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length, address
        return (struct.pack("!HHIHBB", etype, 0, 2, 1, pkttype, 6) + src_mac + b"\0\0" + network)
    raise ValueError("cannot write link type %d" % linktype)


# ---------------------------------------------------------------- IPv4

class IPv4:
    def __init__(self, src, dst, proto, payload=b"", ttl=64, ident=0, tos=0, df=False, mf=False,
                 frag_offset=0, options=b""):
        self.src = ipaddress.IPv4Address(src)
        self.dst = ipaddress.IPv4Address(dst)
        self.proto = proto
        self.payload = bytes(payload)
        self.ttl = ttl
        self.ident = ident
        self.tos = tos
        self.df = df
        self.mf = mf
        self.frag_offset = frag_offset  # bytes, a multiple of 8
        self.options = bytes(options)

    version = 4

    @property
    def is_fragment(self):
        return self.mf or self.frag_offset != 0

    @classmethod
    def parse(cls, data):
        if len(data) < 20 or data[0] >> 4 != 4:
            raise ValueError("not an IPv4 header")
        ihl = (data[0] & 0x0F) * 4
        tos, total, ident, frag, ttl, proto = struct.unpack("!BHHHBB", data[1:10])
        if ihl < 20 or total < ihl or len(data) < ihl:
            raise ValueError("bad IPv4 lengths")
        end = min(total, len(data))  # Ethernet padding is not payload
        return cls(ipaddress.IPv4Address(data[12:16]), ipaddress.IPv4Address(data[16:20]), proto,
                   data[ihl:end], ttl, ident, tos, bool(frag & 0x4000), bool(frag & 0x2000),
                   (frag & 0x1FFF) * 8, data[20:ihl])

    def header(self, payload_len=None):
        opts = self.options + b"\0" * ((-len(self.options)) % 4)
        ihl = 20 + len(opts)
        total = ihl + (len(self.payload) if payload_len is None else payload_len)
        if self.frag_offset % 8:
            raise ValueError("fragment offset not a multiple of 8")
        frag = (self.frag_offset // 8) | (0x4000 if self.df else 0) | (0x2000 if self.mf else 0)
        hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl // 4), self.tos, total, self.ident, frag,
                          self.ttl, self.proto, 0, self.src.packed, self.dst.packed) + opts
        csum = internet_checksum(hdr)
        return hdr[:10] + struct.pack("!H", csum) + hdr[12:]

    def build(self):
        return self.header() + self.payload

    def pseudo_header(self, upper_len):
        return self.src.packed + self.dst.packed + struct.pack("!BBH", 0, self.proto, upper_len)


def header_checksum_ok(data):
    ihl = (data[0] & 0x0F) * 4
    return internet_checksum(bytes(data[:ihl])) == 0


def fragment_ipv4(ip, sizes, order=None):
    """Splits ip's payload into fragments of the given sizes (each but the
    last a multiple of 8; the last size may be None for "the rest").
    Returns the fragments as IPv4 objects, in `order` (indices) if given."""
    payload = ip.payload
    pieces = []
    pos = 0
    for i, size in enumerate(sizes):
        last = i == len(sizes) - 1
        end = len(payload) if (last or size is None) else pos + size
        if not last and (end - pos) % 8:
            raise ValueError("non-final fragment size %d is not a multiple of 8" % (end - pos))
        if end > len(payload) or (not last and end >= len(payload)):
            raise ValueError("fragment sizes do not fit a payload of %d" % len(payload))
        frag = IPv4(ip.src, ip.dst, ip.proto, payload[pos:end], ip.ttl, ip.ident, ip.tos, False,
                    not last, ip.frag_offset + pos,
                    ip.options if pos == 0 else _copied_ipv4_options(ip.options))
        pieces.append(frag)
        pos = end
    if order is not None:
        pieces = [pieces[i] for i in order]
    return pieces


def _copied_ipv4_options(options):
    """Options with the copy flag are repeated in every fragment (RFC 791)."""
    out = b""
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        length = options[i + 1] if i + 1 < len(options) else 2
        if kind & 0x80:
            out += options[i:i + length]
        i += max(length, 2)
    return out


# ---------------------------------------------------------------- IPv6

class IPv6:
    """exts: list of (header type, body bytes without the next-header byte
    and, for the type-length headers, without the length byte)."""

    version = 6

    def __init__(self, src, dst, proto, payload=b"", hlim=64, tc=0, flow=0, exts=None):
        self.src = ipaddress.IPv6Address(src)
        self.dst = ipaddress.IPv6Address(dst)
        self.proto = proto  # upper-layer protocol, after every extension header
        self.payload = bytes(payload)
        self.hlim = hlim
        self.tc = tc
        self.flow = flow
        self.exts = list(exts or [])

    @classmethod
    def parse(cls, data):
        if len(data) < 40 or data[0] >> 4 != 6:
            raise ValueError("not an IPv6 header")
        first, plen, nxt, hlim = struct.unpack("!IHBB", data[:8])
        end = min(40 + plen, len(data))
        pos = 40
        exts = []
        while nxt in (IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT):
            if nxt == IPPROTO_FRAGMENT:
                exts.append((nxt, data[pos + 1:pos + 8]))
                nxt2 = data[pos]
                pos += 8
            else:
                hlen = (data[pos + 1] + 1) * 8
                exts.append((nxt, data[pos + 2:pos + hlen]))
                nxt2 = data[pos]
                pos += hlen
            nxt = nxt2
        return cls(ipaddress.IPv6Address(data[8:24]), ipaddress.IPv6Address(data[24:40]), nxt,
                   data[pos:end], hlim, (first >> 20) & 0xFF, first & 0xFFFFF, exts)

    @staticmethod
    def ext_bytes(exts, final_next):
        out = b""
        for i, (htype, body) in enumerate(exts):
            nxt = exts[i + 1][0] if i + 1 < len(exts) else final_next
            if htype == IPPROTO_FRAGMENT:
                if len(body) != 7:
                    raise ValueError("fragment header body must be 7 bytes")
                out += bytes([nxt]) + body
            else:
                if (len(body) + 2) % 8:
                    raise ValueError("extension header not a multiple of 8 bytes")
                out += bytes([nxt, (len(body) + 2) // 8 - 1]) + body
        return out

    def fixed_header(self, next_header, payload_len):
        first = (6 << 28) | (self.tc << 20) | self.flow
        return struct.pack("!IHBB", first, payload_len, next_header, self.hlim) + self.src.packed + \
            self.dst.packed

    def build(self):
        ext = self.ext_bytes(self.exts, self.proto)
        first_next = self.exts[0][0] if self.exts else self.proto
        return self.fixed_header(first_next, len(ext) + len(self.payload)) + ext + self.payload

    def pseudo_header(self, upper_len):
        return self.src.packed + self.dst.packed + struct.pack("!IxxxB", upper_len, self.proto)


def padn_options(total_len):
    """Body of a hop-by-hop / destination options header (without the two
    type-length bytes) of total_len bytes (a multiple of 8), all PadN."""
    body_len = total_len - 2
    if body_len == 1:
        return b"\0"  # Pad1
    return bytes([1, body_len - 2]) + b"\0" * (body_len - 2)


def fragment_ipv6(ip, unfragmentable, fragmentable, ident, sizes, order=None):
    """RFC 8200 section 4.5: the unfragmentable extension headers are copied
    into every fragment, then a fragment header, then a slice of
    (fragmentable extension headers + upper-layer payload).  Returns the
    fragments as bytes."""
    frag_part = IPv6.ext_bytes(fragmentable, ip.proto) + ip.payload
    first_frag_next = fragmentable[0][0] if fragmentable else ip.proto
    out = []
    pos = 0
    for i, size in enumerate(sizes):
        last = i == len(sizes) - 1
        end = len(frag_part) if (last or size is None) else pos + size
        if not last and (end - pos) % 8:
            raise ValueError("non-final fragment size is not a multiple of 8")
        if end > len(frag_part) or (not last and end >= len(frag_part)):
            raise ValueError("fragment sizes do not fit")
        fh_body = struct.pack("!BHI", 0, (pos & 0xFFF8) | (0 if last else 1), ident)
        exts = list(unfragmentable) + [(IPPROTO_FRAGMENT, fh_body)]
        ext = IPv6.ext_bytes(exts, first_frag_next)
        body = ext + frag_part[pos:end]
        first_next = exts[0][0]
        out.append(ip.fixed_header(first_next, len(body)) + body)
        pos = end
    if order is not None:
        out = [out[i] for i in order]
    return out


def parse_ip(network):
    v = network[0] >> 4 if network else 0
    if v == 4:
        return IPv4.parse(network)
    if v == 6:
        return IPv6.parse(network)
    raise ValueError("not IP")


# ---------------------------------------------------------------- TCP

class TCP:
    def __init__(self, sport, dport, seq, ack=0, flags=TCP_ACK, window=65535, payload=b"", options=b"",
                 urg=0):
        self.sport = sport
        self.dport = dport
        self.seq = seq & 0xFFFFFFFF
        self.ack = ack & 0xFFFFFFFF
        self.flags = flags
        self.window = window
        self.payload = bytes(payload)
        self.options = bytes(options)
        self.urg = urg

    def copy(self, **changes):
        t = TCP(self.sport, self.dport, self.seq, self.ack, self.flags, self.window, self.payload,
                self.options, self.urg)
        for k, v in changes.items():
            setattr(t, k, v)
        t.seq &= 0xFFFFFFFF
        t.ack &= 0xFFFFFFFF
        return t

    @classmethod
    def parse(cls, data):
        if len(data) < 20:
            raise ValueError("TCP header cut short")
        sport, dport, seq, ack, off, flags, window, _csum, urg = struct.unpack("!HHIIBBHHH", data[:20])
        hlen = (off >> 4) * 4
        if hlen < 20 or hlen > len(data):
            raise ValueError("bad TCP header length")
        return cls(sport, dport, seq, ack, flags, window, data[hlen:], data[20:hlen], urg)

    def build(self, ip):
        """Returns the segment with its checksum for the given IPv4/IPv6
        header object (only its addresses and protocol are used)."""
        opts = self.options + b"\0" * ((-len(self.options)) % 4)
        hlen = 20 + len(opts)
        seg = struct.pack("!HHIIBBHHH", self.sport, self.dport, self.seq, self.ack, (hlen // 4) << 4,
                          self.flags, self.window, 0, self.urg) + opts + self.payload
        pseudo = ip.pseudo_header(len(seg))
        csum = internet_checksum(pseudo + seg)
        return seg[:16] + struct.pack("!H", csum) + seg[18:]

    def shift_sack(self, delta):
        """Moves the SACK blocks (option 5) by delta in sequence space."""
        o = bytearray(self.options)
        i = 0
        while i < len(o):
            kind = o[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            if i + 1 >= len(o):
                break
            length = o[i + 1]
            if length < 2:
                break
            if kind == 5:
                for j in range(i + 2, i + length - 3, 4):
                    (v,) = struct.unpack("!I", o[j:j + 4])
                    o[j:j + 4] = struct.pack("!I", (v + delta) & 0xFFFFFFFF)
            i += length
        self.options = bytes(o)


def seq_diff(a, b):
    """a - b in sequence space, as a signed 32-bit number."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d & 0x80000000 else d


# ---------------------------------------------------------------- address mapping

DOC_PREFIX6 = ipaddress.IPv6Address("2001:db8::")


def ipv4_to_doc6(addr):
    """Maps an IPv4 address into 2001:db8::/32 (the low 32 bits)."""
    return ipaddress.IPv6Address(int(DOC_PREFIX6) | int(ipaddress.IPv4Address(addr)))


def doc6_to_ipv4(addr):
    """Undoes ipv4_to_doc6; other addresses come back unchanged."""
    a = ipaddress.ip_address(addr)
    if a.version == 6 and (int(a) >> 96) == (int(DOC_PREFIX6) >> 96) and (int(a) >> 32) & 0xFFFFFFFFFFFFFFFF == 0:
        return ipaddress.IPv4Address(int(a) & 0xFFFFFFFF)
    return a
