"""RSA signatures: RSASSA-PKCS1-v1_5 (RFC 8017 section 8.2) with SHA-256/384/512.

Supported: two-prime keys of ``MIN_BITS`` to ``MAX_BITS`` modulus bits (2048 to
4096; anything smaller or larger is refused for signing and for verification),
public exponents odd, at least 3 and below 2**256. Private keys come
provisioned, as PKCS#1 RSAPrivateKey (version 0; multi-prime refused) or PKCS#8
with rsaEncryption (NULL parameters); this module does not generate RSA keys.
The key's components are checked for consistency when it is loaded
(n = p*q, d mod (p-1) = dp, e*dp = 1 mod (p-1), the same for q, q*qinv = 1 mod p);
primality is not tested.

Verification rebuilds the whole EMSA-PKCS1-v1_5 encoding of the expected digest
and compares it with ``s**e mod n`` (RFC 8017 8.2.2 step 3 and 4): no padding is
parsed, so no lenient parse can be fooled. The signature must be exactly as long
as the modulus, and the DigestInfo must carry the NULL parameters.

Signing uses the CRT, blinds the message with a random ``r**e`` (``os.urandom``)
before exponentiation, and verifies the result with the public exponent before
returning it (a fault in either half of the CRT would otherwise reveal a
prime factor).

Side-channel stance: ``pow`` on Python integers is not constant time; the
exponent bits of dp and dq shape its timing and power trace. Base blinding
removes the link between the chosen message and the intermediate values, not
the dependence on the exponent. Secrets live in ordinary heap objects that are
not wiped. Use this where an attacker cannot take fine-grained timing or power
measurements of the device; use a secure element where they can.
"""

import os

from tinyest import der, hashes
from tinyest.errors import CryptoError, FormatError

MIN_BITS = 2048
MAX_BITS = 4096

OID_RSA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"  # 1.2.840.113549.1.1.1 rsaEncryption
_ALG_RSA = b"\x30\x0d\x06\x09" + OID_RSA + b"\x05\x00"

# hash name -> (signature OID sha*WithRSAEncryption, DigestInfo prefix with NULL params)
_HASHES = {
    "sha256": (
        b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b",
        b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20",
    ),
    "sha384": (
        b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c",
        b"\x30\x41\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x02\x05\x00\x04\x30",
    ),
    "sha512": (
        b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d",
        b"\x30\x51\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x03\x05\x00\x04\x40",
    ),
}


def bit_length(x):
    """Bits of a non-negative int (MicroPython has no int.bit_length)."""
    if x <= 0:
        return 0
    s = "%x" % x
    top = int(s[0], 16)
    n = 4 * (len(s) - 1)
    while top:
        n += 1
        top >>= 1
    return n


def _byte_length(x):
    return (bit_length(x) + 7) // 8


def _hash_info(name):
    info = _HASHES.get(name)
    if info is None:
        raise FormatError("unsupported RSA signature hash %r" % (name,))
    return info


def check_public(n, e):
    """Raise FormatError unless (n, e) is a public key this module accepts."""
    bits = bit_length(n)
    if bits < MIN_BITS or bits > MAX_BITS:
        raise FormatError("RSA modulus of %d bits (supported: %d to %d)" % (bits, MIN_BITS, MAX_BITS))
    if not n & 1:
        raise FormatError("even RSA modulus")
    if e < 3 or not e & 1 or e >> 256:
        raise FormatError("unsupported RSA public exponent")
    return bits


def encode(hash_name, digest, k):
    """EMSA-PKCS1-v1_5 encoding (RFC 8017 9.2) of a digest, k bytes long."""
    prefix = _hash_info(hash_name)[1]
    t = prefix + bytes(digest)
    if len(digest) != prefix[len(prefix) - 1] or k < len(t) + 11:
        raise CryptoError("digest or modulus too short for EMSA-PKCS1-v1_5")
    return b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


def verify(n, e, hash_name, digest, sig):
    """True if sig is a PKCS#1 v1.5 signature of the digest (made with hash_name,
    "sha256", "sha384" or "sha512") under the public key (n, e).

    FormatError for a key outside the supported sizes or an unknown hash."""
    check_public(n, e)
    prefix = _hash_info(hash_name)[1]
    if len(digest) != prefix[len(prefix) - 1]:
        return False
    k = _byte_length(n)
    sig = bytes(sig)
    if len(sig) != k:
        return False
    s = int.from_bytes(sig, "big")
    if s >= n:
        return False
    return pow(s, e, n).to_bytes(k, "big") == encode(hash_name, digest, k)


def _inverse(a, m):
    # a**-1 mod m by the extended Euclidean algorithm, 0 if there is none.
    r0, r1 = m, a % m
    t0, t1 = 0, 1
    while r1:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        t0, t1 = t1, t0 - q * t1
    if r0 != 1:
        return 0
    return t0 % m


class RsaKey:
    """An RSA private key with the tinyest signer interface.

    ``hash_name`` ("sha256", "sha384" or "sha512") selects the signature
    algorithm of ``sign`` and ``algorithm_der``."""

    kind = "rsa"

    def __init__(self, n, e, d, p, q, dp, dq, qinv, hash_name="sha256"):
        _hash_info(hash_name)
        self.bits = check_public(n, e)
        for x in (d, p, q, dp, dq, qinv):
            if x <= 0 or bit_length(x) > self.bits:
                raise FormatError("RSA private key component out of range")
        if (
            p < 3 or q < 3 or p * q != n or d >= n
            or dp >= p or dq >= q or qinv >= p
            or d % (p - 1) != dp or d % (q - 1) != dq
            or e * dp % (p - 1) != 1 or e * dq % (q - 1) != 1
            or q * qinv % p != 1
        ):
            raise FormatError("inconsistent RSA private key")
        self.n = n
        self.e = e
        self._d = d
        self._p = p
        self._q = q
        self._dp = dp
        self._dq = dq
        self._qinv = qinv
        self.hash_name = hash_name
        self._k = _byte_length(n)

    def public_numbers(self):
        return self.n, self.e

    def public_key_der(self):
        """SubjectPublicKeyInfo with rsaEncryption (NULL parameters)."""
        return der.seq(_ALG_RSA, der.bit_string(der.seq(der.integer(self.n), der.integer(self.e))))

    def algorithm_der(self):
        """sha256/384/512WithRSAEncryption with NULL parameters (RFC 4055)."""
        return der.seq(der.oid(_hash_info(self.hash_name)[0]), der.null())

    def sign(self, data):
        """The k-byte PKCS#1 v1.5 signature of data (hashed with hash_name)."""
        h = getattr(hashes, self.hash_name)(bytes(data))
        m = int.from_bytes(encode(self.hash_name, h, self._k), "big")
        return self._private(m).to_bytes(self._k, "big")

    def _private(self, m):
        n, e, p, q = self.n, self.e, self._p, self._q
        for _ in range(8):
            r = int.from_bytes(os.urandom(self._k), "big") % n
            ri = _inverse(r, n) if r > 1 else 0
            if ri:
                break
        else:
            raise CryptoError("random source keeps failing")
        c = m * pow(r, e, n) % n
        s1 = pow(c % p, self._dp, p)
        s2 = pow(c % q, self._dq, q)
        s = (s2 + (s1 - s2) * self._qinv % p * q) * ri % n
        if pow(s, e, n) != m:
            raise CryptoError("RSA signature failed its check (fault or bad key)")
        return s

    def to_pkcs1(self):
        """PKCS#1 RSAPrivateKey DER (RFC 8017 A.1.2), version 0."""
        return der.seq(
            der.integer(0),
            der.integer(self.n), der.integer(self.e), der.integer(self._d),
            der.integer(self._p), der.integer(self._q),
            der.integer(self._dp), der.integer(self._dq), der.integer(self._qinv),
        )

    def to_der(self):
        """PKCS#8 PrivateKeyInfo DER with rsaEncryption."""
        return der.seq(der.integer(0), _ALG_RSA, der.octet_string(self.to_pkcs1()))


def _positive(r):
    x = r.read_int()
    if x <= 0:
        raise FormatError("RSA key component is not positive")
    return x


def from_pkcs1(data, hash_name="sha256"):
    """The key of a PKCS#1 RSAPrivateKey (DER)."""
    r = der.top(data)
    version = r.read_int()
    if version != 0:
        raise FormatError("unsupported RSAPrivateKey version %d (multi-prime?)" % version)
    v = [_positive(r) for _ in range(8)]
    r.done()
    return RsaKey(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], hash_name)


def from_der(data, hash_name="sha256"):
    """The key of a PKCS#1 RSAPrivateKey or a PKCS#8 rsaEncryption key (DER)."""
    r = der.top(data)
    r.read_int()
    if r.peek_tag() == der.INTEGER:
        return from_pkcs1(data, hash_name)
    r = der.top(data)
    version = r.read_int()
    if version not in (0, 1):
        raise FormatError("unsupported PKCS#8 version %d" % version)
    alg = r.read_element(der.SEQUENCE)
    if bytes(alg) != _ALG_RSA:
        raise FormatError("not an rsaEncryption PKCS#8 key (or parameters not NULL)")
    inner = r.read_octets()
    r.optional(der.ctx(0))  # attributes: not used
    public = r.optional(der.ctx(1, False))  # OneAsymmetricKey (version 1) only
    r.done()
    key = from_pkcs1(inner, hash_name)
    if public is not None:
        if version != 1:
            raise FormatError("public key in a version 0 PKCS#8 key")
        if bytes(public) != b"\x00" + der.seq(der.integer(key.n), der.integer(key.e)):
            raise FormatError("PKCS#8 public key does not match the private key")
    return key


def public_from_der(data):
    """(n, e) of a PKCS#1 RSAPublicKey (the contents of an SPKI's BIT STRING)."""
    r = der.top(data)
    n = _positive(r)
    e = _positive(r)
    r.done()
    check_public(n, e)
    return n, e
