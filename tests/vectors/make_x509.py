"""Writes the x509_* and p7_* test vectors (host only: cryptography, asn1crypto, openssl).

    python3 tests/vectors/make_x509.py

Deterministic: keys come from fixed seeds (EC and Ed25519 from hashes of a label,
RSA primes from a seeded PRNG), ECDSA signatures are RFC 6979 deterministic and
every date is fixed, so running it again rewrites the same bytes.

Most certificates are made by cryptography's CertificateBuilder. The ones it
refuses to make (v1, an explicitly encoded v1 version, zero/negative/21-octet
serials, T61String names, an explicit critical FALSE) are assembled here with a
few lines of DER and signed with the same keys.

x509_expected.json holds what asn1crypto reads from each certificate (the
independent oracle the core tests compare against), plus which certificate
signed it; p7_expected.json lists the certificates of each PKCS#7 vector.
"""

import calendar
import datetime
import hashlib
import json
import os
import random
import subprocess
import tempfile

import asn1crypto.cms
import asn1crypto.x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
DER = serialization.Encoding.DER


def dt(*a):
    return datetime.datetime(*a, tzinfo=datetime.timezone.utc)


NB = dt(2024, 1, 1)
NA_CA = dt(2044, 1, 1)
NA_EE = dt(2026, 1, 1)

# ---------------------------------------------------------------- keys


def ec_key(label, curve):
    seed = int.from_bytes(hashlib.sha512(label.encode()).digest(), "big")
    order = {"secp256r1": 2**256 - 2**224 + 2**192 - 0x4319055258E8617B0C46353D039CDAAF,
             "secp384r1": 2**384 - 0x389CB27E0BC8D220A7E5F24DB74F58851313E695333AD68D}[curve.name]
    return ec.derive_private_key(seed % (order - 1) + 1, curve)


def ed_key(label):
    return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


_SMALL = [p for p in range(3, 2000) if all(p % q for q in range(2, int(p**0.5) + 1))]


def _probable_prime(n, rng):
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(24):
        a = rng.randrange(2, n - 2)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng, bits):
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if any(c % p == 0 for p in _SMALL):
            continue
        if _probable_prime(c, rng):
            return c


def rsa_key(label, bits):
    rng = random.Random(label)
    e = 65537
    while True:
        p = _prime(rng, bits // 2)
        q = _prime(rng, bits // 2)
        if p == q or (p - 1) % e == 0 or (q - 1) % e == 0:
            continue
        if p < q:
            p, q = q, p
        n = p * q
        d = pow(e, -1, (p - 1) * (q - 1))
        pub = rsa.RSAPublicNumbers(e, n)
        return rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), pub).private_key()


def spki(key):
    return key.public_key().public_bytes(DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# ---------------------------------------------------------------- cryptography builds


def name(*pairs):
    return x509.Name([x509.NameAttribute(o, v) for o, v in pairs])


def build(subject, issuer, pub, signer, serial, nb=NB, na=NA_CA, ca=None, path_len=None,
          ku=None, eku=None, san=None, ski=True, aki_from=None, extra=(), halg=hashes.SHA256()):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(pub)
         .serial_number(serial).not_valid_before(nb).not_valid_after(na))
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
    if ku is not None:
        b = b.add_extension(ku, critical=True)
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san is not None:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if ski:
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    if aki_from is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_from), critical=False)
    for ext, crit in extra:
        b = b.add_extension(ext, critical=crit)
    if isinstance(signer, ed25519.Ed25519PrivateKey):
        return b.sign(signer, None).public_bytes(DER)
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        return b.sign(signer, halg, ecdsa_deterministic=True).public_bytes(DER)
    return b.sign(signer, halg).public_bytes(DER)


def ku_ca():
    return x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                         crl_sign=True, encipher_only=False, decipher_only=False)


def ku_ee():
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                         crl_sign=False, encipher_only=False, decipher_only=False)


# ---------------------------------------------------------------- hand-built DER


def tlv(tag, *parts):
    body = b"".join(parts)
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    elif n < 0x100:
        head = bytes([0x81, n])
    else:
        head = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + head + body


def seq(*parts):
    return tlv(0x30, *parts)


def integer(x):
    n = 1
    while not -(1 << (8 * n - 1)) <= x < (1 << (8 * n - 1)):
        n += 1
    return tlv(0x02, (x % (1 << (8 * n))).to_bytes(n, "big"))


def oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    out = b""
    for v in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [v & 0x7F]
        v >>= 7
        while v:
            chunk.append(0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def hname(*rdns):
    """Name from RDNs; each RDN is a list of (dotted, tag, value bytes)."""
    sets = []
    for rdn in rdns:
        atvs = sorted(seq(oid(o), tlv(t, v)) for o, t, v in rdn)
        sets.append(tlv(0x31, *atvs))
    return seq(*sets)


def utc(t):
    return tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())


ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"))


def hand_cert(signer, subject, issuer, pub_key, serial=integer(7), version=b"\xa0\x03\x02\x01\x02",
              exts=None, nb=NB, na=NA_CA):
    parts = [version, serial, ECDSA_SHA256, issuer, seq(utc(nb), utc(na)), subject, spki(pub_key)]
    if exts is not None:
        parts.append(tlv(0xA3, seq(*exts)))
    tbs = seq(*parts)
    sig = signer.sign(tbs, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    return seq(tbs, ECDSA_SHA256, tlv(0x03, b"\x00" + sig))


# ---------------------------------------------------------------- expectations (asn1crypto)

_KU_BITS = ["digital_signature", "non_repudiation", "key_encipherment", "data_encipherment",
            "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]


def _contents(d):
    n = d[1]
    if n < 0x80:
        return d[2:]
    return d[2 + (n & 0x7F):]


def _str_value(v):
    if v.__class__.__name__ != "Any" and hasattr(v, "chosen"):
        v = v.chosen
    d = v.dump()
    tag, contents = d[0], _contents(d)
    codec = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x12: "ascii", 0x1A: "ascii",
             0x14: "latin-1", 0x1E: "utf-16-be", 0x1C: "utf-32-be"}.get(tag)
    if codec is None:
        return None, d
    return contents.decode(codec), d


def _escape(s):
    # cryptography's _escape_dn_value, RFC 4514 2.4
    if not s:
        return ""
    for c in '\\"+,;<>':
        s = s.replace(c, "\\" + c)
    s = s.replace("\0", "\\00")
    if s[0] in "# ":
        s = "\\" + s
    if s[-1] == " ":
        s = s[:-1] + "\\ "
    return s


_SHORT = {"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
          "2.5.4.11": "OU", "2.5.4.9": "STREET", "2.5.4.5": "serialNumber",
          "1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.1": "UID",
          "0.9.2342.19200300.100.1.25": "DC"}


def rfc4514(name):
    rdns = []
    for rdn in name.chosen:
        parts = []
        for atv in rdn:
            text, d = _str_value(atv["value"])
            val = _escape(text) if text is not None else "#" + d.hex()
            parts.append(_SHORT.get(atv["type"].dotted, atv["type"].dotted) + "=" + val)
        rdns.append("+".join(parts))
    return ",".join(reversed(rdns))


def expect(der, signer_name):
    c = asn1crypto.x509.Certificate.load(der)
    tbs = c["tbs_certificate"]
    ver = {"v1": 1, "v2": 2, "v3": 3}[tbs["version"].native]
    pki = tbs["subject_public_key_info"]
    algo = pki.algorithm
    curve = None
    if algo == "ec":
        curve = {"secp256r1": "P-256", "secp384r1": "P-384"}[pki.curve[1]]
    e = {
        "signed_by": signer_name,
        "version": ver,
        "serial": str(tbs["serial_number"].native),
        "not_before": calendar.timegm(tbs["validity"]["not_before"].native.utctimetuple()),
        "not_after": calendar.timegm(tbs["validity"]["not_after"].native.utctimetuple()),
        "subject": rfc4514(tbs["subject"]),
        "issuer": rfc4514(tbs["issuer"]),
        "key_type": algo,
        "curve": curve,
        "key_bits": 256 if algo == "ed25519" else pki.bit_size,
        "sig_alg": c["signature_algorithm"]["algorithm"].dotted,
        "self_issued": tbs["subject"].dump() == tbs["issuer"].dump(),
        "fingerprint": hashlib.sha256(der).hexdigest(),
        "extensions": [],
        "basic_constraints": None,
        "key_usage": None,
        "ext_key_usage": None,
        "san": None,
        "ski": None,
        "aki": None,
        "unknown_critical": [],
    }
    known = {"2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.17", "2.5.29.14", "2.5.29.35"}
    for ext in tbs["extensions"] or []:
        dotted = ext["extn_id"].dotted
        crit = bool(ext["critical"].native)
        e["extensions"].append([dotted, crit])
        val = ext["extn_value"].parsed
        if dotted == "2.5.29.19":
            e["basic_constraints"] = [bool(val["ca"].native), val["path_len_constraint"].native]
        elif dotted == "2.5.29.15":
            e["key_usage"] = sum(1 << i for i, n in enumerate(_KU_BITS) if n in val.native)
        elif dotted == "2.5.29.37":
            e["ext_key_usage"] = [p.dotted for p in val]
        elif dotted == "2.5.29.17":
            out = []
            for gn in val:
                kind = {"dns_name": "dns", "rfc822_name": "email",
                        "uniform_resource_identifier": "uri", "ip_address": "ip"}.get(gn.name, "other")
                if kind == "ip":
                    out.append([kind, gn.chosen.contents.hex()])
                elif kind == "other":
                    out.append([kind, gn.dump().hex()])
                else:
                    out.append([kind, gn.native])
            e["san"] = out
        elif dotted == "2.5.29.14":
            e["ski"] = val.native.hex()
        elif dotted == "2.5.29.35":
            kid = val["key_identifier"].native
            e["aki"] = None if kid is None else kid.hex()
        elif crit and dotted not in known:
            e["unknown_critical"].append(dotted)
    return e


# ---------------------------------------------------------------- the vectors


def main():
    certs = {}
    signers = {}

    def put(n, der, signed_by):
        certs[n] = der
        signers[n] = signed_by

    # EC: P-384 root, P-256 issuing CA (pathLen 0), P-256 device.
    k_root = ec_key("ec root", ec.SECP384R1())
    k_int = ec_key("ec int", ec.SECP256R1())
    k_leaf = ec_key("ec leaf", ec.SECP256R1())
    n_root = name((NameOID.COUNTRY_NAME, "DE"), (NameOID.ORGANIZATION_NAME, "Example"),
                  (NameOID.COMMON_NAME, "tinyest EC Root"))
    n_int = name((NameOID.ORGANIZATION_NAME, "Example"), (NameOID.COMMON_NAME, "tinyest EC Issuing CA"))
    n_leaf = name((NameOID.ORGANIZATION_NAME, "Example"), (NameOID.COMMON_NAME, "dev-1"))
    put("ec_root", build(n_root, n_root, k_root.public_key(), k_root, 1, ca=True, ku=ku_ca(),
                         halg=hashes.SHA384()), "ec_root")
    put("ec_int", build(n_int, n_root, k_int.public_key(), k_root, 2, ca=True, path_len=0, ku=ku_ca(),
                        aki_from=k_root.public_key(), halg=hashes.SHA384()), "ec_root")
    put("ec_leaf", build(n_leaf, n_int, k_leaf.public_key(), k_int, 0x1001, na=NA_EE, ca=False,
                         ku=ku_ee(), eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
                         san=[x509.DNSName("dev-1.example.com")], aki_from=k_int.public_key()), "ec_int")

    # RSA: 4096-bit root, 2048-bit issuing CA, an EC device under it; a lone 2048-bit root.
    k_r4096 = rsa_key("rsa 4096 root", 4096)
    k_r2048 = rsa_key("rsa 2048 root", 2048)
    k_rint = rsa_key("rsa int", 2048)
    n_r4096 = name((NameOID.ORGANIZATION_NAME, "Example"), (NameOID.COMMON_NAME, "tinyest RSA-4096 Root"))
    n_r2048 = name((NameOID.ORGANIZATION_NAME, "Example"), (NameOID.COMMON_NAME, "tinyest RSA-2048 Root"))
    n_rint = name((NameOID.ORGANIZATION_NAME, "Example"), (NameOID.COMMON_NAME, "tinyest RSA Issuing CA"))
    n_rleaf = name((NameOID.COMMON_NAME, "dev-rsa"))
    put("rsa4096_root", build(n_r4096, n_r4096, k_r4096.public_key(), k_r4096, 0x4096, ca=True,
                              ku=ku_ca()), "rsa4096_root")
    put("rsa2048_root", build(n_r2048, n_r2048, k_r2048.public_key(), k_r2048, 0x2048, ca=True,
                              ku=ku_ca()), "rsa2048_root")
    put("rsa_int", build(n_rint, n_r4096, k_rint.public_key(), k_r4096, 3, ca=True, ku=ku_ca(),
                         aki_from=k_r4096.public_key(), halg=hashes.SHA512()), "rsa4096_root")
    put("rsa_leaf", build(n_rleaf, n_rint, k_leaf.public_key(), k_rint, 4, na=NA_EE, ku=ku_ee(),
                          aki_from=k_rint.public_key(), halg=hashes.SHA384()), "rsa_int")

    # Ed25519 root and device.
    k_ed = ed_key("ed25519 root")
    k_edleaf = ed_key("ed25519 leaf")
    n_ed = name((NameOID.COMMON_NAME, "tinyest Ed25519 Root"))
    put("ed25519_root", build(n_ed, n_ed, k_ed.public_key(), k_ed, 5, ca=True, ku=ku_ca()),
        "ed25519_root")
    put("ed25519_leaf", build(name((NameOID.COMMON_NAME, "dev-ed")), n_ed, k_edleaf.public_key(), k_ed, 6,
                              na=NA_EE, ku=ku_ee(), aki_from=k_ed.public_key()), "ed25519_root")

    # Serial of 20 octets (the RFC 5280 maximum), dates around 2050 and 9999.
    put("serial20", build(name((NameOID.COMMON_NAME, "serial20")), n_int, k_leaf.public_key(), k_int,
                          0x7F0102030405060708090A0B0C0D0E0F10111213, na=NA_EE), "ec_int")
    put("y2050", build(name((NameOID.COMMON_NAME, "y2050")), n_int, k_leaf.public_key(), k_int, 8,
                       nb=dt(2049, 12, 31, 23, 59, 59), na=dt(2050, 1, 1)), "ec_int")
    put("forever", build(name((NameOID.COMMON_NAME, "forever")), n_int, k_leaf.public_key(), k_int, 9,
                         na=dt(9999, 12, 31, 23, 59, 59)), "ec_int")

    # Every subjectAltName kind.
    san = [
        x509.DNSName("dev-1.example.com"),
        x509.DNSName("*.example.net"),
        x509.IPAddress(__import__("ipaddress").ip_address("192.0.2.7")),
        x509.IPAddress(__import__("ipaddress").ip_address("2001:db8::1")),
        x509.UniformResourceIdentifier("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
        x509.RFC822Name("dev-1@example.com"),
        x509.OtherName(x509.ObjectIdentifier("1.3.6.1.5.5.7.8.4"), bytes.fromhex("0c0568656c6c6f")),
        x509.DirectoryName(name((NameOID.COMMON_NAME, "dir"))),
        x509.RegisteredID(x509.ObjectIdentifier("1.2.3.4")),
    ]
    put("san", build(name((NameOID.COMMON_NAME, "san")), n_int, k_leaf.public_key(), k_int, 10, na=NA_EE,
                     san=san, aki_from=k_int.public_key()), "ec_int")

    # Unknown extensions: one critical, one not.
    put("unknown_crit", build(name((NameOID.COMMON_NAME, "unknown-crit")), n_int, k_leaf.public_key(),
                              k_int, 11, na=NA_EE, extra=[
                                  (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"),
                                                              b"\x05\x00"), True),
                                  (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.2"),
                                                              b"\x05\x00"), False)]), "ec_int")

    # BMPString, UniversalString and multi-valued RDNs (cryptography), T61 (by hand below).
    names = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bäckerei",
                                                           _ASN1Type.BMPString)]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Ünits \U0001F600",
                                                           _ASN1Type.UniversalString)]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "dev-2"),
                                        x509.NameAttribute(NameOID.SERIAL_NUMBER, "SN0042")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@example.com")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "example")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.USER_ID, "u17")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.LOCALITY_NAME, "A, B + C")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "#hash ")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(x509.ObjectIdentifier("2.5.4.97"), "VATDE-1")]),
    ])
    put("names", build(names, n_int, k_leaf.public_key(), k_int, 12, na=NA_EE), "ec_int")

    # Hand-built: what cryptography will not make.
    k_hand = ec_key("hand", ec.SECP256R1())
    n_hand = hname([("2.5.4.3", 0x13, b"hand")])
    t61 = hname([("2.5.4.6", 0x13, b"DE")], [("2.5.4.10", 0x14, b"M\xfcller & S\xf6hne")],
                [("2.5.4.3", 0x0C, b"t61"), ("2.5.4.11", 0x13, b"OU1")],
                [("2.5.4.45", 0x03, b"\x00\x01\x02")])
    put("t61", hand_cert(k_hand, t61, n_hand, k_hand), "v1")
    put("v1", hand_cert(k_hand, n_hand, n_hand, k_hand, version=b""), "v1")
    put("v1_explicit", hand_cert(k_hand, n_hand, n_hand, k_hand, version=b"\xa0\x03\x02\x01\x00"),
        "v1_explicit")
    put("serial_neg", hand_cert(k_hand, hname([("2.5.4.3", 0x13, b"neg")]), n_hand, k_hand,
                                serial=integer(-0x1234567)), "v1")
    put("serial_zero", hand_cert(k_hand, hname([("2.5.4.3", 0x13, b"zero")]), n_hand, k_hand,
                                 serial=integer(0)), "v1")
    put("serial21", hand_cert(k_hand, hname([("2.5.4.3", 0x13, b"serial21")]), n_hand, k_hand,
                              serial=integer(0x80 << 152 | 0x0102030405060708090A0B0C0D0E0F1011121314)),
        "v1")
    bc_false = seq(oid("2.5.29.19"), b"\x01\x01\x00", tlv(0x04, seq()))
    put("critfalse", hand_cert(k_hand, hname([("2.5.4.3", 0x13, b"critfalse")]), n_hand, k_hand,
                               exts=[bc_false]), "v1")

    # Chains that must fail: issued by an end entity; too deep for pathLen 0; an issuer
    # whose keyUsage lacks keyCertSign.
    k_x = ec_key("by ee", ec.SECP256R1())
    put("by_ee", build(name((NameOID.COMMON_NAME, "by-ee")), n_leaf, k_x.public_key(), k_leaf, 13,
                       na=NA_EE), "ec_leaf")
    k_int2 = ec_key("int2", ec.SECP256R1())
    n_int2 = name((NameOID.COMMON_NAME, "tinyest Sub CA"))
    put("int2", build(n_int2, n_int, k_int2.public_key(), k_int, 14, ca=True, ku=ku_ca()), "ec_int")
    put("deep_leaf", build(name((NameOID.COMMON_NAME, "deep")), n_int2, k_x.public_key(), k_int2, 15,
                           na=NA_EE), "int2")
    n_noku = name((NameOID.COMMON_NAME, "tinyest No-KU CA"))
    put("noku_ca", build(n_noku, n_root, k_int2.public_key(), k_root, 16, ca=True, ku=ku_ee(),
                         halg=hashes.SHA384()), "ec_root")
    put("noku_leaf", build(name((NameOID.COMMON_NAME, "noku-leaf")), n_noku, k_x.public_key(), k_int2, 17,
                           na=NA_EE), "noku_ca")

    # Cross-signed pair (A signed by B, B signed by A) and a device under A; RSA keys so
    # the loop test is quick everywhere.
    n_a = name((NameOID.COMMON_NAME, "tinyest Cross A"))
    n_b = name((NameOID.COMMON_NAME, "tinyest Cross B"))
    put("cross_a", build(n_a, n_b, k_r2048.public_key(), k_rint, 18, ca=True, ku=ku_ca()), "cross_b")
    put("cross_b", build(n_b, n_a, k_rint.public_key(), k_r2048, 19, ca=True, ku=ku_ca()), "cross_a")
    put("cross_b_root", build(n_b, n_b, k_rint.public_key(), k_rint, 20, ca=True, ku=ku_ca()),
        "cross_b_root")
    put("cross_leaf", build(name((NameOID.COMMON_NAME, "cross-leaf")), n_a, k_leaf.public_key(), k_r2048,
                            21, na=NA_EE), "cross_a")

    # A mesh of cross-signed look-alikes (six A's signed by B's key, six B's signed by A's
    # key): the path search must give up without trying every path. One file, DER after DER.
    mesh = b""
    for i in range(6):
        mesh += build(n_a, n_b, k_r2048.public_key(), k_rint, 100 + i, ca=True, ku=ku_ca())
        mesh += build(n_b, n_a, k_rint.public_key(), k_r2048, 200 + i, ca=True, ku=ku_ca())
    with open(os.path.join(HERE, "x509_mesh.der"), "wb") as f:
        f.write(mesh)

    expected = {}
    for n, d in certs.items():
        with open(os.path.join(HERE, "x509_%s.der" % n), "wb") as f:
            f.write(d)
        expected[n] = expect(d, signers[n])
    with open(os.path.join(HERE, "x509_expected.json"), "w", encoding="utf-8") as f:
        # ensure_ascii=False: MicroPython's json does not join \u surrogate pairs
        json.dump(expected, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")

    # ------------------------------------------------------------ PKCS#7
    p7 = {}
    four = ["ec_leaf", "ec_int", "ec_root", "rsa4096_root"]
    crl = (x509.CertificateRevocationListBuilder().issuer_name(n_int).last_update(NB)
           .next_update(dt(2024, 2, 1))
           .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(0x99)
                                    .revocation_date(NB).build())
           .sign(k_int, hashes.SHA256(), ecdsa_deterministic=True).public_bytes(DER))
    with tempfile.TemporaryDirectory() as tmp:
        def pem_file(names, fn):
            path = os.path.join(tmp, fn)
            with open(path, "w") as f:
                for n in names:
                    f.write(x509.load_der_x509_certificate(certs[n]).public_bytes(
                        serialization.Encoding.PEM).decode())
            return path

        def openssl(*args):
            return subprocess.run(["openssl", "crl2pkcs7", "-outform", "DER"] + list(args),
                                  check=True, capture_output=True).stdout

        p7["openssl"] = (openssl("-nocrl", "-certfile", pem_file(four, "four.pem")), four)
        p7["single"] = (openssl("-nocrl", "-certfile", pem_file(["ec_root"], "root.pem")), ["ec_root"])
        p7["empty"] = (openssl("-nocrl"), [])
        crl_path = os.path.join(tmp, "crl.der")
        with open(crl_path, "wb") as f:
            f.write(crl)
        p7["crl"] = (openssl("-inform", "DER", "-in", crl_path, "-certfile",
                             pem_file(["ec_int", "ec_root"], "two.pem")), ["ec_int", "ec_root"])
    rsa_ed = ["rsa_leaf", "rsa_int", "rsa4096_root", "ed25519_root"]
    p7["crypto"] = (pkcs7.serialize_certificates(
        [x509.load_der_x509_certificate(certs[n]) for n in rsa_ed], DER), rsa_ed)

    # Indefinite-length BER in every outer layer, as some CAs send it.
    def ind(tag, *parts):
        return bytes([tag, 0x80]) + b"".join(parts) + b"\x00\x00"

    sd = ind(0x30, integer(1), b"\x31\x00", ind(0x30, oid("1.2.840.113549.1.7.1")),
             ind(0xA0, *[certs[n] for n in four]), b"\x31\x00")
    p7["ber"] = (ind(0x30, oid("1.2.840.113549.1.7.2"), ind(0xA0, sd)), four)

    # The expected lists are what asn1crypto reads (cryptography sorts the SET, openssl
    # keeps the given order).
    by_der = {d: n for n, d in certs.items()}
    p7_expected = {}
    for n, (d, names) in p7.items():
        with open(os.path.join(HERE, "p7_%s.der" % n), "wb") as f:
            f.write(d)
        got = asn1crypto.cms.ContentInfo.load(d)["content"]["certificates"]
        p7_expected[n] = [by_der[c.chosen.dump()] for c in got] if got else []
        assert sorted(p7_expected[n]) == sorted(names), n
    with open(os.path.join(HERE, "p7_crl_inner.der"), "wb") as f:
        f.write(crl)
    with open(os.path.join(HERE, "p7_expected.json"), "w") as f:
        json.dump(p7_expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
