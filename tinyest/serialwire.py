"""The provisioning link's wire format, shared by the board's agent
(``port_micropython/provision_agent.py``, whose docstring is the protocol's
reference) and the host (``host_tools/provision.py``): frame constants, CRC-32,
frame encoder and decoder, the config text, the set digest, and the items and
state a store is reported as.

Loaded by a board only while it is being provisioned. The config text is
checked here, on rendering, for both sides: a name is non-empty and holds no
"=" or line end, a text value no line end; parsing accepts only the canonical
form, so what one side writes the other reads back exactly.
"""

import binascii
import hashlib
import os
import struct

PROTO = 2
FLAG = 0x7E
ESC = 0x7D
T_REQ = 0x51
T_RESP = 0x52
T_ACK = 0x41
T_NAK = 0x4E

HELLO = 1
INFO = 2
BEGIN = 3
PUT = 4
HASH = 5
READ = 6
GENKEY = 7
COMMIT = 8
READBACK = 9
CERT = 10
WIPE = 11
ABORT = 12
REBOOT = 13
QUIT = 14
SLOW = (GENKEY, COMMIT, CERT, WIPE)  # acknowledged first, answered when done

OK = 0
E_COMMAND = 1
E_ARGS = 2
E_TRANSFER = 3
E_OFFSET = 4
E_SPACE = 5
E_INVALID = 6
E_DIGEST = 7
E_STORE = 8
E_NOKEY = 9
E_INTERNAL = 10

FILES = ("config", "trust", "boot_user", "boot_password", "boot_key", "boot_chain", "chain")
ITEMS = FILES + ("key", "pending")
KEY_LEN = 32  # of a HASH or READBACK key, and of a raw REPL file proof

_HDR = ">BHH"


# ---------------------------------------------------------------- CRC-32

def _crc_table():
    t = []
    for i in range(16):
        c = i
        for _ in range(4):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        t.append(c)
    return t


_T16 = _crc_table()


def crc32_soft(data, crc=0):
    """CRC-32 (IEEE 802.3, as binascii.crc32), four bits at a time: for ports
    built without binascii.crc32."""
    crc ^= 0xFFFFFFFF
    t = _T16
    for b in data:
        crc = t[(crc ^ b) & 15] ^ (crc >> 4)
        crc = t[(crc ^ (b >> 4)) & 15] ^ (crc >> 4)
    return crc ^ 0xFFFFFFFF


_crc = getattr(binascii, "crc32", None)


def crc32(data):
    if _crc is None:
        return crc32_soft(data)
    return _crc(data) & 0xFFFFFFFF


# ---------------------------------------------------------------- frames

def encode(ftype, seq, payload=b""):
    """The wire octets of one frame."""
    body = struct.pack(_HDR, ftype, seq, len(payload)) + bytes(payload)
    body += struct.pack(">I", crc32(body))
    out = bytearray()
    out.append(FLAG)
    for b in body:
        if b < 0x20 or b == FLAG or b == ESC or b == 0x7F:
            out.append(ESC)
            out.append(b ^ 0x20)
        else:
            out.append(b)
    out.append(FLAG)
    return bytes(out)


BAD = "bad"


class Decoder:
    """Octets in; a frame (type, seq, payload, crc) as soon as its length and CRC
    are complete (a lost closing flag costs nothing), BAD once for a damaged
    frame, else None. Frames longer than ``max_payload`` are damaged."""

    def __init__(self, max_payload):
        self.max = max_payload
        self._reset()

    def _reset(self):
        self.buf = bytearray()
        self.need = -1
        self.esc = False
        self.state = 0  # 0 collecting, 1 frame delivered, 2 damaged (reported)

    def _bad(self):
        self.state = 2
        return BAD

    def feed(self, data):
        """[frame or BAD] of the octets in data."""
        out = []
        for b in data:
            r = self.byte(b)
            if r is not None:
                out.append(r)
        return out

    def byte(self, b):
        """A frame, BAD or None after one octet (an int)."""
        if b == FLAG:
            partial = self.state == 0 and len(self.buf) > 0
            self._reset()
            return BAD if partial else None
        if self.state == 2:
            return None
        if self.state == 1:
            return self._bad()  # octets after a whole frame: a flag was lost
        if b == ESC:
            if self.esc:
                return self._bad()
            self.esc = True
            return None
        if b < 0x20 or b == 0x7F:
            return self._bad()  # never sent raw: the line damaged the frame
        if self.esc:
            b ^= 0x20
            self.esc = False
        buf = self.buf
        buf.append(b)
        n = len(buf)
        if n == 5:
            length = struct.unpack_from(_HDR, buf)[2]
            if length > self.max:
                return self._bad()
            self.need = 9 + length
        if n == self.need:
            crc = struct.unpack_from(">I", buf, n - 4)[0]
            if crc32(buf[:n - 4]) != crc:
                return self._bad()
            self.state = 1
            return buf[0], struct.unpack_from(">H", buf, 1)[0], bytes(buf[5:n - 4]), crc
        return None


# ---------------------------------------------------------------- contents

def set_digest(files, order=FILES):
    """SHA-256 over the files (dict name -> octets) in FILES (or ITEMS) order:
    for each, name, 0x00, length u32, SHA-256 of the contents."""
    h = hashlib.sha256()
    for name in order:
        data = files.get(name)
        if data is not None:
            h.update(name.encode() + b"\x00" + struct.pack(">I", len(data)))
            h.update(hashlib.sha256(data).digest())
    return h.digest()


def fresh_key():
    """A new key for one HASH, READBACK or file proof."""
    return os.urandom(KEY_LEN)


def keyed(key, data):
    """HMAC-SHA256 of data under key (hashlib has no hmac on MicroPython)."""
    from tinyest.hashes import hmac

    return hmac("sha256", key, data)


def render_config(cfg):
    """The canonical config text (octets) of a dict: "name=T:value" lines sorted
    by name; ValueError for a name or value the text cannot carry."""
    out = []
    for name in sorted(cfg):
        v = cfg[name]
        if not name or "=" in name or "\n" in name or "\r" in name:
            raise ValueError("bad config name %r" % name)
        if v is True or v is False:
            line = "%s=t:%d" % (name, 1 if v else 0)
        elif isinstance(v, int):
            line = "%s=i:%d" % (name, v)
        elif isinstance(v, str):
            if "\n" in v or "\r" in v:
                raise ValueError("config value with a line break")
            line = "%s=s:%s" % (name, v)
        else:
            line = "%s=x:%s" % (name, binascii.hexlify(bytes(v)).decode())
        out.append(line + "\n")
    return "".join(out).encode()


def parse_config(data):
    """dict from the canonical config text; ValueError when it is not canonical."""
    try:
        text = str(bytes(data), "utf-8")
    except UnicodeError:
        raise ValueError("config is not UTF-8")
    cfg = {}
    if text and not text.endswith("\n"):
        raise ValueError("config must end with a line end")
    for line in text.split("\n")[:-1]:
        eq = line.find("=")
        if eq < 1 or len(line) < eq + 3 or line[eq + 2] != ":":
            raise ValueError("bad config line")
        name = line[:eq]
        t = line[eq + 1]
        v = line[eq + 3:]
        if name in cfg:
            raise ValueError("config name repeated: " + name)
        if t == "s":
            cfg[name] = v
        elif t == "i":
            try:
                cfg[name] = int(v)
            except ValueError:
                raise ValueError("bad integer for " + name)
        elif t == "x":
            try:
                cfg[name] = binascii.unhexlify(v)
            except ValueError:
                raise ValueError("bad hex value for " + name)
        elif t == "t" and v in ("0", "1"):
            cfg[name] = v == "1"
        else:
            raise ValueError("bad config type for " + name)
    if render_config(cfg) != bytes(data):
        raise ValueError("config not in canonical form")
    return cfg


def split_der(data):
    """The DER elements (bytes) concatenated in data (a file of certificates)."""
    from tinyest import der

    out = []
    r = der.Reader(memoryview(bytes(data)))
    while not r.empty():
        out.append(bytes(r.read_element(der.SEQUENCE)))
    return out


def render(c):
    """[(name, octets)] of a tinyest.store Credentials, in ITEMS order, as READBACK
    reports them: lists concatenated, text UTF-8, "key" the public key
    (SubjectPublicKeyInfo DER), "pending" the pending CSR."""
    out = []
    if c.config:
        out.append(("config", render_config(c.config)))
    for name in FILES[1:]:
        v = getattr(c, name)
        if isinstance(v, list):
            if v:
                out.append((name, b"".join([bytes(x) for x in v])))
        elif v is not None:
            out.append((name, v.encode() if isinstance(v, str) else bytes(v)))
    if c.key_der is not None:
        from tinyest import keys

        out.append(("key", bytes(keys.load_private(c.key_der).public_key_der())))
    if c.pending is not None and c.pending.csr is not None:
        out.append(("pending", bytes(c.pending.csr)))
    return out


def state_of(c):
    """empty, enrolled, pending, bootstrap or config: what a store holds."""
    if c.generation == 0:
        return "empty"
    if c.enrolled:
        return "enrolled"
    if c.pending is not None:
        return "pending"
    if c.boot_password is not None or c.boot_key is not None:
        return "bootstrap"
    return "config"
