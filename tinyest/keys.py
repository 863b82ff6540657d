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
first needed, so a device can leave out those it does not use; what is not EC
(RSA, Ed25519, PEM) is ``tinyest.keys_rare``'s, loaded with it. Only
tinyest.errors classes escape.

Side channels: this module parses and dispatches; the secret arithmetic and
its stance are in tinyest.ec, tinyest.rsa and tinyest.ed25519.
"""

from tinyest import der, texts
from tinyest.errors import FormatError, VerifyError

# OIDs are compared as contents octets, each named where it is.


_error = texts("keys_rare")  # (cls, i, args=()): cls(text i % args)


def _no_params(r, what):
    if not r.empty():
        raise _error(FormatError, 1, what)


def load_private(data, label=None):
    """The key object of one private key, DER or PEM (see the module text)."""
    if isinstance(data, str) or (len(data) and data[0] != 0x30):
        from tinyest import keys_rare  # PEM: a host's input

        return keys_rare.load_pem(data)
    data = bytes(data)
    r = der.top(data)
    if r.peek_tag() == 0x30:
        r.skip()
        raise _error(FormatError, 3 if r.peek_tag() == 0x04 else 4)  # 3: EncryptedPrivateKeyInfo
    r.read_int()
    tag = r.peek_tag()
    # PKCS#8 (AlgorithmIdentifier), SEC1 (privateKey) or PKCS#1 (modulus) after the version
    form = {0x30: "", 0x04: "EC ", 0x02: "RSA "}.get(tag)
    if form is None:
        raise _error(FormatError, 4)
    form += "PRIVATE KEY"  # its PEM label
    if label not in (None, form):
        raise _error(FormatError, 5, (label, form))
    if tag == 0x04 or tag == 0x30 and bytes(r.enter(0x30).read_oid()) == b"\x2a\x86\x48\xce\x3d\x02\x01":
        from tinyest import ec  # SEC1, or PKCS#8 with id-ecPublicKey

        return ec.from_der(data)
    from tinyest import keys_rare

    return keys_rare.private_other(data, tag)


def parse_spki(spki_der):
    """(kind, param, key) of a SubjectPublicKeyInfo (see the module text)."""
    r = der.top(spki_der)
    alg = r.enter(0x30)
    oid = bytes(alg.read_oid())
    key = r.read_bits()
    r.done()
    if oid != b"\x2a\x86\x48\xce\x3d\x02\x01":  # id-ecPublicKey
        from tinyest import keys_rare  # RSA, Ed25519

        return keys_rare.spki_other(alg, oid, key)
    if alg.peek_tag() != 0x06:
        raise _error(FormatError, 6)
    curve = bytes(alg.read_oid())
    _no_params(alg, "EC key")
    if curve == b"\x2a\x86\x48\xce\x3d\x03\x01\x07":  # 1.2.840.10045.3.1.7
        name = "P-256"
    elif curve == b"\x2b\x81\x04\x00\x22":  # 1.3.132.0.34
        name = "P-384"
    else:
        from tinyest import keys_rare

        keys_rare.unsupported("curve", curve)
    if key[:1] != b"\x04":
        raise _error(FormatError, 7, name)
    from tinyest import ec

    ec.point_from_bytes(name, key)  # its length, on the curve
    return "ec", name, bytes(key)


def verify(spki_der, algorithm_der, data, signature):
    """None if signature is valid for data under the SPKI's key; VerifyError if
    not; FormatError for an unsupported or mismatched algorithm."""
    kind, param, key = parse_spki(spki_der)
    r = der.top(algorithm_der)
    oid = bytes(r.read_oid())
    i = oid[-1] - 2
    if oid[:-1] != b"\x2a\x86\x48\xce\x3d\x04\x03" or not 0 <= i <= 2 or kind != "ec":
        from tinyest import keys_rare  # RSA, Ed25519, or a mismatch

        return keys_rare.verify_other(kind, param, key, oid, r, data, signature)
    _no_params(r, "ECDSA")  # ecdsa-with-SHA256/384/512: no parameters (RFC 5758)
    from tinyest import ec, hashes

    if not ec.verify(param, key, getattr(hashes, "sha%d" % (256 + 128 * i))(bytes(data)), bytes(signature)):
        raise _error(VerifyError, 11, "ECDSA")
