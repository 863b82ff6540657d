"""tinyest.ec: ECDSA P-256/P-384 known answers (RFC 6979 A.2.5, A.2.6), key
encodings (cross-checked against cryptography-made DER below), verification of
hostile signatures, bad keys, and the scalar multiplication's edge cases."""

import sys

from _t import h, raises

from tinyest import der, der_extra, ec, ec_p384, hashes
from tinyest.errors import CryptoError, DERError, FormatError

# ---------------------------------------------------------------- RFC 6979 A.2.5 / A.2.6

P256_X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
P256_U = h("""04
60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299""")
P384_X = int("6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA"
             "9AA47740787137D896D5724E4C70A825F872C9EA60D2EDF5", 16)
P384_U = h("""04
EC3A4E415B4E19A4568618029F427FA5DA9A8BC4AE92E02E06AAE5286B300C64
DEF8F0EA9055866064A254515480BC13
8015D9B72D7D57244EA8EF9AC0C621896708A59367F9DFB9F54CA84B3F1C9DB1
288B231C3AE0D4FE7344FD2533264720""")

# (hash, message, k, r, s)
RFC6979_P256 = [
    ("sha256", b"sample",
     "A6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60",
     "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
     "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"),
    ("sha384", b"sample",
     "09F634B188CEFD98E7EC88B1AA9852D734D0BC272F7D2A47DECC6EBEB375AAD4",
     "0EAFEA039B20E9B42309FB1D89E213057CBF973DC0CFC8F129EDDDC800EF7719",
     "4861F0491E6998B9455193E34E7B0D284DDD7149A74B95B9261F13ABDE940954"),
    ("sha512", b"sample",
     "5FA81C63109BADB88C1F367B47DA606DA28CAD69AA22C4FE6AD7DF73A7173AA5",
     "8496A60B5E9B47C825488827E0495B0E3FA109EC4568FD3F8D1097678EB97F00",
     "2362AB1ADBE2B8ADF9CB9EDAB740EA6049C028114F2460F96554F61FAE3302FE"),
    ("sha256", b"test",
     "D16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0",
     "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
     "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"),
    ("sha384", b"test",
     "16AEFFA357260B04B1DD199693960740066C1A8F3E8EDD79070AA914D361B3B8",
     "83910E8B48BB0C74244EBDF7F07A1C5413D61472BD941EF3920E623FBCCEBEB6",
     "8DDBEC54CF8CD5874883841D712142A56A8D0F218F5003CB0296B6B509619F2C"),
    ("sha512", b"test",
     "6915D11632ACA3C40D5D51C08DAF9C555933819548784480E93499000D9F0B7F",
     "461D93F31B6540894788FD206C07CFA0CC35F46FA3C91816FFF1040AD1581A04",
     "39AF9F15DE0DB8D97E72719C74820D304CE5226E32DEDAE67519E840D1194E55"),
]

RFC6979_P384 = [
    ("sha256", b"sample",
     "180AE9F9AEC5438A44BC159A1FCB277C7BE54FA20E7CF404B490650A8ACC414E375572342863C899F9F2EDF9747A9B60",
     "21B13D1E013C7FA1392D03C5F99AF8B30C570C6F98D4EA8E354B63A21D3DAA33BDE1E888E63355D92FA2B3C36D8FB2CD",
     "F3AA443FB107745BF4BD77CB3891674632068A10CA67E3D45DB2266FA7D1FEEBEFDC63ECCD1AC42EC0CB8668A4FA0AB0"),
    ("sha384", b"sample",
     "94ED910D1A099DAD3254E9242AE85ABDE4BA15168EAF0CA87A555FD56D10FBCA2907E3E83BA95368623B8C4686915CF9",
     "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46",
     "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94FA329C145786E679E7B82C71A38628AC8"),
    ("sha512", b"sample",
     "92FC3C7183A883E24216D1141F1A8976C5B0DD797DFA597E3D7B32198BD35331A4E966532593A52980D0E3AAA5E10EC3",
     "ED0959D5880AB2D869AE7F6C2915C6D60F96507F9CB3E047C0046861DA4A799CFE30F35CC900056D7C99CD7882433709",
     "512C8CCEEE3890A84058CE1E22DBC2198F42323CE8ACA9135329F03C068E5112DC7CC3EF3446DEFCEB01A45C2667FDD5"),
    ("sha256", b"test",
     "0CFAC37587532347DC3389FDC98286BBA8C73807285B184C83E62E26C401C0FAA48DD070BA79921A3457ABFF2D630AD7",
     "6D6DEFAC9AB64DABAFE36C6BF510352A4CC27001263638E5B16D9BB51D451559F918EEDAF2293BE5B475CC8F0188636B",
     "2D46F3BECBCC523D5F1A1256BF0C9B024D879BA9E838144C8BA6BAEB4B53B47D51AB373F9845C0514EEFB14024787265"),
    ("sha384", b"test",
     "015EE46A5BF88773ED9123A5AB0807962D193719503C527B031B4C2D225092ADA71F4A459BC0DA98ADB95837DB8312EA",
     "8203B63D3C853E8D77227FB377BCF7B7B772E97892A80F36AB775D509D7A5FEB0542A7F0812998DA8F1DD3CA3CF023DB",
     "DDD0760448D42D8A43AF45AF836FCE4DE8BE06B485E9B61B827C2F13173923E06A739F040649A667BF3B828246BAA5A5"),
    ("sha512", b"test",
     "3780C4F67CB15518B6ACAE34C9F83568D2E12E47DEAB6C50A4E4EE5319D1E8CE0E2CC8A136036DC4B9C00E6888F66B6C",
     "A0D5D090C9980FAF3C2CE57B7AE951D31977DD11C775D314AF55F76C676447D06FB6495CD21B4B6E340FC236584FB277",
     "976984E59B4C77B0E8E4460DCA3D9F20E07B9BB1F63BEEFAF576F6B2E8B224634A2092CD3792E0159AD9CEE37659C736"),
]

# ---------------------------------------------------------------- DER of the RFC keys
# Made by cryptography 48 (private_bytes DER PKCS8 / TraditionalOpenSSL,
# public_bytes SubjectPublicKeyInfo); tests/host/test_ec_host.py re-derives them.

P256_PKCS8 = h("""
308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420c9afa9d845ba75166b5c2157
67b1d6934e50c3db36e89b127b8a622b120f6721a1440342000460fed4ba255a9d31c961eb74c6356d68c049b8923b61
fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299
""")
P256_SEC1 = h("""
30770201010420c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721a00a06082a8648ce3d
030107a1440342000460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc
99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299
""")
P256_SPKI = h("""
3059301306072a8648ce3d020106082a8648ce3d0301070342000460fed4ba255a9d31c961eb74c6356d68c049b8923b
61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299
""")
P384_PKCS8 = h("""
3081b6020100301006072a8648ce3d020106052b8104002204819e30819b02010104306b9d3dad2e1b8c1c05b19875b6
659f4de23c3b667bf297ba9aa47740787137d896d5724e4c70a825f872c9ea60d2edf5a16403620004ec3a4e415b4e19
a4568618029f427fa5da9a8bc4ae92e02e06aae5286b300c64def8f0ea9055866064a254515480bc138015d9b72d7d57
244ea8ef9ac0c621896708a59367f9dfb9f54ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720
""")
P384_SEC1 = h("""
3081a402010104306b9d3dad2e1b8c1c05b19875b6659f4de23c3b667bf297ba9aa47740787137d896d5724e4c70a825
f872c9ea60d2edf5a00706052b81040022a16403620004ec3a4e415b4e19a4568618029f427fa5da9a8bc4ae92e02e06
aae5286b300c64def8f0ea9055866064a254515480bc138015d9b72d7d57244ea8ef9ac0c621896708a59367f9dfb9f5
4ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720
""")
P384_SPKI = h("""
3076301006072a8648ce3d020106052b8104002203620004ec3a4e415b4e19a4568618029f427fa5da9a8bc4ae92e02e
06aae5286b300c64def8f0ea9055866064a254515480bc138015d9b72d7d57244ea8ef9ac0c621896708a59367f9dfb9
f54ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720
""")

OID_EC = "1.2.840.10045.2.1"
OID_P256 = "1.2.840.10045.3.1.7"
OID_P384 = "1.3.132.0.34"
OID_SECP256K1 = "1.3.132.0.10"
OID_RSA = "1.2.840.113549.1.1.1"

N256 = ec._P256.n
N384 = ec._P384.n


def _rs(sig):
    r = der.top(sig)
    a = r.read_int()
    b = r.read_int()
    r.done()
    return a, b


def _affine(c, P):
    X, Y, Z = P
    p = c.p
    z = ec._inv(Z, p)
    return X * z * z % p, Y * z * z * z % p


def _points(c, row):
    """The affine points of a table row (bytes: x then y of each)."""
    s = c.size
    return [(int.from_bytes(row[i:i + s], "big"), int.from_bytes(row[i + s:i + 2 * s], "big"))
            for i in range(0, len(row), 2 * s)]


# ---------------------------------------------------------------- known answers


def test_rfc6979_public_keys():
    for curve, x, want, size in (("P-256", P256_X, P256_U, 32), ("P-384", P384_X, P384_U, 48)):
        key = ec.from_secret(x, curve)
        assert key.curve == curve
        assert key.secret == x
        assert key.public_point() == want, curve
        assert ec.from_secret(x.to_bytes(size, "big"), curve).public_point() == want, curve


def _check_rfc6979(curve, x, vectors):
    key = ec.from_secret(x, curve)
    c = ec._curve(curve)
    for hname, msg, k, r, s in vectors:
        name = "%s %s %s" % (curve, hname, msg)
        digest = hashes.new(hname, msg).digest()
        assert next(ec._nonces(c, x, digest, hname)) == int(k, 16), name + ": k"
        sig = key.sign_digest(digest)
        assert _rs(sig) == (int(r, 16), int(s, 16)), name + ": r, s"
        assert sig == der.seq(der.integer(int(r, 16)), der.integer(int(s, 16))), name
        assert ec.verify(curve, key.public_point(), digest, sig), name + ": verify"
        if hname == c.hash_name:
            assert key.sign(msg) == sig, name + ": sign(data)"


def test_rfc6979_p256():
    _check_rfc6979("P-256", P256_X, RFC6979_P256)


def test_rfc6979_p384():
    _check_rfc6979("P-384", P384_X, RFC6979_P384)


def _ref_mul(c, k, x, y):
    """k*(x, y) by plain binary double-and-add: the reference for the comb and
    the interleaved verification loop (neither of which it shares code with,
    _dbl and _madd aside)."""
    p = c.p
    X, Y, Z = 1, 1, 0
    for i in range(8 * c.size, -1, -1):
        X, Y, Z = ec._dbl(p, X, Y, Z)
        if (k >> i) & 1:
            X, Y, Z = ec._madd(p, X, Y, Z, x, y)
    return X, Y, Z


def test_small_and_edge_secrets():
    # 1*G = G and (n-1)*G = -G are known answers; the others are compared with
    # plain double-and-add and with the verification loop (other algorithms).
    for c in (ec._P256, ec._P384):
        p, n = c.p, c.n
        g = b"\x04" + c.gx.to_bytes(c.size, "big") + c.gy.to_bytes(c.size, "big")
        minus_g = b"\x04" + c.gx.to_bytes(c.size, "big") + (p - c.gy).to_bytes(c.size, "big")
        assert ec.from_secret(1, c.name).public_point() == g, c.name
        assert ec.from_secret(n - 1, c.name).public_point() == minus_g, c.name
        for k in (2, 3, 4, 15, 16, 17, 255, 256, 257, (n - 1) // 2, (n + 1) // 2, n - 2, n - 3,
                  (1 << (8 * c.size - 1)) + 1, 0x5555 << 200):
            want = _affine(c, _ref_mul(c, k, c.gx, c.gy))
            assert _affine(c, ec._comb(c, k)) == want, "%s k=%x" % (c.name, k)
            assert _affine(c, ec._muladd(c, k, 0, c.gx, c.gy)) == want, "%s k=%x" % (c.name, k)
            assert _affine(c, ec._muladd(c, 0, k, c.gx, c.gy)) == want, "%s k=%x" % (c.name, k)


def _shapes():
    # (w, groups); kept small on MicroPython, where a built table costs heap
    out = [(4, 1), (3, 4), (5, 2), (2, 8), (4, 64)]
    if sys.implementation.name != "micropython":
        out.append((6, 1))
    return out


def _reshaped(c, w, groups):
    return ec._Curve(c.name, c.p, c.b, c.n, c.gx, c.gy, c.size, c.oid, c.sig_oid,
                     c.hash_name, w, groups, False)


def test_comb_shapes_agree():
    ks = [1, 2, 0x1234567, N256 - 1, P256_X, 0xA6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60]
    for w, groups in _shapes():
        c = _reshaped(ec._P256, w, groups)
        for k in ks:
            want = _affine(ec._P256, ec._comb(ec._P256, k))
            assert _affine(c, ec._comb(c, k)) == want, "w=%d groups=%d k=%x" % (w, groups, k)
    c = _reshaped(ec._P384, 5, 3)
    assert _affine(c, ec._comb(c, P384_X)) == _affine(ec._P384, ec._comb(ec._P384, P384_X))


def test_p256_constant_table():
    # tinyest/ec_p256.py (row 0) and ec_p256c.py (the other rows) hold what the
    # table builder makes for P-256's shape, with row 0 extended to more odd
    # multiples of G (verification reads them); verification loads row 0 alone
    sys.modules.pop("tinyest.ec_p256c", None)
    c = ec._P256
    c.tab = None
    assert len(c.table(False)) == 1 and "tinyest.ec_p256c" not in sys.modules
    assert c.const is True
    built = ec_p384.build_table(_reshaped(c, c.w, c.groups))
    tab = c.table()
    assert len(tab) == len(built) == c.digits // c.groups
    assert tab[1:] == built[1:]
    row = len(built[0])
    assert tab[0][:row] == built[0] and len(tab[0]) % row == 0
    g = ec._multiples(c.p, c.size, c.gx, c.gy, len(tab[0]) // (2 * c.size))
    assert tab[0] == g
    assert ec._P384.const is False and len(ec._P384.table()) == ec._P384.digits // ec._P384.groups


def _code_value(code):
    """The signed digit of a digit code of ec._ladder."""
    return code if code & 1 else 1 - code


def test_digit_recodings():
    for c in (ec._P256, ec._P384):
        n, w, L = c.n, c.w, c.digits
        for k in (1, 2, 3, n - 1, n - 2, n // 2, P256_X % n, (1 << (8 * c.size - 1)) + 1):
            dig = ec._digits(k, n, w, L)
            vals = [_code_value(d) for d in dig]
            assert all(v & 1 and -(1 << w) < v < (1 << w) for v in vals), k
            assert sum(v << (w * i) for i, v in enumerate(vals)) % n == k, "%s k=%x" % (c.name, k)
        for width in (2, 3, 5, 7, 8):
            for k in (0, 1, 7, 1 << 200, n - 1, P256_X % n, 0x5555 << 150):
                naf = ec._naf(k, width, 8 * c.size + 1)
                vals = [_code_value(d) if d else 0 for d in naf]
                assert sum(v << i for i, v in enumerate(vals)) == k, "%d %x" % (width, k)
                nz = [i for i, v in enumerate(vals) if v]
                assert all(-(1 << (width - 1)) < vals[i] < (1 << (width - 1)) for i in nz)
                assert all(b - a >= width for a, b in zip(nz, nz[1:])), "%d %x" % (width, k)


def _last_addition_doubles(c):
    """Scalars whose last comb addition is P + P: the digit v at the last
    position L - groups (row T-1, column 0) with k = 2*v*2**(w*(L - groups))."""
    n, w, L = c.n, c.w, c.digits
    i = L - c.groups
    out = []
    for v in range(1 - (1 << w), 1 << w, 2):
        k = 2 * v * (1 << (w * i)) % n
        if _code_value(ec._digits(k, n, w, L)[i]) == v:
            out.append(k)
    return out


def test_comb_exceptional_doubling():
    # The addition formula cannot add a point to itself; _madd (taken for the
    # first addition and for exceptional cases only) must double instead.
    calls = []
    madd = ec._madd

    def counting(*args):
        calls.append(1)
        return madd(*args)

    shapes = [(ec._P256, None), (ec._P384, None), (ec._P256, (4, 1)), (ec._P256, (7, 1)),
              (ec._P384, (4, 1))]
    try:
        for base, shape in shapes:
            c = base if shape is None else _reshaped(base, shape[0], shape[1])
            c.table()  # built (with _madd) before counting
            ks = _last_addition_doubles(c)
            assert ks, (c.name, shape)
            for k in ks:
                want = _affine(c, _ref_mul(c, k, c.gx, c.gy))
                del calls[:]
                ec._madd = counting
                got = ec._comb(c, k)
                ec._madd = madd
                assert len(calls) == 2, (c.name, shape, len(calls))
                assert _affine(c, got) == want, "%s %s k=%x" % (c.name, shape, k)
    finally:
        ec._madd = madd


def test_point_addition_cases():
    for c in (ec._P256, ec._P384):
        p = c.p
        two_g = ec._dbl(p, c.gx, c.gy, 1)
        assert _affine(c, ec._madd(p, c.gx, c.gy, 1, c.gx, c.gy)) == _affine(c, two_g)
        assert ec._madd(p, c.gx, c.gy, 1, c.gx, p - c.gy)[2] == 0  # G + (-G)
        assert ec._madd(p, 1, 1, 0, c.gx, c.gy) == (c.gx, c.gy, 1)  # O + G
        assert ec._dbl(p, 1, 1, 0)[2] == 0  # 2*O = O
        three = _affine(c, ec._madd(p, two_g[0], two_g[1], two_g[2], c.gx, c.gy))
        assert three == _affine(c, _ref_mul(c, 3, c.gx, c.gy))
        # the odd multiples (built without an inversion, on an isomorphic curve)
        pts = _points(c, ec._multiples(p, c.size, c.gx, c.gy, 5, 7))
        assert len(pts) == 6
        for i in range(5):
            assert pts[i] == _affine(c, _ref_mul(c, 2 * i + 1, c.gx, c.gy)), i
        assert pts[5] == _affine(c, _ref_mul(c, 1 << 7, c.gx, c.gy))


def test_verification_exceptional_additions():
    # public keys G and -G: the two interleaved additions meet the same point,
    # or its negation, at the same digit position
    for c in (ec._P256, ec._P384):
        for d in (1, c.n - 1, 2):
            key = ec.from_secret(d, c.name)
            for digest in (b"\x01" * c.size, hashes.new(c.hash_name, b"x").digest()):
                sig = key.sign_digest(digest)
                assert ec.verify(c.name, key.public_point(), digest, sig), (c.name, d)
        for u in (1, 5, 0x1234, c.n - 1):
            want = _affine(c, _ref_mul(c, 2 * u % c.n, c.gx, c.gy))
            assert _affine(c, ec._muladd(c, u, u, c.gx, c.gy)) == want, u
            assert ec._muladd(c, u, c.n - u, c.gx, c.gy)[2] == 0, u


def test_inverses():
    for c in (ec._P256, ec._P384):
        for m in (c.p, c.n):
            for x in (1, 2, 3, c.gx, c.gy, m - 1, m + 5, (1 << 130) + 1):
                assert ec._inv(x, m) * x % m == 1
                assert ec._binv(x, m, b"k", b"\x01") == ec._inv(x, m)
            assert ec._inv(0, m) == 0 and ec._inv(m, m) == 0
            # Euclid runs on x*f, f = HMAC-SHA256(key, tag) mod m (or 1), not on x
            inv = ec._inv
            seen = []
            try:
                ec._inv = lambda v, mod: seen.append(v) or inv(v, mod)
                for key in (b"", b"k" * 48):
                    fs = []
                    for tag in (b"\x01", b"\x02"):
                        assert ec._binv(c.gx, m, key, tag) == inv(c.gx, m)
                        f = int.from_bytes(hashes.hmac("sha256", key, tag), "big") % m or 1
                        assert 0 < f < m and seen.pop() == c.gx * f
                        fs.append(f)
                    assert fs[0] != fs[1]
            finally:
                ec._inv = inv


# ---------------------------------------------------------------- sign and verify


def test_sign_verify_round_trip():
    for curve in ("P-256", "P-384"):
        key = ec.generate(curve)
        other = ec.generate(curve)
        assert key.secret != other.secret
        assert 0 < key.secret < ec._curve(curve).n
        hname = ec._curve(curve).hash_name
        for msg in (b"", b"x", b"hello world" * 20):
            sig = key.sign(msg)
            digest = hashes.new(hname, msg).digest()
            assert ec.verify(curve, key.public_point(), digest, sig), curve
            assert ec.verify(curve, key.public_point(), bytearray(digest), memoryview(sig)), curve
            assert not ec.verify(curve, key.public_point(), hashes.new(hname, msg + b"!").digest(), sig)
            assert not ec.verify(curve, other.public_point(), digest, sig), curve
        assert key.sign(b"same") == key.sign(b"same")  # RFC 6979: deterministic


def test_verify_digest_reducing_to_zero():
    # e = 0 and e = n (mod n = 0) make u1 zero: verification then has no G term.
    for c in (ec._P256, ec._P384):
        key = ec.from_secret(12345, c.name)
        for digest in (bytes(c.size), c.n.to_bytes(c.size, "big")):
            sig = key.sign_digest(digest)
            assert ec.verify(c.name, key.public_point(), digest, sig), c.name
            assert not ec.verify(c.name, key.public_point(), b"\x01" + digest[1:], sig)


def test_verify_truncates_long_digests():
    # FIPS 186-4: a digest longer than n is cut to its leftmost bits.
    key = ec.from_secret(P256_X)
    d512 = hashes.sha512(b"sample")
    sig = key.sign_digest(d512)
    assert ec.verify("P-256", key.public_point(), d512, sig)
    assert ec.verify("P-256", key.public_point(), d512[:32], sig)
    assert ec.verify("P-256", key.public_point(), d512[:32] + b"\xff" * 8, sig)


def test_verify_rejects_hostile_signatures():
    key = ec.from_secret(P256_X)
    pt = key.public_point()
    digest = hashes.sha256(b"sample")
    good = key.sign_digest(digest)
    r, s = _rs(good)
    n = N256
    I = der.integer  # noqa: E741
    body = I(r) + I(s)
    cases = [
        ("r zero", der.seq(I(0), I(s))),
        ("s zero", der.seq(I(r), I(0))),
        ("r = n", der.seq(I(n), I(s))),
        ("s = n", der.seq(I(r), I(n))),
        ("r + n (congruent, too high)", der.seq(I(r + n), I(s))),
        ("s + n (congruent, too high)", der.seq(I(r), I(s + n))),
        ("r negative", der.seq(I(r - (1 << 256)), I(s))),
        ("s negative", der.seq(I(r), I(-s))),
        ("r flipped bit", der.seq(I(r ^ 1), I(s))),
        ("s flipped bit", der.seq(I(r), I(s ^ (1 << 100)))),
        ("r and s swapped", der.seq(I(s), I(r))),
        ("trailing byte", good + b"\x00"),
        ("trailing element", der.seq(I(r), I(s), I(1))),
        ("only r", der.seq(I(r))),
        ("empty sequence", b"\x30\x00"),
        ("empty", b""),
        ("SET instead of SEQUENCE", b"\x31" + good[1:]),
        ("OCTET STRING r", der.seq(der.octet_string(r.to_bytes(32, "big")), I(s))),
        ("non-minimal r", der.seq(der.tlv(der.INTEGER, b"\x00\x00" + r.to_bytes(32, "big")), I(s))),
        ("long-form length", b"\x30\x81" + bytes([len(body)]) + body),
        ("indefinite length", b"\x30\x80" + body + b"\x00\x00"),
        ("truncated", good[:-1]),
        ("length past the end", good[:1] + bytes([good[1] + 1]) + good[2:]),
        ("garbage", b"\xff" * 12),
    ]
    for name, sig in cases:
        assert ec.verify("P-256", pt, digest, sig) is False, name
    # ECDSA is malleable: (r, n - s) verifies too; this module does not enforce low s.
    assert ec.verify("P-256", pt, digest, der.seq(I(r), I(n - s)))


def test_verify_bad_public_keys():
    digest = hashes.sha256(b"sample")
    sig = ec.from_secret(P256_X).sign_digest(digest)
    off = bytearray(P256_U)
    off[-1] ^= 1
    big_x = b"\x04" + ec._P256.p.to_bytes(32, "big") + P256_U[33:]
    cases = [
        ("off the curve", bytes(off), CryptoError),
        ("x = p", big_x, CryptoError),
        ("infinity", b"\x00", CryptoError),
        ("empty", b"", FormatError),
        ("short", P256_U[:-1], FormatError),
        ("long", P256_U + b"\x00", FormatError),
        ("P-384 point", P384_U, FormatError),
        ("hybrid form", b"\x06" + P256_U[1:], FormatError),
        ("compressed, wrong length", b"\x02" + P256_U[1:], FormatError),
    ]
    for name, pt, exc in cases:
        raises(exc, ec.verify, "P-256", pt, digest, sig)
        raises(exc, ec.point_from_bytes, "P-256", pt)
    raises(FormatError, ec.verify, "P-521", P256_U, digest, sig)
    raises(FormatError, ec.verify, "secp256k1", P256_U, digest, sig)


def test_point_from_bytes_compressed():
    for curve, u in (("P-256", P256_U), ("P-384", P384_U)):
        c = ec._curve(curve)
        x, y = ec.point_from_bytes(curve, u)
        assert (x, y) == (int.from_bytes(u[1:1 + c.size], "big"), int.from_bytes(u[1 + c.size:], "big"))
        tag = 2 + (y & 1)
        assert ec.point_from_bytes(curve, bytes([tag]) + u[1:1 + c.size]) == (x, y), curve
        assert ec.point_from_bytes(curve, bytes([tag ^ 1]) + u[1:1 + c.size]) == (x, c.p - y), curve
        # an x with no point on the curve
        nx = 1
        while True:
            v = (nx * nx * nx - 3 * nx + c.b) % c.p
            if pow(v, (c.p - 1) // 2, c.p) != 1:
                break
            nx += 1
        raises(CryptoError, ec.point_from_bytes, curve, b"\x02" + nx.to_bytes(c.size, "big"))
        raises(CryptoError, ec.point_from_bytes, curve, b"\x03" + c.p.to_bytes(c.size, "big"))


def test_sign_digest_sizes():
    key = ec.from_secret(P256_X)
    for n in (0, 1, 20, 28, 31, 33, 47, 65):
        raises(CryptoError, key.sign_digest, bytes(n))


# ---------------------------------------------------------------- encodings


def test_key_encodings_match_cryptography():
    for curve, x, pkcs8, sec1, spki in (("P-256", P256_X, P256_PKCS8, P256_SEC1, P256_SPKI),
                                        ("P-384", P384_X, P384_PKCS8, P384_SEC1, P384_SPKI)):
        key = ec.from_secret(x, curve)
        assert key.to_der() == pkcs8, curve
        assert key.to_sec1() == sec1, curve
        assert key.public_key_der() == spki, curve
        for blob in (pkcs8, sec1, bytearray(pkcs8), memoryview(sec1)):
            k2 = ec.from_der(blob)
            assert (k2.curve, k2.secret) == (curve, x), curve


def test_algorithm_der():
    assert ec.from_secret(5).algorithm_der() == h("300a06082a8648ce3d040302")
    assert ec.from_secret(5, "P-384").algorithm_der() == h("300a06082a8648ce3d040303")


def test_generated_keys_round_trip():
    for curve in ("P-256", "P-384"):
        key = ec.generate(curve)
        for blob in (key.to_der(), key.to_sec1()):
            k2 = ec.from_der(blob)
            assert (k2.curve, k2.secret) == (curve, key.secret)
            assert k2.public_point() == key.public_point()
            assert k2.sign(b"m") == key.sign(b"m")


def _sec1(secret_octets, params=None, pub=None, version=1):
    parts = [der.integer(version), der.octet_string(secret_octets)]
    if params is not None:
        parts.append(der.explicit(0, params))
    if pub is not None:
        parts.append(der.explicit(1, der.bit_string(pub)))
    return der.seq(*parts)


def _pkcs8(inner, alg_oid=OID_EC, curve=None, version=0, extra=b""):
    alg = der.seq(der.oid(alg_oid), curve if curve is not None else der.oid(OID_P256))
    return der.seq(der.integer(version), alg, der.octet_string(inner), extra)


def test_from_der_variants_accepted():
    x32 = P256_X.to_bytes(32, "big")
    short = ec.from_secret(0xFF).to_sec1()
    cases = [
        ("SEC1 without public key", _sec1(x32, der.oid(OID_P256)), P256_X),
        ("PKCS#8, inner without public key", _pkcs8(_sec1(x32)), P256_X),
        ("PKCS#8, inner with matching params", _pkcs8(_sec1(x32, der.oid(OID_P256), P256_U)), P256_X),
        ("PKCS#8 with attributes", _pkcs8(_sec1(x32), extra=der_extra.implicit(0, b"", True)), P256_X),
        ("SEC1, leading zeros dropped", _sec1(b"\xff", der.oid(OID_P256)), 0xFF),
        ("SEC1 made here", short, 0xFF),
    ]
    for name, blob, secret in cases:
        assert ec.from_der(blob).secret == secret, name


def test_from_der_bad_inputs():
    x32 = P256_X.to_bytes(32, "big")
    other_pub = ec.from_secret(P256_X + 1).public_point()
    off_curve = P256_U[:-1] + bytes([P256_U[-1] ^ 1])
    n = N256
    cases = [
        ("empty", b"", DERError),
        ("truncated PKCS#8", P256_PKCS8[:-1], DERError),
        ("truncated SEC1", P256_SEC1[:40], DERError),
        ("trailing byte", P256_PKCS8 + b"\x00", DERError),
        ("not a sequence", der.octet_string(x32), DERError),
        ("indefinite length", b"\x30\x80" + P256_SEC1[2:] + b"\x00\x00", DERError),
        ("no version", der.seq(der.octet_string(x32)), DERError),
        ("SEC1 version 2", _sec1(x32, der.oid(OID_P256), version=2), FormatError),
        ("PKCS#8 version 2", _pkcs8(_sec1(x32), version=2), FormatError),
        ("inner version 0", _pkcs8(_sec1(x32, version=0)), FormatError),
        ("SEC1 without curve", _sec1(x32), FormatError),
        ("SEC1 on secp256k1", _sec1(x32, der.oid(OID_SECP256K1)), FormatError),
        ("PKCS#8 on secp256k1", _pkcs8(_sec1(x32), curve=der.oid(OID_SECP256K1)), FormatError),
        ("PKCS#8 RSA", _pkcs8(_sec1(x32), alg_oid=OID_RSA, curve=der.null()), FormatError),
        ("explicit parameters", _pkcs8(_sec1(x32), curve=der.seq(der.integer(1))), FormatError),
        ("implicitCA parameters", _pkcs8(_sec1(x32), curve=der.null()), FormatError),
        ("no curve in algorithm", der.seq(der.integer(0), der.seq(der.oid(OID_EC)),
                                          der.octet_string(_sec1(x32))), FormatError),
        ("curves differ", _pkcs8(_sec1(x32, der.oid(OID_P384))), FormatError),
        ("secret too long", _sec1(b"\x00" + x32, der.oid(OID_P256)), FormatError),
        ("secret empty", _sec1(b"", der.oid(OID_P256)), FormatError),
        ("secret 0", _sec1(bytes(32), der.oid(OID_P256)), CryptoError),
        ("secret n", _sec1(n.to_bytes(32, "big"), der.oid(OID_P256)), CryptoError),
        ("secret all ones", _sec1(b"\xff" * 32, der.oid(OID_P256)), CryptoError),
        ("public key mismatch", _sec1(x32, der.oid(OID_P256), other_pub), CryptoError),
        ("public key mismatch in PKCS#8", _pkcs8(_sec1(x32, None, other_pub)), CryptoError),
        ("public key off the curve", _sec1(x32, der.oid(OID_P256), off_curve), CryptoError),
        ("public key of P-384 size", _sec1(x32, der.oid(OID_P256), P384_U), FormatError),
        ("public key with unused bits", der.seq(der.integer(1), der.octet_string(x32),
                                                der.explicit(0, der.oid(OID_P256)),
                                                der.explicit(1, der.bit_string(P256_U[:-1] + b"\x80", 1))),
         DERError),
        ("inner trailing bytes", _pkcs8(_sec1(x32) + b"\x00"), DERError),
        ("fields out of order", der.seq(der.integer(1), der.octet_string(x32),
                                        der.explicit(1, der.bit_string(P256_U)),
                                        der.explicit(0, der.oid(OID_P256))), DERError),
        ("params not an OID", _sec1(x32, der.null()), DERError),
    ]
    for name, blob, exc in cases:
        e = raises(Exception, ec.from_der, blob)
        assert isinstance(e, exc), "%s: %r" % (name, e)


def test_from_secret_checks():
    n = N256
    for bad in (0, -1, n, n + 1, 1 << 256):
        raises(CryptoError, ec.from_secret, bad)
    raises(CryptoError, ec.from_secret, N384, "P-384")
    for bad in (b"", bytes(32), b"\x01" * 33, n.to_bytes(32, "big")):
        raises(CryptoError, ec.from_secret, bad)
    raises(FormatError, ec.from_secret, 1, "P-521")
    raises(FormatError, ec.generate, "prime256v1")
    assert ec.from_secret(b"\x01").secret == 1
    assert ec.from_secret(bytearray(b"\x00\x02")).secret == 2
    assert ec.from_secret(n - 1).secret == n - 1


def test_arithmetic_lifts_a_collection_threshold_and_restores_it():
    import gc

    th = getattr(gc, "threshold", None)  # MicroPython only
    if th is None:
        return
    was = th()
    try:
        th(4096)
        k = ec.from_secret((5).to_bytes(32, "big"))
        sig = k.sign(b"m")
        assert th() == 4096
        th(-1)
        k.sign(b"n")
        assert th() == -1 and sig
    finally:
        th(was)


def test_point_loop_is_python_where_the_thumb_code_cannot_load():
    # tinyest.ec_thumb loads on MicroPython on an ARM Thumb core only (tests/rp2
    # runs it there); on CPython and the x86/x64 MicroPython ports tinyest.ec
    # keeps its own loop, for every curve, after trying it once.
    for c in (ec._P256, ec._P384):
        assert ec._loop(c) is ec._ladder
    assert ec._fast is None
