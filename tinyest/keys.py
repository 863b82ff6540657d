"""Private keys in, public keys and signatures checked, for every key type.

``load_private(data)``
    DER bytes or PEM text/bytes holding one unencrypted private key:
    PKCS#8 PrivateKeyInfo / OneAsymmetricKey ("PRIVATE KEY") with an EC (P-256,
    P-384), rsaEncryption or Ed25519 key, SEC1 ECPrivateKey ("EC PRIVATE KEY",
    an "EC PARAMETERS" block beside it is ignored) or PKCS#1 RSAPrivateKey
    ("RSA PRIVATE KEY"). The PEM label must match the structure. Returns a
    key object with the signer interface (``tinyest.ec``, ``tinyest.rsa`` or
    ``tinyest.ed25519``). Encrypted keys (EncryptedPrivateKeyInfo, legacy
    ``Proc-Type`` PEM) are refused with a FormatError: decrypt them on a host.

``parse_spki(spki_der)``
    ``(kind, param, key)``: ``("ec", "P-256" or "P-384", uncompressed point)``,
    ``("rsa", modulus bits, (n, e))`` or ``("ed25519", None, 32 bytes)``.
    Named curves and uncompressed points only (RFC 5480 2.2); rsaEncryption
    with NULL parameters and a modulus of ``rsa.MIN_BITS`` to ``rsa.MAX_BITS``;
    Ed25519 without parameters. FormatError for anything else; CryptoError for
    an EC point off its curve or 32 bytes that are not an Ed25519 point.

``verify(spki_der, algorithm_der, data, signature)``
    Returns None when ``signature`` (the BIT STRING contents) is a valid
    signature of ``data`` under the key; raises VerifyError when it is not (a
    malformed signature included), FormatError when the algorithm is
    unsupported or does not fit the key, and what ``parse_spki`` raises.
    Algorithms: ecdsa-with-SHA256/384/512 (parameters absent, RFC 5758) with
    either curve; sha256/384/512WithRSAEncryption (NULL or absent parameters,
    RFC 4055) i.e. PKCS#1 v1.5; Ed25519 (parameters absent, RFC 8410).
    No SHA-1, no MD5, no RSASSA-PSS.

The key type modules (and ``tinyest.pem``, for PEM input) are imported when
first needed, so a device can leave out those it does not use. Only
tinyest.errors classes escape.

Side channels: this module parses and dispatches; the secret arithmetic and
its stance are in tinyest.ec, tinyest.rsa and tinyest.ed25519.
"""

from tinyest import der
from tinyest.errors import DERError, FormatError, VerifyError

OID_EC_PUBLIC_KEY = b"\x2a\x86\x48\xce\x3d\x02\x01"  # 1.2.840.10045.2.1
OID_RSA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"  # 1.2.840.113549.1.1.1
OID_ED25519 = b"\x2b\x65\x70"  # 1.3.101.112
OID_P256 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"  # 1.2.840.10045.3.1.7
OID_P384 = b"\x2b\x81\x04\x00\x22"  # 1.3.132.0.34

# (OID contents, hash name)
_ECDSA = (
    (b"\x2a\x86\x48\xce\x3d\x04\x03\x02", "sha256"),  # 1.2.840.10045.4.3.2
    (b"\x2a\x86\x48\xce\x3d\x04\x03\x03", "sha384"),
    (b"\x2a\x86\x48\xce\x3d\x04\x03\x04", "sha512"),
)
_RSA_PKCS1 = (
    (b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b", "sha256"),  # 1.2.840.113549.1.1.11
    (b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c", "sha384"),
    (b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d", "sha512"),
)
# (curve OID, name, coordinate bytes)
_CURVES = ((OID_P256, "P-256", 32), (OID_P384, "P-384", 48))

_PKCS8 = "PRIVATE KEY"
_SEC1 = "EC PRIVATE KEY"
_PKCS1 = "RSA PRIVATE KEY"
_ENCRYPTED = "encrypted private keys are not supported: decrypt it first"


def _lookup(table, oid):
    for k, v in table:
        if k == oid:
            return v
    return None


def _oid_text(oid):
    try:
        return der.oid_str(oid)
    except DERError:
        return oid.hex()


def load_private(data):
    """The key object of one private key, DER or PEM (see the module text)."""
    if isinstance(data, str) or (len(data) and data[0] != der.SEQUENCE):
        from tinyest import pem

        blocks = [b for b in pem.decode_all(data) if b[0] != "EC PARAMETERS"]
        if len(blocks) != 1:
            raise FormatError("expected one private key PEM block, found %d" % len(blocks))
        label, body = blocks[0]
        if label == "ENCRYPTED PRIVATE KEY":
            raise FormatError(_ENCRYPTED)
        if label not in (_PKCS8, _SEC1, _PKCS1):
            raise FormatError("not a private key PEM block: " + label)
        return _load_der(body, label)
    return _load_der(bytes(data), None)


def _load_der(body, label):
    r = der.top(body)
    if r.peek_tag() == der.SEQUENCE:
        r.skip()
        if r.peek_tag() == der.OCTET_STRING:  # EncryptedPrivateKeyInfo (RFC 5958 section 3)
            raise FormatError(_ENCRYPTED)
        raise FormatError("not a private key (a public key or a certificate?)")
    r.read_int()
    tag = r.peek_tag()
    if tag == der.SEQUENCE:
        form = _PKCS8
    elif tag == der.OCTET_STRING:
        form = _SEC1
    elif tag == der.INTEGER:
        form = _PKCS1
    else:
        raise FormatError("not a PKCS#8, SEC1 or PKCS#1 private key")
    if label is not None and label != form:
        raise FormatError("PEM label %s on a %s structure" % (label, form))
    if form == _SEC1:
        from tinyest import ec

        return ec.from_der(body)
    if form == _PKCS1:
        from tinyest import rsa

        return rsa.from_pkcs1(body)
    oid = bytes(r.enter(der.SEQUENCE).read_oid())
    if oid == OID_EC_PUBLIC_KEY:
        from tinyest import ec

        return ec.from_der(body)
    if oid == OID_RSA:
        from tinyest import rsa

        return rsa.from_der(body)
    if oid == OID_ED25519:
        from tinyest import ed25519

        return ed25519.from_der(body)
    raise FormatError("unsupported private key algorithm " + _oid_text(oid))


def parse_spki(spki_der):
    """(kind, param, key) of a SubjectPublicKeyInfo (see the module text)."""
    r = der.top(spki_der)
    alg = r.enter(der.SEQUENCE)
    oid = bytes(alg.read_oid())
    key = r.read_bits()
    r.done()
    if oid == OID_EC_PUBLIC_KEY:
        if alg.peek_tag() != der.OID:
            raise FormatError("EC public key without a named curve")
        curve = bytes(alg.read_oid())
        if not alg.empty():
            raise FormatError("trailing EC key parameters")
        for c_oid, name, size in _CURVES:
            if c_oid == curve:
                if len(key) != 1 + 2 * size or key[0] != 4:
                    raise FormatError("EC public key is not an uncompressed %s point" % name)
                from tinyest import ec

                ec.point_from_bytes(name, key)
                return "ec", name, bytes(key)
        raise FormatError("unsupported curve " + _oid_text(curve))
    if oid == OID_RSA:
        if alg.peek_tag() != der.NULL:
            raise FormatError("rsaEncryption parameters are not NULL")
        alg.read_null()
        if not alg.empty():
            raise FormatError("trailing rsaEncryption parameters")
        from tinyest import rsa

        n, e = rsa.public_from_der(key)
        return "rsa", rsa.bit_length(n), (n, e)
    if oid == OID_ED25519:
        if not alg.empty():
            raise FormatError("Ed25519 key with parameters")
        if len(key) != 32:
            raise FormatError("Ed25519 public key of %d bytes" % len(key))
        from tinyest import ed25519

        ed25519.check_public(key)
        return "ed25519", None, bytes(key)
    raise FormatError("unsupported public key algorithm " + _oid_text(oid))


def _digest(name, data):
    from tinyest import hashes

    return getattr(hashes, name)(data)


def verify(spki_der, algorithm_der, data, signature):
    """None if signature is valid for data under the SPKI's key; VerifyError if
    not; FormatError for an unsupported or mismatched algorithm."""
    kind, param, key = parse_spki(spki_der)
    r = der.top(algorithm_der)
    oid = bytes(r.read_oid())
    data = bytes(data)
    signature = bytes(signature)
    h = _lookup(_ECDSA, oid)
    if h is not None:
        if not r.empty():
            raise FormatError("ECDSA AlgorithmIdentifier with parameters")
        if kind != "ec":
            raise FormatError("ECDSA signature with an %s key" % kind)
        from tinyest import ec

        if not ec.verify(param, key, _digest(h, data), signature):
            raise VerifyError("bad ECDSA %s signature" % param)
        return None
    h = _lookup(_RSA_PKCS1, oid)
    if h is not None:
        if not r.empty():
            if r.peek_tag() != der.NULL:
                raise FormatError("RSA signature AlgorithmIdentifier parameters are not NULL")
            r.read_null()
            if not r.empty():
                raise FormatError("trailing RSA signature parameters")
        if kind != "rsa":
            raise FormatError("RSA signature with an %s key" % kind)
        from tinyest import rsa

        if not rsa.verify(key[0], key[1], h, _digest(h, data), signature):
            raise VerifyError("bad RSA %s signature" % h)
        return None
    if oid == OID_ED25519:
        if not r.empty():
            raise FormatError("Ed25519 AlgorithmIdentifier with parameters")
        if kind != "ed25519":
            raise FormatError("Ed25519 signature with an %s key" % kind)
        from tinyest import ed25519

        if not ed25519.verify(key, data, signature):
            raise VerifyError("bad Ed25519 signature")
        return None
    raise FormatError("unsupported signature algorithm " + _oid_text(oid))
