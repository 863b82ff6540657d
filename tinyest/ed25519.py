"""Ed25519 signatures (RFC 8032 section 5.1), keys in the RFC 8410 encodings.

Supported: pure Ed25519 only (no Ed25519ph, no Ed25519ctx), key generation from
``os.urandom``, PKCS#8 private keys (RFC 8410 section 7, version 0 or 1 with an
optional public key that must match), SubjectPublicKeyInfo public keys.

Verification is strict: ``S`` must be below the group order L, the public key
must be a canonical point encoding (y < p, no "negative zero"), and the check is
``encode([S]B - [k]A) == R`` byte for byte, so a non-canonical ``R`` never
verifies. Small-order public keys are not refused (RFC 8032 does not ask it).

Arithmetic: extended twisted Edwards coordinates (X:Y:Z:T), the complete
addition and doubling formulas of RFC 8032 section 5.1.4, inverses by Fermat
(``pow(z, p - 2, p)``), scalar multiplication with a fixed 4-bit window.

Side-channel stance: a secret scalar is processed with the same sequence of
point operations whatever its value (4 doublings and one table addition per
4-bit digit, the identity included), but Python integer arithmetic is not
constant time: operation timing, memory traffic and power still depend on the
values. Secrets live in ordinary heap objects that the garbage collector does
not wipe. Use this where an attacker cannot take fine-grained timing or power
measurements of the device; use a secure element where they can. Signatures are
deterministic (no random nonce to get wrong); a fault injected while signing is
not detected.
"""

import os

from tinyest import der
from tinyest.errors import CryptoError, FormatError
from tinyest.hashes import sha512

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_D2 = 2 * _D % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

OID = b"\x2b\x65\x70"  # 1.3.101.112 id-Ed25519
ALGORITHM = b"\x30\x05\x06\x03\x2b\x65\x70"  # AlgorithmIdentifier, parameters absent

_ZERO = (0, 1, 1, 0)
_base_table = None


def _add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * _D2 % _P * t2 % _P
    d = 2 * z1 * z2 % _P
    e = b - a
    f = d - c
    g = d + c
    h = b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _double(p):
    x1, y1, z1, _ = p
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = a + b
    s = x1 + y1
    e = h - s * s % _P
    g = a - b
    f = c + g
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _table(p):
    # [0]P .. [15]P
    t = [_ZERO, p]
    for i in range(14):
        t.append(_add(t[i + 1], p))
    return t


def _base():
    global _base_table
    if _base_table is None:
        _base_table = _table(_decode(b"\x58" + b"\x66" * 31))  # B: y = 4/5, x even
    return _base_table


def _mul(k, table):
    # [k]P for 0 <= k < 2**256, the same operations for every k.
    q = _ZERO
    for i in range(252, -4, -4):
        q = _double(_double(_double(_double(q))))
        q = _add(q, table[(k >> i) & 15])
    return q


def _mul2(k1, t1, k2, t2):
    # [k1]P1 + [k2]P2 for public scalars (verification): zero digits skipped.
    q = _ZERO
    for i in range(252, -4, -4):
        q = _double(_double(_double(_double(q))))
        d = (k1 >> i) & 15
        if d:
            q = _add(q, t1[d])
        d = (k2 >> i) & 15
        if d:
            q = _add(q, t2[d])
    return q


def _encode(p):
    zi = pow(p[2], _P - 2, _P)
    x = p[0] * zi % _P
    y = p[1] * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _decode(b):
    # RFC 8032 5.1.3; None for anything that is not a canonical point encoding.
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    yy = y * y % _P
    u = (yy - 1) % _P
    v = (_D * yy + 1) % _P
    v3 = v * v % _P * v % _P
    x = u * v3 % _P * pow(u * v3 % _P * v3 % _P * v % _P, (_P - 5) // 8, _P) % _P
    vxx = v * x % _P * x % _P
    if vxx != u:
        if vxx != _P - u:
            return None
        x = x * _SQRT_M1 % _P
    if x == 0 and sign:
        return None
    if (x & 1) != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def _scalar(h):
    return int.from_bytes(h, "little") % _L


class Ed25519Key:
    """An Ed25519 private key with the tinyest signer interface."""

    kind = "ed25519"

    def __init__(self, seed):
        seed = bytes(seed)
        if len(seed) != 32:
            raise CryptoError("an Ed25519 private key is 32 bytes, not %d" % len(seed))
        h = sha512(seed)
        a = int.from_bytes(h[:32], "little")
        self._seed = seed
        self._a = (a & ((1 << 254) - 8)) | (1 << 254)
        self._prefix = h[32:]
        self._public = _encode(_mul(self._a, _base()))

    def public_bytes(self):
        """The 32-byte public key (RFC 8032 5.1.5)."""
        return self._public

    def public_key_der(self):
        """SubjectPublicKeyInfo (RFC 8410 section 4)."""
        return der.seq(ALGORITHM, der.bit_string(self._public))

    def algorithm_der(self):
        """Signature AlgorithmIdentifier: id-Ed25519, parameters absent."""
        return ALGORITHM

    def sign(self, data):
        """The 64-byte signature R || S of data (RFC 8032 5.1.6)."""
        data = bytes(data)
        bt = _base()
        r = _scalar(sha512(self._prefix + data))
        rb = _encode(_mul(r, bt))
        k = _scalar(sha512(rb + self._public + data))
        s = (r + k * self._a) % _L
        return rb + s.to_bytes(32, "little")

    def to_der(self):
        """PKCS#8 PrivateKeyInfo, version 0 (RFC 8410 section 7)."""
        return der.seq(der.integer(0), ALGORITHM, der.octet_string(der.octet_string(self._seed)))


def generate():
    """A new key from 32 bytes of ``os.urandom``."""
    return Ed25519Key(os.urandom(32))


def from_secret(seed):
    """The key of a 32-byte RFC 8032 private key (the seed)."""
    return Ed25519Key(seed)


def from_der(data):
    """The key of an RFC 8410 PKCS#8 (OneAsymmetricKey) DER encoding."""
    r = der.top(data)
    version = r.read_int()
    if version not in (0, 1):
        raise FormatError("unsupported PKCS#8 version %d" % version)
    alg = r.enter(der.SEQUENCE)
    if bytes(alg.read_oid()) != OID:
        raise FormatError("not an Ed25519 private key")
    if not alg.empty():
        raise FormatError("Ed25519 AlgorithmIdentifier with parameters")
    inner = der.Reader(r.read_octets())
    seed = inner.read_octets()
    inner.done()
    if len(seed) != 32:
        raise FormatError("Ed25519 private key of %d bytes" % len(seed))
    r.optional(der.ctx(0))  # attributes: not used
    public = r.optional(der.ctx(1, False))
    r.done()
    key = Ed25519Key(seed)
    if public is not None:
        if version != 1:
            raise FormatError("public key in a version 0 PKCS#8 key")
        if bytes(public) != b"\x00" + key.public_bytes():
            raise FormatError("PKCS#8 public key does not match the private key")
    return key


def check_public(public):
    """Raise CryptoError unless public is a canonical encoding of a curve point."""
    if _decode(bytes(public)) is None:
        raise CryptoError("not an Ed25519 public key")


def verify(public, data, sig):
    """True if sig is a valid Ed25519 signature of data under the 32-byte public key."""
    public = bytes(public)
    sig = bytes(sig)
    if len(public) != 32 or len(sig) != 64:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= _L:
        return False
    a = _decode(public)
    if a is None:
        return False
    k = _scalar(sha512(sig[:32] + public + bytes(data)))
    neg = ((_P - a[0]) % _P, a[1], a[2], (_P - a[3]) % _P)
    return _encode(_mul2(s, _base(), k, _table(neg))) == sig[:32]
