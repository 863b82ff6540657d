"""Writes the keys_* test vectors of tests/core/test_{rsa,ed25519,keys}.py.

    python3 tests/vectors/make_keys.py      (needs cryptography; host only)

Everything is deterministic: RSA primes come from a seeded PRNG, EC and Ed25519
keys from fixed secrets, and every signature scheme used is deterministic
(PKCS#1 v1.5, Ed25519, ECDSA with RFC 6979 nonces). Every key here is a
throwaway test key. The keys and signatures are made by cryptography, which the
tests use as the independent implementation; the RFC 8032 vectors are copied
from RFC 8032 section 7.1 and checked against cryptography here.
"""

import base64
import os
import random
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from tinyest import der  # noqa: E402

MESSAGE = b"tinyest keys test message\n"  # the same constant is in tests/core/test_keys.py

DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8
TRAD = serialization.PrivateFormat.TraditionalOpenSSL
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
NOENC = serialization.NoEncryption()
HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}

# RFC 8032 section 7.1: name, secret key, public key, message, signature (hex).
RFC8032 = [
    ("TEST1",
     "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("TEST2",
     "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
     "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("TEST3",
     "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
     "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ("TEST1024",
     "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
     "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
     "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
     "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
     "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
     "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
     "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
     "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
     "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
     "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
     "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
     "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
     "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
     "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
     "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
     "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
     "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
     "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
     "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
     "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
     "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
     "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
     "c60c905c15fc910840b94c00a0b9d0",
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
     "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"),
    ("TEST_SHA_abc",  # the message is SHA-512("abc")
     "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
     "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
]

RFC8410_PEM = """-----BEGIN PRIVATE KEY-----
MHICAQEwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
oB8wHQYKKoZIhvcNAQkJFDEPDA1DdXJkbGUgQ2hhaXJzgSEAGb9ECWmEzf6FQbrB
Z9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PRIVATE KEY-----
"""
RFC8410_SPKI = "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="


def write(name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def _probable_prime(n, rng):
    if n in (2, 3):
        return True
    if n % 2 == 0:
        return False
    for sp in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47):
        if n % sp == 0:
            return n == sp
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(40):
        a = rng.randrange(2, n - 1)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits, rng, e):
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1  # top two bits set: n has 2*bits bits
        if (c - 1) % e and _probable_prime(c, rng):
            return c


def rsa_key(bits, seed, e=65537):
    rng = random.Random(seed)
    while True:
        p = _prime(bits // 2, rng, e)
        q = _prime(bits // 2, rng, e)
        if p != q:
            break
    if p < q:
        p, q = q, p
    lam = (p - 1) * (q - 1) // _gcd(p - 1, q - 1)
    d = pow(e, -1, lam)
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q))
    return numbers.private_key()


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def rsa_vectors():
    for bits, seed in ((2048, "tinyest rsa 2048"), (4096, "tinyest rsa 4096"), (1024, "tinyest rsa 1024")):
        k = rsa_key(bits, seed)
        assert k.key_size == bits
        name = "keys_rsa%d" % bits
        write(name + "_pkcs1.der", k.private_bytes(DER, TRAD, NOENC))
        write(name + "_spki.der", k.public_key().public_bytes(DER, SPKI))
        if bits == 1024:  # below the supported size: must be refused
            write(name + "_sha256.sig", k.sign(MESSAGE, padding.PKCS1v15(), HASHES["sha256"]))
            continue
        write(name + "_pkcs8.der", k.private_bytes(DER, PKCS8, NOENC))
        if bits == 2048:
            write(name + "_pkcs1.pem", k.private_bytes(PEM, TRAD, NOENC))
            write(name + "_pkcs8.pem", k.private_bytes(PEM, PKCS8, NOENC))
        for h in ("sha256", "sha384", "sha512") if bits == 2048 else ("sha256", "sha512"):
            write("%s_%s.sig" % (name, h), k.sign(MESSAGE, padding.PKCS1v15(), HASHES[h]))


# private keys of RFC 6979 A.2.5 and A.2.6
EC_SECRETS = {"p256": (ec.SECP256R1(), 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721),
              "p384": (ec.SECP384R1(), int("6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9"
                                           "AA47740787137D896D5724E4C70A825F872C9EA60D2EDF5", 16))}


def ec_vectors():
    for name, (curve, secret) in EC_SECRETS.items():
        k = ec.derive_private_key(secret, curve)
        base = "keys_" + name
        write(base + "_pkcs8.der", k.private_bytes(DER, PKCS8, NOENC))
        write(base + "_sec1.der", k.private_bytes(DER, TRAD, NOENC))
        write(base + "_spki.der", k.public_key().public_bytes(DER, SPKI))
        write(base + "_pkcs8.pem", k.private_bytes(PEM, PKCS8, NOENC))
        # as `openssl ecparam -genkey` writes it: the curve's PARAMETERS block first
        params = der.oid("1.2.840.10045.3.1.7" if name == "p256" else "1.3.132.0.34")
        write(base + "_sec1.pem", pem("EC PARAMETERS", params) + k.private_bytes(PEM, TRAD, NOENC).decode())
        for h in ("sha256", "sha384", "sha512"):
            sig = k.sign(MESSAGE, ec.ECDSA(HASHES[h], deterministic_signing=True))
            write("%s_%s.sig" % (base, h), sig)


def pem(label, data):
    b = base64.b64encode(data).decode()
    lines = [b[i:i + 64] for i in range(0, len(b), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)


ED_SEED = bytes(range(32))


def ed25519_vectors():
    k = ed25519.Ed25519PrivateKey.from_private_bytes(ED_SEED)
    pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    write("keys_ed25519_pkcs8.der", k.private_bytes(DER, PKCS8, NOENC))
    write("keys_ed25519_pkcs8.pem", k.private_bytes(PEM, PKCS8, NOENC))
    write("keys_ed25519_spki.der", k.public_key().public_bytes(DER, SPKI))
    write("keys_ed25519.sig", k.sign(MESSAGE))
    # RFC 8410 section 10.3: OneAsymmetricKey version 1 with attributes and the public key
    # (cryptography cannot read it; the seed must give RFC 8410 section 10.1's public key)
    v1 = RFC8410_PEM.encode()
    seed = base64.b64decode("".join(RFC8410_PEM.split("\n")[1:-2]))[16:48]
    k1 = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    assert k1.public_bytes(DER, SPKI) == base64.b64decode(RFC8410_SPKI)
    write("keys_ed25519_rfc8410.pem", v1)
    write("keys_ed25519_rfc8410_spki.der", base64.b64decode(RFC8410_SPKI))
    # unsupported key types
    k448 = ed448.Ed448PrivateKey.from_private_bytes(bytes(range(57)))
    write("keys_ed448_pkcs8.der", k448.private_bytes(DER, PKCS8, NOENC))
    write("keys_ed448_spki.der", k448.public_key().public_bytes(DER, SPKI))
    k521 = ec.derive_private_key(123456789, ec.SECP521R1())
    write("keys_p521_pkcs8.der", k521.private_bytes(DER, PKCS8, NOENC))
    write("keys_p521_spki.der", k521.public_key().public_bytes(DER, SPKI))
    lines = []
    for name, sk, pk, msg, sig in RFC8032:
        kk = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sk))
        assert kk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex() == pk
        assert kk.sign(bytes.fromhex(msg)).hex() == sig, name
        lines.append(" ".join((name, sk, pk, msg or "-", sig)))
    assert len(bytes.fromhex(RFC8032[3][3])) == 1023
    write("keys_rfc8032.txt", "\n".join(lines) + "\n")


def encrypted_vector():
    """A PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) EncryptedPrivateKeyInfo with fixed
    salt and IV, password "tinyest"; cryptography must be able to open it."""
    inner = ed25519.Ed25519PrivateKey.from_private_bytes(ED_SEED).private_bytes(DER, PKCS8, NOENC)
    salt, iv, rounds = bytes(range(16)), bytes(range(16, 32)), 2048
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, rounds).derive(b"tinyest")
    padder = padding_pkcs7(inner)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ct = enc.update(padder) + enc.finalize()
    alg = der.seq(
        der.oid("1.2.840.113549.1.5.13"),
        der.seq(
            der.seq(der.oid("1.2.840.113549.1.5.12"),
                    der.seq(der.octet_string(salt), der.integer(rounds),
                            der.seq(der.oid("1.2.840.113549.2.9"), der.null()))),
            der.seq(der.oid("2.16.840.1.101.3.4.1.42"), der.octet_string(iv))))
    epki = der.seq(alg, der.octet_string(ct))
    assert serialization.load_der_private_key(epki, b"tinyest").private_bytes(DER, PKCS8, NOENC) == inner
    write("keys_encrypted_pkcs8.der", epki)
    write("keys_encrypted_pkcs8.pem", pem("ENCRYPTED PRIVATE KEY", epki))


def padding_pkcs7(data):
    n = 16 - len(data) % 16
    return data + bytes([n]) * n


def main():
    rsa_vectors()
    ec_vectors()
    ed25519_vectors()
    encrypted_vector()


if __name__ == "__main__":
    main()
