"""Private keys of tinyest.ec read from DER: ``ec.from_der`` (served from here
by tinyest.ec's module ``__getattr__``, so signing and verifying never load it).

``from_der(data)`` returns an ``ec.EcKey`` from SEC 1 ECPrivateKey (RFC 5915;
the curve named in [0] unless it comes from PKCS#8) or PKCS#8 PrivateKeyInfo
version 0 with id-ecPublicKey and a named curve (attributes [0] skipped). The
private key octets may be shorter than the curve size but never longer; a
public key inside must match the one derived from the secret. DERError for
malformed DER, FormatError for another kind of key, CryptoError for a bad one
(see tinyest.ec).
"""

from tinyest import der
from tinyest.ec import OID_EC_PUBLIC_KEY, EcKey, _curve, point_from_bytes
from tinyest.errors import CryptoError, FormatError


def from_der(data):
    """A key from SEC 1 ECPrivateKey or PKCS#8 PrivateKeyInfo DER. The
    ECPrivateKey is read structure first, then meaning."""
    r = der.top(data)
    c = None  # the curve named by PKCS#8
    v = r.read_int()
    if v == 0:  # PrivateKeyInfo around an ECPrivateKey
        alg = r.enter(der.SEQUENCE)
        if bytes(alg.read_oid()) != OID_EC_PUBLIC_KEY:
            raise FormatError("not an EC private key")
        if alg.peek_tag() != der.OID:
            raise FormatError("EC curve is not named")
        c = _curve(None, alg.read_oid())
        alg.done()
        inner = der.top(r.read_octets())
        if r.peek_tag() == der.ctx(0):  # attributes
            r.skip()
        r.done()
        r = inner
        v = r.read_int()
    if v != 1:
        raise FormatError("EC key version %d" % v)
    priv = r.read_octets()
    pc = r.enter_optional(der.ctx(0))
    if pc is not None:
        alg = pc
        pc = alg.read_oid()
        alg.done()
    pub = r.enter_optional(der.ctx(1))
    if pub is not None:
        alg = pub
        pub = alg.read_bits()
        alg.done()
    r.done()
    if pc is not None:
        pc = _curve(None, pc)
        if c is not None and pc is not c:
            raise FormatError("ECPrivateKey and PKCS#8 curves differ")
        c = pc
    if c is None:
        raise FormatError("EC key names no curve")
    if not 0 < len(priv) <= c.size:
        raise FormatError("private key of %d bytes for %s" % (len(priv), c.name))
    key = EcKey(c, int.from_bytes(bytes(priv), "big"))
    if pub is not None and point_from_bytes(c.name, pub) != point_from_bytes(c.name, key.public_point()):
        raise CryptoError("public key does not match")
    return key
