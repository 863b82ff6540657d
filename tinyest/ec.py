"""ECDSA on NIST P-256 and P-384 in pure Python (FIPS 186-4, SEC 1, RFC 6979).

API
    ``generate(curve="P-256")``, ``from_secret(secret, curve="P-256")`` (int or
    big-endian bytes), ``from_der(der)`` return an ``EcKey``: ``.curve``,
    ``.secret``, ``sign(data)``, ``sign_digest(digest)``, ``public_point()``
    (04 X Y), ``public_key_der()`` (SubjectPublicKeyInfo), ``algorithm_der()``
    (ecdsa-with-SHA256/384, no parameters), ``to_der()`` (PKCS#8),
    ``to_sec1()`` (ECPrivateKey with curve and public key). Module functions:
    ``verify(curve, point, digest, sig_der)`` -> bool,
    ``point_from_bytes(curve, data)`` -> (x, y), ``clear_tables()``.

Supported subset
    Curves "P-256" (secp256r1) and "P-384" (secp384r1), named by OID only.
    Signing hashes with SHA-256 on P-256 and SHA-384 on P-384; ``sign_digest``
    takes a 32-, 48- or 64-byte digest and uses the matching hash inside RFC
    6979. Signatures are DER ECDSA-Sig-Value; s is not normalised to the low
    half. Keys load from DER only: SEC 1 ECPrivateKey (RFC 5915; the curve
    must be named in [0] unless it comes from PKCS#8) or PKCS#8 PrivateKeyInfo
    version 0 with id-ecPublicKey and a named curve (attributes [0] skipped).
    The private key octets may be shorter than the curve size (old encoders
    dropped leading zeros) but never longer. A public key inside the private
    key must match the one derived from the secret. Points are read
    uncompressed (04) or compressed (02/03), always checked on the curve.

Errors
    DERError for malformed DER, FormatError for well-formed input of another
    kind (other algorithm or curve, wrong lengths), CryptoError for a bad key
    (secret 0 or >= n, point off the curve, public key mismatch). ``verify``
    returns False for any signature that does not verify, a malformed DER
    signature included; it raises only for a bad curve name or public point.

Arithmetic
    Jacobian coordinates with the a = -3 formulas. Inverses by Fermat,
    x**(m-2) mod m: CPython's pow, and on MicroPython a 4-bit fixed-window
    exponentiation in Python (``_pow_window``), because MicroPython's
    three-argument pow was measured 2 to 7 times slower whenever the heap
    holds garbage. ``pow(x, -1, m)`` (0 on MicroPython) and ``int.bit_length``
    (missing there) are not used.

    Secret scalars (signing nonces, public key derivation) go through a
    fixed-base comb. The scalar k is made odd (k, or n - k with every digit's
    sign inverted afterwards, chosen arithmetically), then recoded into signed
    odd digits of w bits: each digit is one of +-1, +-3, ..., +-(2**w - 1),
    never zero, so every digit costs exactly one table lookup, one arithmetic
    conditional negation and one mixed addition, and (groups - 1) * w
    doublings separate the groups of digits. The table holds the odd
    multiples of 2**(w*groups*t)*G for each t. Shapes (w, groups): CPython
    (8, 1) for P-256 and (7, 1) for P-384 (32 and 55 additions, no doubling);
    MicroPython (4, 2) and (4, 4) (64 additions + 4 doublings, 96 + 12).

    Verification handles public data only and may branch on it: u1*G through
    the comb, u2*Q by signed 4-bit double-and-add over a per-call table of
    1Q, 3Q, ..., 15Q, and one general addition; the x-coordinate is compared
    without an inversion (X == r*Z**2, or (r + n)*Z**2 when r + n < p).

Side-channel stance
    For a secret scalar the sequence of field operations does not depend on
    its bits: no digit is skipped and every addition is done. What is not
    protected: Python integers are not constant-time (multiplication,
    reduction and allocation sizes follow the values); the table index is
    secret, so the memory access pattern is visible to a cache observer; and
    the addition keeps a branch for its exceptional cases (adding a point to
    itself or to its negation, infinity), which the comb reaches only for a
    negligible fraction of scalars (about 2**-240; the tests construct such
    scalars on purpose). The RFC 6979 nonce is deterministic, so no random
    number generator is trusted at signing time. This resists timing
    measured over a network reasonably well; it does not resist local power,
    EM or cache analysis. Use a secure element where that matters.

Memory and speed (x86-64 VM; bench/bench_sign.py prints current figures)
    Tables are built at first use, cached per curve, freed by
    ``clear_tables()``. MicroPython: P-256 32 bytearrays of 512 bytes
    (16 KiB), P-384 24 of 768 (18 KiB), each allocated before the arithmetic
    starts so that no large contiguous block is needed; about 50 ms (P-256)
    and 70-100 ms (P-384) to build. With the modules loaded as .mpy (64-bit
    unix port) the smallest heap that imports this module is 57 KiB, that
    signs and verifies on P-256 81 KiB, on P-384 87 KiB: the arithmetic
    needs about 25-30 KiB beyond the loaded code. MicroPython timings: P-256
    sign about 1.7 ms, verify about 6 ms; P-384 sign about 8 ms (the pure
    SHA-384 of RFC 6979 included), verify about 16-22 ms. CPython: about
    0.7 MiB of table per curve, built in 35-50 ms (P-256) / 75-100 ms
    (P-384); P-256 sign about 0.37 ms, P-384 0.87 ms.
"""

import os
import sys

from tinyest import der, hashes
from tinyest.errors import CryptoError, DERError, FormatError

OID_EC_PUBLIC_KEY = b"\x2a\x86\x48\xce\x3d\x02\x01"  # 1.2.840.10045.2.1
OID_P256 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"  # 1.2.840.10045.3.1.7
OID_P384 = b"\x2b\x81\x04\x00\x22"  # 1.3.132.0.34
OID_ECDSA_SHA256 = b"\x2a\x86\x48\xce\x3d\x04\x03\x02"  # 1.2.840.10045.4.3.2
OID_ECDSA_SHA384 = b"\x2a\x86\x48\xce\x3d\x04\x03\x03"  # 1.2.840.10045.4.3.3

_MICRO = sys.implementation.name == "micropython"

_HASH_BY_SIZE = {32: "sha256", 48: "sha384", 64: "sha512"}


class _Curve:
    """Domain parameters of a short Weierstrass curve with a = -3, and the
    shape of its comb table: digits of w bits, in groups of ``groups``."""

    def __init__(self, name, p, b, n, gx, gy, size, oid, sig_oid, hash_name, w, groups, packed):
        self.name = name
        self.p = p
        self.b = b
        self.n = n
        self.gx = gx
        self.gy = gy
        self.size = size  # bytes of p and n
        self.qlen = 8 * size  # bits of n (both curves fill their bytes)
        self.oid = oid
        self.sig_oid = sig_oid
        self.hash_name = hash_name
        self.w = w  # bits per comb digit, 2 <= w <= 8
        self.groups = groups  # w * (groups - 1) doublings per multiplication
        self.packed = packed  # table rows as bytearrays, or a list of (x, y)
        L = (8 * size + w - 1) // w
        self.digits = (L + groups - 1) // groups * groups
        self.tab = None

    def table(self):
        if self.tab is None:
            self.tab = _build_table(self)
        return self.tab


# Comb shapes (w, groups). CPython has memory to spare and pays for the two
# Fermat inversions of each signature, so it takes wide tables and no
# doublings; MicroPython keeps its tables near 16 KiB.
if _MICRO:
    _SHAPE256 = (4, 2)  # 32 tables x 8 points, 64 additions + 4 doublings
    _SHAPE384 = (4, 4)  # 24 tables x 8 points, 96 additions + 12 doublings
else:
    _SHAPE256 = (8, 1)  # 32 tables x 128 points, 32 additions
    _SHAPE384 = (7, 1)  # 55 tables x 64 points, 55 additions

_P256 = _Curve(
    "P-256",
    0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    32, OID_P256, OID_ECDSA_SHA256, "sha256", _SHAPE256[0], _SHAPE256[1], _MICRO,
)
_P384 = _Curve(
    "P-384",
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF,
    0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
    0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F,
    48, OID_P384, OID_ECDSA_SHA384, "sha384", _SHAPE384[0], _SHAPE384[1], _MICRO,
)


def _curve(name):
    if name == "P-256":
        return _P256
    if name == "P-384":
        return _P384
    raise FormatError("unsupported curve %r" % (name,))


def _curve_by_oid(oid):
    oid = bytes(oid)
    if oid == OID_P256:
        return _P256
    if oid == OID_P384:
        return _P384
    raise FormatError("unsupported curve " + der.oid_str(oid))


def clear_tables():
    """Drop the cached comb tables (they are rebuilt at the next use)."""
    _P256.tab = None
    _P384.tab = None


# ---------------------------------------------------------------- field helpers


def _pow_window(x, e, m):
    """x**e mod m by a left-to-right fixed 4-bit window (e > 0 public). Only
    small allocations: a 16-entry table and the exponent's bytes."""
    t = [1] * 16
    t[1] = x % m
    for i in range(2, 16):
        t[i] = t[i - 1] * t[1] % m
    nb = 1
    while e >> (8 * nb):
        nb += 1
    r = 1
    for byte in e.to_bytes(nb, "big"):
        for d in (byte >> 4, byte & 15):
            if r != 1:
                r = r * r % m
                r = r * r % m
                r = r * r % m
                r = r * r % m
            if d:
                r = r * t[d] % m
    return r


# MicroPython's three-argument pow frees its temporaries explicitly, and on a
# heap holding garbage the allocator then rescans: it was measured 2 to 7 times
# slower than _pow_window there. CPython's C pow is the faster one.
_pow = _pow_window if _MICRO else pow


def _inv(x, m):
    """1/x mod a prime m, by Fermat (x**(m-2)); 0 for x == 0."""
    return _pow(x, m - 2, m)


# ---------------------------------------------------------------- point arithmetic
# Points are Jacobian (X, Y, Z) with x = X/Z^2, y = Y/Z^3; Z == 0 is infinity.
# Coordinates are kept reduced to [0, p).


def _dbl(p, X, Y, Z):
    """2*(X, Y, Z), dbl-2001-b for a = -3; infinity stays infinity."""
    delta = Z * Z % p
    gamma = Y * Y % p
    beta = X * gamma % p
    alpha = 3 * (X - delta) * (X + delta) % p
    X3 = (alpha * alpha - 8 * beta) % p
    return X3, (alpha * (4 * beta - X3) - 8 * gamma * gamma) % p, 2 * Y * Z % p


def _madd(p, X, Y, Z, x2, y2):
    """(X, Y, Z) + (x2, y2) for an affine point, every case handled."""
    if not Z:
        return x2, y2, 1
    zz = Z * Z % p
    h = x2 * zz % p - X
    r = y2 * zz % p * Z % p - Y
    if not h:
        if not r:
            return _dbl(p, X, Y, Z)
        return 1, 1, 0
    hh = h * h % p
    hhh = h * hh % p
    v = X * hh % p
    X3 = (r * r - hhh - v - v) % p
    return X3, (r * (v - X3) - Y * hhh) % p, Z * h % p


def _jadd(p, P, Q):
    """P + Q for Jacobian points, every case handled (public data only)."""
    X1, Y1, Z1 = P
    X2, Y2, Z2 = Q
    if not Z1:
        return Q
    if not Z2:
        return P
    z1z1 = Z1 * Z1 % p
    z2z2 = Z2 * Z2 % p
    u1 = X1 * z2z2 % p
    s1 = Y1 * Z2 % p * z2z2 % p
    h = X2 * z1z1 % p - u1
    r = Y2 * Z1 % p * z1z1 % p - s1
    if not h:
        if not r:
            return _dbl(p, X1, Y1, Z1)
        return 1, 1, 0
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    X3 = (r * r - hhh - v - v) % p
    return X3, (r * (v - X3) - s1 * hhh) % p, Z1 * Z2 % p * h % p


def _normalize(p, pts):
    """Affine (x, y) of non-infinite Jacobian points, with one inversion."""
    acc = 1
    pre = []
    for P in pts:
        pre.append(acc)
        acc = acc * P[2] % p
    inv = _inv(acc, p)
    out = [None] * len(pts)
    for i in range(len(pts) - 1, -1, -1):
        X, Y, Z = pts[i]
        zi = inv * pre[i] % p
        inv = inv * Z % p
        zi2 = zi * zi % p
        out[i] = (X * zi2 % p, Y * zi2 % p * zi % p)
    return out


def _odd_multiples(p, x, y, count, tail=0):
    """Jacobian 1P, 3P, ..., (2*count-1)P of the affine point P, and, when
    tail > 0, (2**tail)*P after them (the next comb base)."""
    D = _normalize(p, [_dbl(p, x, y, 1)])[0]
    pts = [(x, y, 1)]
    X, Y, Z = x, y, 1
    for _ in range(count - 1):
        X, Y, Z = _madd(p, X, Y, Z, D[0], D[1])
        pts.append((X, Y, Z))
    if tail:
        X, Y, Z = x, y, 1
        for _ in range(tail):
            X, Y, Z = _dbl(p, X, Y, Z)
        pts.append((X, Y, Z))
    return pts


def _build_table(c):
    """The comb table: for t in range(T), the affine odd multiples 1, 3, ...,
    2**w - 1 of 2**(w*groups*t)*G. MicroPython: one bytearray per t, all
    allocated before the arithmetic fragments the heap, with x and y of each
    point as size big-endian bytes. CPython: a list of (x, y)."""
    p = c.p
    size = c.size
    half = 1 << (c.w - 1)
    T = c.digits // c.groups
    if c.packed:
        tb = [bytearray(half * 2 * size) for _ in range(T)]
    else:
        tb = []
    x, y = c.gx, c.gy
    for t in range(T):
        last = t == T - 1
        aff = _normalize(p, _odd_multiples(p, x, y, half, 0 if last else c.w * c.groups))
        if c.packed:
            row = tb[t]
            o = 0
            for i in range(half):
                row[o:o + size] = aff[i][0].to_bytes(size, "big")
                row[o + size:o + 2 * size] = aff[i][1].to_bytes(size, "big")
                o += 2 * size
        else:
            tb.extend(aff[:half])
        if not last:
            x, y = aff[half]
    return tb


def _digits(k, n, w, L):
    """Signed odd recoding of 0 <= k <= n into L digits of w bits.

    Returns (flip, digits): when k is even it is replaced by n - k (odd) and
    flip is 1, meaning every digit's sign must be inverted. digits[i] is a b in
    [0, 2**w) standing for the digit 2b - (2**w - 1), never zero:
    k' = sum (2*b_i - 2**w + 1) * 2**(w*i), b_i being bits w*i+1 .. w*i+w of k'.
    The top digit is always positive. Needs k' < 2**(w*L).
    """
    flip = 1 - (k & 1)
    k = (k + flip * (n - k - k)) >> 1
    mask = (1 << w) - 1
    dig = bytearray(L)
    for i in range(L):
        dig[i] = k & mask
        k >>= w
    dig[L - 1] |= 1 << (w - 1)
    return flip, dig


def _comb(c, k):
    """Jacobian k*G for 1 <= k < n, with an operation sequence that does not
    depend on k."""
    p = c.p
    size = c.size
    w = c.w
    S = c.groups
    T = c.digits // S
    half = 1 << (w - 1)
    lo = half - 1
    tb = c.table()
    packed = c.packed
    flip, dig = _digits(k, c.n, w, c.digits)
    ent = 2 * size  # bytes per packed entry
    first = True
    X = Y = Z = 0
    for j in range(S - 1, -1, -1):
        if not first:
            for _ in range(w):
                delta = Z * Z % p
                gamma = Y * Y % p
                beta = X * gamma % p
                alpha = 3 * (X - delta) * (X + delta) % p
                Z = 2 * Y * Z % p
                X = (alpha * alpha - 8 * beta) % p
                Y = (alpha * (4 * beta - X) - 8 * gamma * gamma) % p
        for t in range(T):
            b = dig[j + S * t]
            neg = 1 - (b >> (w - 1))  # the digit 2b - 2**w + 1 is negative
            i = (b ^ (neg * lo)) & lo
            if packed:
                o = i * ent
                row = tb[t]
                x2 = int.from_bytes(row[o:o + size], "big")
                y2 = int.from_bytes(row[o + size:o + ent], "big")
            else:
                x2, y2 = tb[t * half + i]
            y2 += (neg ^ flip) * (p - y2 - y2)
            if first:
                X, Y, Z = x2, y2, 1
                first = False
                continue
            zz = Z * Z % p
            h = x2 * zz % p - X
            if not h or not Z:  # exceptional: doubling or infinity
                X, Y, Z = _madd(p, X, Y, Z, x2, y2 % p)
                continue
            r = y2 * zz % p * Z % p - Y
            hh = h * h % p
            hhh = h * hh % p
            v = X * hh % p
            X = (r * r - hhh - v - v) % p
            Y = (r * (v - X) - Y * hhh) % p
            Z = Z * h % p
    return X, Y, Z


def _mul(c, k, qx, qy):
    """Jacobian k*Q for 0 <= k < n and an affine point Q: 4-bit signed odd
    digits, 4 doublings and one addition each (public scalars only: the
    exceptional cases take other branches)."""
    p = c.p
    L = 2 * c.size
    tab = _normalize(p, _odd_multiples(p, qx, qy, 8))
    flip, dig = _digits(k, c.n, 4, L)
    X, Y, Z = 1, 1, 0
    for i in range(L - 1, -1, -1):
        for _ in range(4 if Z else 0):
            delta = Z * Z % p
            gamma = Y * Y % p
            beta = X * gamma % p
            alpha = 3 * (X - delta) * (X + delta) % p
            Z = 2 * Y * Z % p
            X = (alpha * alpha - 8 * beta) % p
            Y = (alpha * (4 * beta - X) - 8 * gamma * gamma) % p
        b = dig[i]
        neg = 1 - (b >> 3)
        x2, y2 = tab[(b ^ (neg * 7)) & 7]
        if neg ^ flip:
            y2 = p - y2
        X, Y, Z = _madd(p, X, Y, Z, x2, y2)
    return X, Y, Z


# ---------------------------------------------------------------- encodings


def point_from_bytes(curve, data):
    """(x, y) of an uncompressed (04 X Y) or compressed (02/03 X) SEC 1 point
    on the named curve. FormatError for a wrong length or prefix, CryptoError
    for a point not on the curve (or the point at infinity)."""
    c = _curve(curve)
    p = c.p
    size = c.size
    data = bytes(data)
    if not data:
        raise FormatError("empty point")
    tag = data[0]
    if tag == 4:
        if len(data) != 1 + 2 * size:
            raise FormatError("uncompressed point of %d bytes" % len(data))
        x = int.from_bytes(data[1:1 + size], "big")
        y = int.from_bytes(data[1 + size:], "big")
        if x >= p or y >= p or (y * y - (x * x * x - 3 * x + c.b)) % p:
            raise CryptoError("point not on " + c.name)
        return x, y
    if tag in (2, 3):
        if len(data) != 1 + size:
            raise FormatError("compressed point of %d bytes" % len(data))
        x = int.from_bytes(data[1:], "big")
        if x >= p:
            raise CryptoError("point not on " + c.name)
        v = (x * x * x - 3 * x + c.b) % p
        y = _pow(v, (p + 1) // 4, p)  # p = 3 (mod 4) on both curves
        if y * y % p != v:
            raise CryptoError("point not on " + c.name)
        if (y & 1) != (tag & 1):
            y = p - y
        return x, y
    if tag == 0:
        raise CryptoError("point at infinity")
    raise FormatError("unsupported point encoding 0x%02x" % tag)


def _point_bytes(c, x, y):
    return b"\x04" + x.to_bytes(c.size, "big") + y.to_bytes(c.size, "big")


def _bits2int(b, qlen):
    """RFC 6979 2.3.2 / FIPS 186-4 6.4: the leftmost qlen bits as an int."""
    x = int.from_bytes(b, "big")
    blen = 8 * len(b)
    if blen > qlen:
        x >>= blen - qlen
    return x


def _nonces(c, x, h1, hname):
    """RFC 6979 3.2 candidate nonces k (HMAC-DRBG with the named hash)."""
    n = c.n
    size = c.size
    hmac = hashes.hmac
    xb = x.to_bytes(size, "big")
    hb = (_bits2int(h1, c.qlen) % n).to_bytes(size, "big")
    hlen = hashes.digest_size(hname)
    V = b"\x01" * hlen
    K = bytes(hlen)
    K = hmac(hname, K, V + b"\x00" + xb + hb)
    V = hmac(hname, K, V)
    K = hmac(hname, K, V + b"\x01" + xb + hb)
    V = hmac(hname, K, V)
    while True:
        T = b""
        while len(T) < size:
            V = hmac(hname, K, V)
            T += V
        k = _bits2int(T, c.qlen)
        if 0 < k < n:
            yield k
        K = hmac(hname, K, V + b"\x00")
        V = hmac(hname, K, V)


# ---------------------------------------------------------------- keys


class EcKey:
    """An ECDSA private key; also a signer (public_key_der, algorithm_der, sign)."""

    def __init__(self, c, secret):
        self._c = c
        self.curve = c.name
        self.secret = secret
        self._pub = None

    def _point(self):
        if self._pub is None:
            c = self._c
            p = c.p
            X, Y, Z = _comb(c, self.secret)
            self._pub = _normalize(p, [(X, Y, Z)])[0]
        return self._pub

    def public_point(self):
        """The public key as an uncompressed SEC 1 point (04 X Y)."""
        x, y = self._point()
        return _point_bytes(self._c, x, y)

    def public_key_der(self):
        """SubjectPublicKeyInfo DER."""
        return der.seq(
            der.seq(der.oid(OID_EC_PUBLIC_KEY), der.oid(self._c.oid)),
            der.bit_string(self.public_point()),
        )

    def algorithm_der(self):
        """AlgorithmIdentifier of the signatures made by sign()."""
        return der.seq(der.oid(self._c.sig_oid))

    def sign(self, data):
        """DER ECDSA-Sig-Value over data (SHA-256 on P-256, SHA-384 on P-384)."""
        return self.sign_digest(hashes.new(self._c.hash_name, data).digest())

    def sign_digest(self, digest):
        """DER ECDSA-Sig-Value over a 32-, 48- or 64-byte digest, with the RFC
        6979 nonce derived using the hash of that size."""
        hname = _HASH_BY_SIZE.get(len(digest))
        if hname is None:
            raise CryptoError("digest of %d bytes" % len(digest))
        c = self._c
        p = c.p
        n = c.n
        d = self.secret
        digest = bytes(digest)
        e = _bits2int(digest, c.qlen)
        for k in _nonces(c, d, digest, hname):
            X, Y, Z = _comb(c, k)
            r = X * _pow(Z, p - 3, p) % p % n  # x = X / Z**2
            if not r:
                continue
            s = _inv(k, n) * (e + r * d) % n
            if s:
                return der.seq(der.integer(r), der.integer(s))

    def _sec1(self, params):
        c = self._c
        parts = [der.integer(1), der.octet_string(self.secret.to_bytes(c.size, "big"))]
        if params:
            parts.append(der.explicit(0, der.oid(c.oid)))
        parts.append(der.explicit(1, der.bit_string(self.public_point())))
        return der.seq(*parts)

    def to_sec1(self):
        """SEC 1 ECPrivateKey DER with the named curve and the public key."""
        return self._sec1(True)

    def to_der(self):
        """PKCS#8 PrivateKeyInfo DER (the inner ECPrivateKey without parameters)."""
        c = self._c
        return der.seq(
            der.integer(0),
            der.seq(der.oid(OID_EC_PUBLIC_KEY), der.oid(c.oid)),
            der.octet_string(self._sec1(False)),
        )


def from_secret(secret, curve="P-256"):
    """A key from its secret: an int or big-endian bytes, 1 <= secret < n."""
    c = _curve(curve)
    if not isinstance(secret, int):
        secret = bytes(secret)
        if not 0 < len(secret) <= c.size:
            raise CryptoError("secret of %d bytes for %s" % (len(secret), c.name))
        secret = int.from_bytes(secret, "big")
    if not 0 < secret < c.n:
        raise CryptoError("secret out of range for " + c.name)
    return EcKey(c, secret)


def generate(curve="P-256"):
    """A new key with a secret from os.urandom, uniform in [1, n-1]."""
    c = _curve(curve)
    for _ in range(64):
        d = int.from_bytes(os.urandom(c.size), "big")
        if 0 < d < c.n:
            return EcKey(c, d)
    raise CryptoError("random source keeps failing")


def _sec1_rest(r, c):
    """The ECPrivateKey fields after the version, from Reader r; c is the
    curve named by PKCS#8 (or None). Structure first, then meaning."""
    priv = r.read_octets()
    pc = None
    params = r.enter_optional(der.ctx(0))
    if params is not None:
        pc = params.read_oid()
        params.done()
    pub_bytes = None
    pub = r.enter_optional(der.ctx(1))
    if pub is not None:
        pub_bytes = pub.read_bits()
        pub.done()
    r.done()
    if pc is not None:
        pc = _curve_by_oid(pc)
        if c is not None and pc is not c:
            raise FormatError("ECPrivateKey curve differs from the algorithm's")
        c = pc
    if c is None:
        raise FormatError("ECPrivateKey without a named curve")
    if not 0 < len(priv) <= c.size:
        raise FormatError("private key of %d bytes for %s" % (len(priv), c.name))
    key = from_secret(bytes(priv), c.name)
    if pub_bytes is not None and point_from_bytes(c.name, pub_bytes) != key._point():
        raise CryptoError("public key does not match the private key")
    return key


def from_der(data):
    """A key from SEC 1 ECPrivateKey or PKCS#8 PrivateKeyInfo DER."""
    r = der.top(data)
    version = r.read_int()
    if version == 1:  # ECPrivateKey
        return _sec1_rest(r, None)
    if version != 0:
        raise FormatError("unsupported private key version %d" % version)
    alg = r.enter(der.SEQUENCE)
    if bytes(alg.read_oid()) != OID_EC_PUBLIC_KEY:
        raise FormatError("not an EC private key")
    if alg.peek_tag() != der.OID:
        raise FormatError("EC parameters are not a named curve")
    c = _curve_by_oid(alg.read_oid())
    alg.done()
    inner = der.top(r.read_octets())
    if r.peek_tag() == der.ctx(0):  # attributes
        r.skip()
    r.done()
    if inner.read_int() != 1:
        raise FormatError("ECPrivateKey version is not 1")
    return _sec1_rest(inner, c)


def verify(curve, point, digest, sig_der):
    """True when sig_der is a valid DER ECDSA signature of digest by the public
    key point (SEC 1 bytes) on curve; False otherwise, including for a
    malformed signature. Raises FormatError/CryptoError for a bad curve name or
    point. The digest is truncated to the curve's order size (FIPS 186-4)."""
    c = _curve(curve)
    qx, qy = point_from_bytes(curve, point)
    n = c.n
    try:
        rs = der.top(sig_der)
        r = rs.read_int()
        s = rs.read_int()
        rs.done()
    except DERError:
        return False
    if not (0 < r < n and 0 < s < n):
        return False
    e = _bits2int(bytes(digest), c.qlen)
    w = _inv(s, n)
    u1 = e * w % n
    P = _mul(c, r * w % n, qx, qy)
    if u1:
        P = _jadd(c.p, _comb(c, u1), P)
    X, Y, Z = P
    if not Z:
        return False
    p = c.p
    zz = Z * Z % p
    if X == r * zz % p:
        return True
    return r + n < p and X == (r + n) * zz % p
