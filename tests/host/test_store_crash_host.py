"""Credential store under power loss, with real keys and certificates from
`cryptography` as the independent judge of "key and certificate match", plus long
seeded random runs of updates and crashes (including crashes while recovering)."""
import datetime
import os
import random

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID

from store_crash import CrashFs, PowerLoss, clear_dir, sweep_files
from tinyest import der, store
from tinyest.errors import StoreError
from tinyest.store import Credentials, OsFs, Pending, Store

DER = serialization.Encoding.DER
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def _name(cn):
    return cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject_key, cn, issuer_key, issuer_cn, ca=False):
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    b = (cx509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(issuer_cn))
         .public_key(subject_key.public_key()).serial_number(cx509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
         .add_extension(cx509.BasicConstraints(ca=ca, path_length=None), critical=True))
    algo = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b.sign(issuer_key, algo).public_bytes(DER)


def _key_der(k):
    return k.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


_judged = {}


def oracle_pair_ok(key_der, cert_der):
    pair = (bytes(key_der), bytes(cert_der))
    if pair not in _judged:  # loading an RSA key checks it: slow, so remember the verdict
        key = serialization.load_der_private_key(pair[0], None)
        cert = cx509.load_der_x509_certificate(pair[1])
        _judged[pair] = key.public_key().public_bytes(DER, SPKI) == cert.public_key().public_bytes(DER, SPKI)
    return _judged[pair]


@pytest.fixture(scope="module")
def pki():
    ca1 = ed25519.Ed25519PrivateKey.generate()
    ca2 = ed25519.Ed25519PrivateKey.generate()
    keys = [ed25519.Ed25519PrivateKey.generate() for _ in range(3)] + [rsa.generate_private_key(65537, 2048)]
    p = {
        "ca1": _cert(ca1, "CA 1", ca1, "CA 1", ca=True),
        "ca2": _cert(ca2, "CA 2", ca2, "CA 2", ca=True),
        "keys": [_key_der(k) for k in keys],
    }
    p["certs"] = [_cert(k, "device %d" % i, ca1, "CA 1") for i, k in enumerate(keys)]
    return p


@pytest.fixture()
def root(tmp_path):
    path = str(tmp_path / "store")
    os.mkdir(path)
    yield path
    clear_dir(path, True)


def _enrolled(pki, i, password=None):
    c = Credentials()
    c.config = {"host": "est.example.com", "port": 8443, "label": "devices"}
    c.trust = [pki["ca1"]]
    c.boot_user = "dev" if password else None
    c.boot_password = password
    c.key_der = pki["keys"][i]
    c.chain = [pki["certs"][i], pki["ca1"]]
    c.enrolled_at = 1700000000
    return c


def test_key_matches_agrees_with_cryptography(pki):
    for i, k in enumerate(pki["keys"]):
        for j, c in enumerate(pki["certs"]):
            assert store.key_matches(k, c) == oracle_pair_ok(k, c) == (i == j), (i, j)


def test_commit_enrollment_refuses_a_foreign_certificate(pki, root):
    s = Store(root)
    s.commit(_enrolled(pki, 0, "pw"))
    with pytest.raises(StoreError):
        s.commit_enrollment(pki["keys"][1], [pki["certs"][2], pki["ca1"]])
    assert s.load() == _enrolled(pki, 0, "pw")


def _scenarios(pki):
    def setup_with(c):
        def setup(s):
            s.commit(_enrolled(pki, 2))
            s.commit(c)
        return setup

    return [
        ("first enrollment erasing the password", setup_with(_enrolled(pki, 0, "pw")),
         lambda s: s.commit_enrollment(pki["keys"][1], [pki["certs"][1], pki["ca1"]], now=1700001000)),
        ("renewal to an RSA key", setup_with(_enrolled(pki, 0)),
         lambda s: s.commit_enrollment(pki["keys"][3], [pki["certs"][3], pki["ca1"]], now=1700002000)),
        ("trust anchor rollover", setup_with(_enrolled(pki, 0)),
         lambda s: s.update(trust=[pki["ca1"], pki["ca2"]], cacerts_at=1700003000)),
        ("pending reenroll", setup_with(_enrolled(pki, 0)),
         lambda s: s.update(pending=Pending("simplereenroll", b"\x30\x00", pki["keys"][1], 1700004000, 2))),
        ("wipe", setup_with(_enrolled(pki, 0, "pw")), lambda s: s.wipe()),
    ]


@pytest.mark.parametrize("fat", [False, True], ids=["atomic-rename", "fat-remove-then-rename"])
def test_every_crash_point_with_real_certificates(pki, root, fat):
    total = 0
    for name, setup, change in _scenarios(pki):
        for torn in (True, False):
            n, n_old, n_new = sweep_files(root, setup, change, oracle_pair_ok, fat=fat, torn=torn)
            assert n_old >= 1 and (n_new >= 1 or name == "wipe"), name
            total += n
    print("\nstore crash points with real certificates (%s): %d" % ("FAT" if fat else "atomic", total))
    assert total >= 250


def _random_change(rng, pki, c):
    """A new snapshot derived from c by one random step, and the call that makes it."""
    kind = rng.randrange(5)
    if kind == 0 and not c.enrolled or kind == 1:
        i = rng.randrange(len(pki["keys"]))
        return "enroll", lambda s: s.commit_enrollment(pki["keys"][i], [pki["certs"][i], pki["ca1"]],
                                                       erase_bootstrap=rng.random() < 0.5, now=rng.randrange(1 << 40))
    if kind == 2:
        trust = rng.choice([[pki["ca1"]], [pki["ca1"], pki["ca2"]], [pki["ca2"]]])
        return "trust", lambda s: s.update(trust=trust, cacerts_at=rng.randrange(1 << 32))
    if kind == 3:
        p = rng.choice([None, Pending("simplereenroll", der.seq(os.urandom(rng.randrange(1, 600))), pki["keys"][1],
                                      rng.randrange(1 << 32), rng.randrange(10))])
        return "pending", lambda s: s.update(pending=p)
    cfg = dict(c.config)
    cfg["n%d" % rng.randrange(8)] = rng.choice([rng.randrange(-1000, 1000), "x" * rng.randrange(40), True,
                                                os.urandom(rng.randrange(20))])
    return "config", lambda s: s.update(config=cfg, boot_password=rng.choice([None, "pw", "\x00pw"]))


@pytest.mark.parametrize("fat", [False, True], ids=["atomic-rename", "fat-remove-then-rename"])
def test_random_runs_of_updates_and_crashes(pki, root, fat):
    """Hundreds of steps; about half lose power at a random operation, some of them
    in the commit that follows an earlier crash. The store must always load the last
    completed state or the interrupted one, never go back a generation, and keep a
    matching key and certificate."""
    rng = random.Random(7030 + fat)
    s = Store(root)
    s.commit(_enrolled(pki, 0, "pw"))
    current = s.load()
    crashes = 0
    for step in range(300):
        what, change = _random_change(rng, pki, current)
        cfs = CrashFs(OsFs(), crash_at=rng.randrange(1, 40) if rng.random() < 0.5 else -1, fat=fat,
                      torn=rng.random() < 0.5)
        try:
            change(Store(root, cfs))
            crashed = False
        except PowerLoss:
            crashed = True
            crashes += 1
        got = Store(root).load()
        if not crashed:
            assert got.generation > current.generation, (step, what)
        else:
            assert got.generation >= current.generation, (step, what)
            if got.generation == current.generation:
                assert got == current, (step, what)
        if got.key_der is not None:
            assert oracle_pair_ok(got.key_der, got.chain[0]), (step, what)
        current = got
    assert crashes > 100
    print("\nrandom run (%s): 300 steps, %d power losses" % ("FAT" if fat else "atomic", crashes))


def test_os_fs_syncs_the_file_and_the_directory(monkeypatch, root, pki):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.path.basename(os.readlink("/proc/self/fd/%d" % fd)))
        real(fd)

    monkeypatch.setattr(store, "_fsync", fsync)
    Store(root).commit(_enrolled(pki, 0))
    assert synced == ["cred.tmp", "store"]
    assert sorted(os.listdir(root)) == ["cred.a"]
