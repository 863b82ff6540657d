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

from tinyest import der, texts
from tinyest.errors import FormatError, VerifyError

# OIDs are compared as contents octets, each named where it is.


_error = texts("keys_rare")  # (cls, i, args=()): cls(text i % args)


def _unsupported(what, oid):
    raise _error(FormatError, 0, (what, der.oid_str(oid)))


def _no_params(r, what):
    if not r.empty():
        raise _error(FormatError, 1, what)


def load_private(data):
    """The key object of one private key, DER or PEM (see the module text)."""
    label = None
    if isinstance(data, str) or (len(data) and data[0] != 0x30):
        from tinyest import pem

        blocks = []
        for b in pem.decode_all(data):
            if b[0] != "EC PARAMETERS":
                blocks.append(b)
        if len(blocks) != 1:
            raise _error(FormatError, 2, len(blocks))
        label, data = blocks[0]  # checked against the structure below
    data = bytes(data)
    r = der.top(data)
    if r.peek_tag() == 0x30:
        r.skip()
        if r.peek_tag() == 0x04:  # EncryptedPrivateKeyInfo (RFC 5958 section 3)
            raise _error(FormatError, 3)
        raise _error(FormatError, 4)
    r.read_int()
    tag = r.peek_tag()
    # PKCS#8 (AlgorithmIdentifier), SEC1 (privateKey) or PKCS#1 (modulus) after the version
    form = {0x30: "", 0x04: "EC ", 0x02: "RSA "}.get(tag)
    if form is None:
        raise _error(FormatError, 4)
    form += "PRIVATE KEY"  # its PEM label
    if label not in (None, form):
        raise _error(FormatError, 5, (label, form))
    if tag == 0x30:  # PKCS#8: by its algorithm
        oid = bytes(r.enter(0x30).read_oid())
        if oid == b"\x2b\x65\x70":  # id-Ed25519
            from tinyest import ed25519

            return ed25519.from_der(data)
        if oid == b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01":  # rsaEncryption
            tag = 0x02
        elif oid != b"\x2a\x86\x48\xce\x3d\x02\x01":  # id-ecPublicKey
            _unsupported("key algorithm", oid)
    if tag == 0x02:
        from tinyest import rsa

        return rsa.from_der(data)
    from tinyest import ec

    return ec.from_der(data)


def parse_spki(spki_der):
    """(kind, param, key) of a SubjectPublicKeyInfo (see the module text)."""
    r = der.top(spki_der)
    alg = r.enter(0x30)
    oid = bytes(alg.read_oid())
    key = r.read_bits()
    r.done()
    if oid == b"\x2a\x86\x48\xce\x3d\x02\x01":  # id-ecPublicKey
        if alg.peek_tag() != 0x06:
            raise _error(FormatError, 6)
        curve = bytes(alg.read_oid())
        _no_params(alg, "EC key")
        if curve == b"\x2a\x86\x48\xce\x3d\x03\x01\x07":  # 1.2.840.10045.3.1.7
            name = "P-256"
        elif curve == b"\x2b\x81\x04\x00\x22":  # 1.3.132.0.34
            name = "P-384"
        else:
            _unsupported("curve", curve)
        if key[:1] != b"\x04":
            raise _error(FormatError, 7, name)
        from tinyest import ec

        ec.point_from_bytes(name, key)  # its length, on the curve
        return "ec", name, bytes(key)
    if oid == b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01":  # rsaEncryption
        if alg.peek_tag() != 0x05:
            raise _error(FormatError, 8)
        alg.read_null()
        _no_params(alg, "RSA key")
        from tinyest import rsa

        n, e = rsa.public_from_der(key)
        return "rsa", rsa.bit_length(n), (n, e)
    if oid == b"\x2b\x65\x70":  # id-Ed25519
        _no_params(alg, "Ed25519 key")
        if len(key) != 32:
            raise _error(FormatError, 9, len(key))
        from tinyest import ed25519

        ed25519.check_public(key)
        return "ed25519", None, bytes(key)
    _unsupported("key algorithm", oid)


def verify(spki_der, algorithm_der, data, signature):
    """None if signature is valid for data under the SPKI's key; VerifyError if
    not; FormatError for an unsupported or mismatched algorithm."""
    kind, param, key = parse_spki(spki_der)
    r = der.top(algorithm_der)
    oid = bytes(r.read_oid())
    data = bytes(data)
    signature = bytes(signature)
    i = oid[-1]
    arc = oid[:-1]
    if arc == b"\x2a\x86\x48\xce\x3d\x04\x03" and 2 <= i <= 4:  # ecdsa-with-SHA256/384/512
        want, name = "ec", "ECDSA"
        i -= 2
    elif arc == b"\x2a\x86\x48\x86\xf7\x0d\x01\x01" and 11 <= i <= 13:  # sha256/384/512WithRSAEncryption
        want, name = "rsa", "RSA"
        i -= 11
        if r.peek_tag() == 0x05:  # NULL or absent (RFC 4055)
            r.read_null()
    elif oid == b"\x2b\x65\x70":  # Ed25519
        want, name = "ed25519", "Ed25519"
    else:
        _unsupported("signature algorithm", oid)
    _no_params(r, name)  # e.g. "ECDSA with params"
    if kind != want:
        raise _error(FormatError, 10, (name, kind))
    if kind == "ed25519":
        from tinyest import ed25519

        ok = ed25519.verify(key, data, signature)
    else:
        from tinyest import hashes

        h = "sha%d" % (256 + 128 * i)
        digest = getattr(hashes, h)(data)
        if kind == "ec":
            from tinyest import ec

            ok = ec.verify(param, key, digest, signature)
        else:
            from tinyest import rsa

            ok = rsa.verify(key[0], key[1], h, digest, signature)
    if not ok:
        raise _error(VerifyError, 11, name)
