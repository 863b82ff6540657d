"""ECDSA on NIST P-256 and P-384 in pure Python (FIPS 186-4, SEC 1, RFC 6979).

API
    ``generate(curve="P-256")``, ``from_secret(secret, curve="P-256")`` (int or
    big-endian bytes), ``from_der(der)`` return an ``EcKey``: ``.curve``,
    ``.secret``, ``sign(data)``, ``sign_digest(digest)``, ``public_point()``
    (04 X Y), ``public_key_der()`` (SubjectPublicKeyInfo), ``algorithm_der()``
    (ecdsa-with-SHA256/384, no parameters), ``to_der()`` (PKCS#8),
    ``to_sec1()`` (ECPrivateKey with curve and public key). Module functions:
    ``verify(curve, point, digest, sig_der)`` -> bool,
    ``point_from_bytes(curve, data)`` -> (x, y).

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
    Jacobian coordinates with the a = -3 formulas; one loop (``_ladder``,
    doubling and mixed addition written out) serves signing and
    verification. Inverses by the extended Euclidean algorithm (``_inv``),
    several times faster than Fermat's x**(m-2) in Python; its steps depend
    on the value, so a secret value is inverted blinded: 1/x = f/(x*f) with
    a secret factor f (``_binv``). ``pow(x, -1, m)`` (0 on MicroPython) and
    ``int.bit_length`` (missing there) are not used.

    On MicroPython on an ARM Thumb core (RP2040...) P-256's loop is
    tinyest.ec_thumb's: the same formulas in the same order, the field
    arithmetic in assembly, about six times faster; ``_loop`` picks it at the
    first P-256 operation where it loads, and ``_ladder`` everywhere else.

    Secret scalars (signing nonces, public key derivation) go through a
    fixed-base comb. The scalar k is made odd (k, or n - k with every digit's
    sign inverted afterwards, chosen arithmetically), then recoded into signed
    odd digits of w bits: each digit is one of +-1, +-3, ..., +-(2**w - 1),
    never zero, so every digit costs exactly one table lookup, one negation
    done both ways (the sign picks the result) and one mixed addition, and
    (groups - 1) * w doublings separate the groups of digits. Row t of the
    table holds the odd multiples of 2**(w*groups*t)*G. Shapes (w, groups),
    the same on every runtime: P-256 (4, 8), 8 rows, 64 additions and 28
    doublings; P-384 (4, 48), 2 rows, 96 additions and 188 doublings.

    P-256's table is a constant: row 0 in ``tinyest/ec_p256.py``, rows 1 to 7
    in ``tinyest/ec_p256c.py``, which verification never imports. A frozen
    firmware keeps them in flash, and a fresh process signs without building
    anything.
    P-384's parameters and the table builder are in ``tinyest.ec_p384``,
    imported when P-384 is first named (``ec._P384`` too, through the
    module ``__getattr__``): its two rows are built at first use (one set of
    odd multiples, 192 doublings, another set), which costs less than a
    signature, and cached. ``from_der`` is ``tinyest.ec_der``'s, served by
    the same ``__getattr__``: signing and verifying never load it.

    Verification handles public data only and may branch on it: u1*G + u2*Q
    in one doubling chain, with interleaved width-w NAFs: u1 over row 0 of
    the table (for P-256 it holds 16 odd multiples of G: width 6, as fast as
    32 of them and width 7 on MicroPython), u2 over 1Q, 3Q, ..., 15Q (width
    5), built per call without an inversion (on an isomorphic curve) and
    normalised with one (``_multiples``, which keeps its points in bytes). The x-coordinate is compared
    without an inversion (X == r*Z**2, or (r + n)*Z**2 when r + n < p).

Side-channel stance
    For a secret scalar the sequence of field operations does not depend on
    its bits: no digit is skipped and every addition is done. The two
    inverses of a signature (of Z**2 mod p, for r, and of the nonce mod n)
    and the one of a public key derivation run Euclid on blinded values x*f,
    f from HMAC-SHA256 keyed with the nonce (or the private key): its
    branches follow x*f, which is independent-looking of x to anyone without
    f, not x itself. What is not protected: Python integers are not
    constant-time (multiplication, reduction and allocation sizes follow the
    values); the table index is secret, so the memory access pattern is
    visible to a cache observer; and the addition keeps a branch for its
    exceptional cases (adding a point to itself or to its negation,
    infinity), which the comb reaches only for a negligible fraction of
    scalars (about 2**-240; the tests construct such scalars on purpose).
    The RFC 6979 nonce is deterministic, so no random number generator is
    trusted at signing time. This resists timing measured over a network
    reasonably well; it does not resist local power, EM or cache analysis.
    Use a secure element where that matters.

Memory and speed (bench/bench_sign.py prints current figures)
    P-256's table is 4.5 KiB of bytes constants: row 0, 1 KiB, all that
    verification loads, and 7 rows of 512 bytes (held in the heap only when
    the .mpy is loaded from a file system, as after mip install). P-384's is built at first use: 2 rows of 768 bytes.
    Emulated RP2040 (MicroPython 1.28, 125 MHz, .mpy from port_micropython/
    build.py --march armv6m, the device path imported): P-256 first sign of a
    boot 137 ms, warm sign 81 ms, verify 177 ms through tinyest.ec_thumb; with
    Python's integers alone (no Thumb code) warm sign 235 ms, verify 711 ms. P-384
    there: first sign 3.4 s, warm 2.6 s (mostly the pure SHA-384 of RFC
    6979), verify 1.9 s. Smallest heap (bench/bench_ec_heap.py: the 32-bit
    ESP32 model, .mpy, this module's imports only) from which P-256 works:
    sign 31.5 KiB, verify 27 KiB, both in one process 33 KiB.
"""

import os

from tinyest import der, hashes, runtime
from tinyest.errors import CryptoError, DERError, FormatError

OID_EC_PUBLIC_KEY = b"\x2a\x86\x48\xce\x3d\x02\x01"  # 1.2.840.10045.2.1


class _Curve:
    """Domain parameters of a short Weierstrass curve with a = -3, and the
    shape of its comb: digits of w bits in groups of ``groups``, the table
    read from the modules ``tinyest.ec_p256`` and ``tinyest.ec_p256c`` when
    ``const`` (else built)."""

    def __init__(self, name, p, b, n, gx, gy, size, oid, sig_oid, hash_name, w, groups, const):
        self.name = name
        self.p = p
        self.b = b
        self.n = n
        self.gx = gx
        self.gy = gy
        self.size = size  # bytes of p and n (both curves fill them: 8 * size bits)
        self.oid = oid
        self.sig_oid = sig_oid
        self.hash_name = hash_name
        self.w = w  # bits per comb digit, 2 <= w <= 7
        self.groups = groups  # w * (groups - 1) doublings per multiplication
        self.const = const
        L = (8 * size + w - 1) // w
        self.digits = (L + groups - 1) // groups * groups
        self.tab = None

    def table(self, full=True):
        """The comb table: a tuple of rows (bytes), see tinyest.ec_p384.build_table; for P-256
        only its row 0 (tinyest.ec_p256, all that verification reads) unless
        full (the other rows: tinyest.ec_p256c)."""
        t = self.tab
        if t is None or full and len(t) == 1:
            if self.const:
                from tinyest.ec_p256 import G

                t = (G,)
                if full:
                    from tinyest.ec_p256c import ROWS

                    t += ROWS
            else:
                from tinyest.ec_p384 import build_table

                t = build_table(self)
            self.tab = t
        return t


_P256 = _Curve(
    "P-256",
    0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    32,
    b"\x2a\x86\x48\xce\x3d\x03\x01\x07",  # 1.2.840.10045.3.1.7
    b"\x2a\x86\x48\xce\x3d\x04\x03\x02",  # ecdsa-with-SHA256 1.2.840.10045.4.3.2
    "sha256", 4, 8, True,
)
_CURVES = [_P256]  # and P-384 (tinyest.ec_p384) once named


def _curve(name, oid=None):
    """The curve of a name ("P-256", "P-384"), or of a DER OID when oid is given."""
    for c in _CURVES:
        if name == c.name if oid is None else bytes(oid) == c.oid:
            return c
    if len(_CURVES) == 1:
        from tinyest.ec_p384 import P384

        _CURVES.append(P384)
        return _curve(name, oid)
    raise FormatError("unsupported curve %s" % (name if oid is None else der.oid_str(oid)))


def __getattr__(name):
    # _P384: P-384's domain (tinyest.ec_p384, imported then); from_der:
    # tinyest.ec_der's, a private key reader that signing and verifying never need
    if name == "_P384":
        return _curve("P-384")
    if name == "from_der":
        from tinyest.ec_der import from_der

        return from_der
    raise AttributeError(name)


# ---------------------------------------------------------------- field helpers


def _inv(x, m):
    """1/x mod a prime m by the extended Euclidean algorithm; 0 when m divides
    x. Its steps depend on x: x must be public, or blinded (_binv)."""
    a, b = x % m, m
    u, v = 1, 0
    while a:
        q, r = divmod(b, a)
        b, a = a, r
        u, v = v - q * u, u
    return v % m


def _binv(x, m, key, tag):
    """1/x mod m through the blinded value x*f, f a secret factor in [1, m)
    from HMAC-SHA256 of tag under key (a secret)."""
    f = int.from_bytes(hashes.hmac("sha256", key, tag), "big") % m or 1
    return _inv(x * f, m) * f % m


# ---------------------------------------------------------------- point arithmetic
# Points are Jacobian (X, Y, Z) with x = X/Z^2, y = Y/Z^3; Z == 0 is infinity.
# Coordinates are kept reduced to [0, p).


def _dbl(p, X, Y, Z):
    """2*(X, Y, Z), dbl-2001-b for a = -3; infinity stays infinity. (The
    order of the statements here and in _madd was measured: on MicroPython
    other orders of the same operations ran up to a third slower.)"""
    delta = Z * Z % p
    gamma = Y * Y % p
    beta = X * gamma % p
    alpha = 3 * (X - delta) * (X + delta) % p
    Z = 2 * Y * Z % p
    X = (alpha * alpha - 8 * beta) % p
    Y = (alpha * (4 * beta - X) - 8 * gamma * gamma) % p
    return X, Y, Z


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
    Z = Z * h % p
    hh = h * h % p
    hhh = h * hh % p
    v = X * hh % p
    X = (r * r - hhh - v - v) % p
    Y = (r * (v - X) - Y * hhh) % p
    return X, Y, Z


def _multiples(p, s, x, y, count, tail=0):
    """Affine 1P, 3P, ..., (2*count-1)P of the affine point P, and, when tail
    > 0, (2**tail)*P after them (the next comb base), as one bytearray: x then
    y of each, s big-endian bytes. One inversion, shared by Montgomery's trick;
    the points are public. Their additions of D = 2P = (X, Y, Z) run on the
    isomorphic curve where D is affine (x*Z**2, y*Z**3), which mixed addition
    does not tell apart (its formula uses neither a nor b); a point (a, b, c)
    there is (a, b, c*Z). Jacobian coordinates wait in bytes, not in lists
    of integers: about a fifth of the heap."""
    e = 2 * s
    m = count + (tail > 0)
    out = bytearray(m * e)
    zs = bytearray(m * s)  # per point: its Z on the isomorphic curve
    pr = bytearray(m * s)  # and the product of the Zs before it (two halves: a
    # tight heap after other work more often has room for 256 bytes than 512)
    X, Y, Z = _dbl(p, x, y, 1)
    zz = Z * Z % p
    a, b, c = x * zz % p, y * zz % p * Z % p, 1
    acc = 1
    for i in range(m):
        if i == count:
            a, b, c = x, y, 1
            for _ in range(tail):
                a, b, c = _dbl(p, a, b, c)
            a, b = a * zz % p, b * zz % p * Z % p  # (a, b, c) on the isomorphic curve
        elif i:
            a, b, c = _madd(p, a, b, c, X, Y)
        o = i * e
        out[o:o + s] = a.to_bytes(s, "big")
        out[o + s:o + e] = b.to_bytes(s, "big")
        zs[i * s:i * s + s] = c.to_bytes(s, "big")
        pr[i * s:i * s + s] = acc.to_bytes(s, "big")
        acc = acc * c % p
    acc = _inv(acc * Z % p, p)  # 1 / (Z * the product of the cs): their Zs on the curve are c*Z
    for o in range(m * e - e, -1, -e):
        i = o >> 1
        zi = acc * int.from_bytes(pr[i:i + s], "big") % p
        acc = acc * int.from_bytes(zs[i:i + s], "big") % p
        zz = zi * zi % p
        out[o:o + s] = (int.from_bytes(out[o:o + s], "big") * zz % p).to_bytes(s, "big")
        out[o + s:o + e] = (int.from_bytes(out[o + s:o + e], "big") * zz % p * zi % p).to_bytes(s, "big")
    return out


def _ladder(c, rows, digs, cols, dbls):
    """The loop of _comb and _muladd: for j = cols - 1, ..., 0, dbls doublings
    (none at infinity), then for each t the digit code d = digs[t][j]: 0 adds
    nothing, d > 0 adds point (d - 1) // 2 of rows[t], negated when d is even.
    _dbl and _madd inlined; _madd itself takes the exceptional cases."""
    # Its garbage (big integers) is collected when memory runs out, not every
    # few KiB as a device step asks (runtime.gc_every): that would double its time.
    was = runtime.gc_every(-1)
    try:
        p = c.p
        s = c.size
        e = 2 * s
        jobs = [(memoryview(row), dig) for row, dig in zip(rows, digs)]  # slices without copies
        dr = range(dbls)
        X, Y, Z = 1, 1, 0
        for j in range(cols - 1, -1, -1):
            if Z:
                for _ in dr:
                    delta = Z * Z % p
                    gamma = Y * Y % p
                    beta = X * gamma % p
                    alpha = 3 * (X - delta) * (X + delta) % p
                    Z = 2 * Y * Z % p
                    X = (alpha * alpha - 8 * beta) % p
                    Y = (alpha * (4 * beta - X) - 8 * gamma * gamma) % p
            for row, dig in jobs:
                d = dig[j]
                if d:
                    o = (d - 1) // 2 * e
                    x2 = int.from_bytes(row[o:o + s], "big")
                    y2 = int.from_bytes(row[o + s:o + e], "big")
                    y2 = (p - y2, y2)[d & 1]  # both computed: no branch on the sign
                    zz = Z * Z % p
                    h = x2 * zz % p - X
                    if not h or not Z:  # doubling, infinity: rare, or the first addition
                        X, Y, Z = _madd(p, X, Y, Z, x2, y2)
                        continue
                    r = y2 * zz % p * Z % p - Y
                    Z = Z * h % p
                    zz = h * h % p
                    v = X * zz % p
                    h = h * zz % p
                    X = (r * r - h - v - v) % p
                    Y = (r * (v - X) - Y * h) % p
        return X, Y, Z
    finally:
        runtime.gc_every(was)


_fast = 0  # tinyest.ec_thumb's loop; None where it does not load; 0: not tried yet


def _loop(c):
    """The loop for curve c: tinyest.ec_thumb's for P-256 where it loads (an
    ARM Thumb core under MicroPython), else _ladder."""
    global _fast
    if _fast == 0:
        try:
            from tinyest import ec_thumb

            _fast = ec_thumb.ladder
        except (ImportError, SyntaxError, ValueError):  # CPython; another core; a .mpy for another
            _fast = None
    return _fast if _fast and c.const else _ladder


def _digits(k, n, w, L):
    """Signed odd recoding of 1 <= k < n into L digit codes of _ladder.

    When k is even it is replaced by n - k (odd) and every digit's sign is
    inverted. For odd k, with b_i the bits w*i+1 .. w*i+w of k >> 1 and the
    top bit of b_(L-1) set, k = sum (2*b_i - 2**w + 1) * 2**(w*i): no digit is
    zero, so each costs one addition. Needs k < 2**(w*L). A code is |digit|,
    plus 1 for a negative digit; computed without branching on k.
    """
    flip = 1 - (k & 1)
    k = (k + flip * (n - k - k)) >> 1
    m = (1 << w) - 1
    lo = m >> 1
    dig = bytearray(L)
    for i in range(L):
        b = k & m
        k >>= w
        if i == L - 1:
            b |= lo + 1
        neg = 1 - (b >> (w - 1))
        dig[i] = 2 * ((b ^ (neg * lo)) & lo) + 1 + (neg ^ flip)
    return dig


def _comb(c, k):
    """Jacobian k*G for 1 <= k < n, with an operation sequence that does not
    depend on k: digit t*groups + j of k comes from comb row t in column j."""
    S = c.groups
    dig = _digits(k, c.n, c.w, c.digits)
    rows = c.table()
    return _loop(c)(c, rows, [dig[S * t:S * t + S] for t in range(len(rows))], S, c.w)


def _naf(k, w, L):
    """Width-w NAF of 0 <= k < 2**(L-1), least significant digit first, as
    codes of _ladder: |d| for d > 0, |d| + 1 for d < 0, 0 for d = 0. Walks
    the bytes of k with small integers (no big-integer shift per digit)."""
    out = bytearray(L)
    b = k.to_bytes(L // 8 + 3, "little")
    m = (1 << w) - 1
    i = c = 0  # c: the carry into bit i
    while i < L:
        v = ((b[i >> 3] | b[(i >> 3) + 1] << 8) >> (i & 7) & m) + c
        if v & 1:
            if v >> (w - 1):  # a negative digit v - 2**w; carry 1 past the window
                out[i] = m + 2 - v
                c = 1
            else:
                out[i] = v
                c = 0
            i += w
        else:  # an even window: bit i is the carry, which moves on
            i += 1
    return out


def _muladd(c, u1, u2, qx, qy):
    """Jacobian u1*G + u2*Q for 0 <= u1, u2 < n and an affine point Q, by
    interleaved NAFs: width 5 for Q, and for G as wide as comb row 0 allows
    (2**(w-2) points). Public scalars only: zero digits are skipped."""
    p = c.p
    s = c.size
    g = c.table(False)[0]
    w = 2
    while 2 * s << (w - 1) <= len(g):
        w += 1
    L = 8 * s + 1
    return _loop(c)(c, (g, _multiples(p, s, qx, qy, 8)), (_naf(u1, w, L), _naf(u2, 5, L)), L, 1)


# ---------------------------------------------------------------- encodings


def point_from_bytes(curve, data):
    """(x, y) of an uncompressed (04 X Y) or compressed (02/03 X) SEC 1 point
    on the named curve. FormatError for a wrong length or prefix, CryptoError
    for a point not on the curve (or the point at infinity)."""
    c = _curve(curve)
    p = c.p
    size = c.size
    data = bytes(data)
    n = len(data)
    tag = data[0] if n else -1
    if tag == 0:
        raise CryptoError("point at infinity")
    if n != (1 + 2 * size if tag == 4 else 1 + size if tag in (2, 3) else -1):
        raise FormatError("bad SEC 1 point (%d bytes)" % n)
    x = int.from_bytes(data[1:1 + size], "big")
    v = (x * x * x - 3 * x + c.b) % p
    if tag == 4:
        y = int.from_bytes(data[1 + size:], "big")
    else:
        y = pow(v, (p + 1) // 4, p)  # p = 3 (mod 4) on both curves
        if (y ^ tag) & 1:
            y = p - y
    if x >= p or y >= p or (y * y - v) % p:
        raise CryptoError("point not on " + c.name)
    return x, y


def _nonces(c, x, h1, hname):
    """RFC 6979 3.2 candidate nonces k (HMAC-DRBG with the named hash).
    bits2int (RFC 6979 2.3.2, FIPS 186-4 6.4: the leftmost 8 * size bits,
    the bit length of n on both curves) is int.from_bytes(b[:size]), here
    and in sign_digest and verify."""
    n = c.n
    size = c.size
    hmac = hashes.hmac
    xh = x.to_bytes(size, "big") + (int.from_bytes(h1[:size], "big") % n).to_bytes(size, "big")
    hlen = hashes.digest_size(hname)
    V = b"\x01" * hlen
    K = bytes(hlen)
    for b in (b"\x00", b"\x01"):
        K = hmac(hname, K, V + b + xh)
        V = hmac(hname, K, V)
    while True:
        T = b""
        while len(T) < size:
            V = hmac(hname, K, V)
            T += V
        k = int.from_bytes(T[:size], "big")
        if 0 < k < n:
            yield k
        K = hmac(hname, K, V + b"\x00")
        V = hmac(hname, K, V)


# ---------------------------------------------------------------- keys


class EcKey:
    """An ECDSA private key; also a signer (public_key_der, algorithm_der, sign)."""

    def __init__(self, c, secret):
        if not 0 < secret < c.n:
            raise CryptoError("secret out of range for " + c.name)
        self._c = c
        self.curve = c.name
        self.secret = secret
        self._pub = None

    def public_point(self):
        """The public key as an uncompressed SEC 1 point (04 X Y), computed once."""
        if self._pub is None:
            c = self._c
            p = c.p
            s = c.size
            X, Y, Z = _comb(c, self.secret)
            z = _binv(Z, p, self.secret.to_bytes(s, "big"), b"\x03")
            zz = z * z % p
            self._pub = b"\x04" + (X * zz % p).to_bytes(s, "big") + (Y * zz % p * z % p).to_bytes(s, "big")
        return self._pub

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
        if len(digest) not in (32, 48, 64):
            raise CryptoError("digest of %d bytes" % len(digest))
        hname = "sha%d" % (8 * len(digest))  # sha256, sha384, sha512
        c = self._c
        p = c.p
        n = c.n
        d = self.secret
        digest = bytes(digest)
        e = int.from_bytes(digest[:c.size], "big")
        for k in _nonces(c, d, digest, hname):
            X, Y, Z = _comb(c, k)
            kb = k.to_bytes(c.size, "big")
            r = X * _binv(Z * Z, p, kb, b"\x01") % p % n  # x = X / Z**2
            if not r:
                continue
            s = _binv(k, n, kb, b"\x02") * (e + r * d) % n
            if s:
                return der.seq(der.integer(r), der.integer(s))

    def to_sec1(self, params=True):
        """SEC 1 ECPrivateKey DER with the public key, and the named curve
        unless params is false (inside PKCS#8)."""
        c = self._c
        return der.seq(
            der.integer(1),
            der.octet_string(self.secret.to_bytes(c.size, "big")),
            der.explicit(0, der.oid(c.oid)) if params else b"",
            der.explicit(1, der.bit_string(self.public_point())),
        )

    def to_der(self):
        """PKCS#8 PrivateKeyInfo DER (the inner ECPrivateKey without parameters)."""
        c = self._c
        return der.seq(
            der.integer(0),
            der.seq(der.oid(OID_EC_PUBLIC_KEY), der.oid(c.oid)),
            der.octet_string(self.to_sec1(False)),
        )


def from_secret(secret, curve="P-256"):
    """A key from its secret: an int or big-endian bytes, 1 <= secret < n."""
    c = _curve(curve)
    if not isinstance(secret, int):
        secret = bytes(secret)
        if not 0 < len(secret) <= c.size:
            raise CryptoError("secret of %d bytes for %s" % (len(secret), c.name))
        secret = int.from_bytes(secret, "big")
    return EcKey(c, secret)


def generate(curve="P-256"):
    """A new key with a secret from os.urandom, uniform in [1, n-1]."""
    c = _curve(curve)
    for _ in range(64):
        d = int.from_bytes(os.urandom(c.size), "big")
        if 0 < d < c.n:
            return EcKey(c, d)
    raise CryptoError("random source keeps failing")


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
    e = int.from_bytes(bytes(digest[:c.size]), "big")
    w = _inv(s, n)
    X, Y, Z = _muladd(c, e * w % n, r * w % n, qx, qy)
    p = c.p
    zz = Z * Z % p
    return Z != 0 and (X == r * zz % p or r + n < p and X == (r + n) * zz % p)
