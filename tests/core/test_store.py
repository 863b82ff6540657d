"""Credential store: round trips, fallback to the older generation, refusals, field
types checked both ways, PEM stored as DER, key/certificate pairs, the generation
counter's wrap, a slot file of the first revision, and power loss at every crash
point (file level on both runtimes; block level on MicroPython's own FAT and
littlefs drivers)."""
import hashlib
import os
import struct

from tinyest import pem, store
from tinyest.errors import EstError, StoreError
from tinyest.store import Credentials, Pending, Store
from store_crash import CrashFs, PowerLoss, clear_dir, make_cert, sweep_files, sweep_flash, temp_dir
from _t import raises, vector

KEY_A = vector("keys_rsa2048_pkcs1.der")
SPKI_A = vector("keys_rsa2048_spki.der")
KEY_B = vector("keys_rsa4096_pkcs1.der")
SPKI_B = vector("keys_rsa4096_spki.der")
CERT_A = make_cert(SPKI_A, "device A", 10)
CERT_B = make_cert(SPKI_B, "device B", 11)
CA_1 = make_cert(SPKI_B, "CA 1", 1)
CA_2 = make_cert(SPKI_A, "CA 2", 2)
SPKI_OF = {KEY_A: SPKI_A, KEY_B: SPKI_B}


def pair_ok(key_der, cert_der):
    # independent of tinyest.store: the key's SPKI (from the vectors) sits inside the certificate
    return bytes(SPKI_OF[bytes(key_der)]) in bytes(cert_der)


def full():
    c = Credentials()
    c.config = {"host": "est.example.com", "port": 8443, "label": "arbitrary", "flag": True, "off": False,
                "neg": -(1 << 63), "big": (1 << 63) - 1, "zero": 0, "blob": b"\x00\xff", "empty": "",
                "nothing": b"", "utf8": "gr\u00fc\u00df \u20ac"}
    c.trust = [CA_1, CA_2]
    c.boot_user = "device-1"
    c.boot_password = "s3cret \u00e9"
    c.boot_key = KEY_B
    c.boot_chain = [CERT_B, CA_1]
    c.key_der = KEY_A
    c.chain = [CERT_A, CA_1]
    c.pending = Pending("simplereenroll", b"\x30\x03\x02\x01\x05", KEY_B, 1700000000, 3)
    c.enrolled_at = 1690000000
    c.cacerts_at = 1690000100
    c.time_offset = -946684800
    return c


def test_unprovisioned():
    root = temp_dir()
    try:
        for path in (root, root + "/absent"):
            c = Store(path).load()
            assert c == Credentials(), path
            assert c.generation == 0 and not c.enrolled and c.key_der is None and c.pending is None
            assert c.config == {} and c.trust == [] and c.chain == [] and c.boot_chain == []
        Store(root + "/absent").wipe()
    finally:
        clear_dir(root, True)


def test_round_trip_every_field():
    root = temp_dir()
    try:
        c = full()
        assert Store(root).commit(c) == 1 and c.generation == 1
        got = Store(root + "/").load()
        assert got == c and got.generation == 1 and got.enrolled
        for k in c.config:
            assert got.config[k] == c.config[k] and type(got.config[k]) is type(c.config[k]), k
        assert got.trust == [CA_1, CA_2] and got.chain == [CERT_A, CA_1] and got.boot_chain == [CERT_B, CA_1]
        assert got.key_der == KEY_A and got.boot_key == KEY_B and isinstance(got.key_der, bytes)
        assert got.boot_user == "device-1" and got.boot_password == "s3cret \u00e9"
        p = got.pending
        assert (p.op, p.csr, p.key_der, p.retry_at, p.attempts) == \
            ("simplereenroll", b"\x30\x03\x02\x01\x05", KEY_B, 1700000000, 3)
        assert (got.enrolled_at, got.cacerts_at, got.time_offset) == (1690000000, 1690000100, -946684800)
        # bytearray/memoryview DER, a pending with only op, cleared fields
        got.boot_password = "\x00\x01raw"
        got.trust = [bytearray(CA_2), memoryview(CA_1)]
        got.pending = Pending("cacerts")
        got.chain = []
        got.key_der = None
        got.time_offset = None
        assert Store(root).commit(got) == 2
        again = Store(root).load()
        assert again.boot_password == "\x00\x01raw" and again.trust == [CA_2, CA_1]
        assert again.pending == Pending("cacerts") and again.pending.attempts == 0
        assert again.pending.csr is None and again.pending.retry_at is None
        assert again.key_der is None and again.chain == [] and again.time_offset is None and not again.enrolled
        assert again.generation == 2 and again != c
        assert sorted(os.listdir(root)) == ["cred.a", "cred.b"]
    finally:
        clear_dir(root, True)


def test_update():
    root = temp_dir()
    try:
        s = Store(root)
        s.commit(full())
        got = s.update(trust=[CA_2], pending=None, cacerts_at=5)
        assert got.generation == 2
        again = s.load()
        assert again == got and again.trust == [CA_2] and again.pending is None and again.cacerts_at == 5
        assert again.chain == [CERT_A, CA_1]
        raises(StoreError, s.update, no_such_field=1)
        raises(StoreError, s.update, generation=7)
        assert s.load().generation == 2
    finally:
        clear_dir(root, True)


def _newest(root, gen):
    return root + ("/cred.a" if gen % 2 else "/cred.b")


def _damage(path, how):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if how == "delete":
        os.remove(path)
        return
    if how.startswith("flip"):
        data[int(how[5:]) % len(data)] ^= 0x01
    elif how == "truncate by one":
        data = data[:-1]
    elif how == "header only":
        data = data[:16]
    elif how == "empty":
        data = b""
    elif how == "extra byte":
        data = data + b"\x00"
    with open(path, "wb") as f:
        f.write(data)


DAMAGE = ["delete", "flip 0", "flip 9", "flip 13", "flip 15", "flip 40", "flip 700", "flip -1", "flip -33",
          "truncate by one", "header only", "empty", "extra byte"]


def test_fallback_to_older_generation():
    root = temp_dir()
    try:
        for how in DAMAGE:
            clear_dir(root)
            s = Store(root)
            older = full()
            s.commit(older)
            newer = full()
            newer.key_der = KEY_B
            newer.chain = [CERT_B]
            s.commit(newer)
            assert s.load() == newer
            _damage(_newest(root, 2), how)
            got = Store(root).load()
            assert got == older and got.generation == 1, how
            # the damaged slot is the one the next commit replaces
            got.config["next"] = 1
            assert s.commit(got) == 2, how
            assert Store(root).load() == got, how
            assert Store(root).load().generation == 2, how
    finally:
        clear_dir(root, True)


def test_no_intact_generation_and_wipe():
    root = temp_dir()
    try:
        s = Store(root)
        s.commit(full())
        s.commit(full())
        _damage(root + "/cred.a", "flip 30")
        _damage(root + "/cred.b", "truncate by one")
        raises(StoreError, s.load)
        s.wipe()
        assert os.listdir(root) == [] and s.load() == Credentials()
        s.commit(full())
        assert s.load() == full()
        with open(root + "/cred.tmp", "wb") as f:
            f.write(b"leftover")
        s.wipe()
        assert os.listdir(root) == []
        s.wipe()
    finally:
        clear_dir(root, True)


def test_refusals_leave_the_store_untouched():
    root = temp_dir()
    try:
        s = Store(root)
        s.commit(full())
        bad = [
            ("config value None", "config", {"a": None}),
            ("config name not str", "config", {1: "a"}),
            ("config empty name", "config", {"": 1}),
            ("config name too long", "config", {"n" * 256: 1}),
            ("config not a dict", "config", [("a", 1)]),
            ("config float", "config", {"a": 1.5}),
            ("int too big", "enrolled_at", 1 << 63),
            ("int too small", "time_offset", -(1 << 63) - 1),
            ("trust not a list", "trust", CA_1),
            ("trust item str", "trust", ["pem text"]),
            ("trust item empty", "trust", [b""]),
            ("key as str", "key_der", "key"),
            ("chain item int", "chain", [5]),
            ("pending not Pending", "pending", ("simpleenroll", None)),
            ("pending op bytes", "pending", Pending(b"simpleenroll")),
            ("pending csr str", "pending", Pending("simpleenroll", "csr")),
            ("record too long", "boot_key", bytes(65535)),
            ("body too large", "trust", [bytes(30000), bytes(30000), bytes(6000)]),
        ]
        for name, field, value in bad:
            c = full()
            setattr(c, field, value)
            raises(StoreError, s.commit, c)
            got = s.load()
            assert got == full() and got.generation == 1, name
        assert sorted(os.listdir(root)) == ["cred.a"]
        raises(StoreError, Store, "")
    finally:
        clear_dir(root, True)


def test_commit_enrollment():
    root = temp_dir()
    try:
        s = Store(root)
        c = Credentials()
        c.config = {"host": "est.example.com"}
        c.trust = [CA_1]
        c.boot_user = "dev"
        c.boot_password = "one-time-PASSWORD"
        c.boot_key = KEY_B
        c.boot_chain = [CERT_B]
        c.pending = Pending("simpleenroll", b"\x30\x00", KEY_A, 100, 1)
        s.commit(c)
        # refusals: mismatched pair, empty chain, no key; nothing changes
        for args in ((KEY_A, [CERT_B, CA_1]), (KEY_B, [CERT_A]), (KEY_A, []), (None, [CERT_A]), (b"", [CERT_A])):
            e = raises(StoreError, s.commit_enrollment, *args)
            assert s.load() == c and s.load().generation == 1, str(e)
        assert store.key_matches(KEY_A, CERT_A) and store.key_matches(KEY_B, CERT_B)
        assert not store.key_matches(KEY_A, CERT_B)
        got = s.commit_enrollment(KEY_A, [CERT_A, CA_1], now=1234)
        loaded = s.load()
        assert loaded == got and loaded.generation == 3  # written twice: no slot keeps the password
        assert loaded.key_der == KEY_A and loaded.chain == [CERT_A, CA_1] and loaded.enrolled_at == 1234
        assert loaded.boot_user is None and loaded.boot_password is None and loaded.pending is None
        assert loaded.boot_key == KEY_B and loaded.boot_chain == [CERT_B]  # a factory identity stays
        assert loaded.trust == [CA_1] and loaded.config == {"host": "est.example.com"}
        for name in os.listdir(root):
            with open(root + "/" + name, "rb") as f:
                assert b"one-time-PASSWORD" not in f.read(), name
        # a renewal without a password to erase writes once; erase_bootstrap=False keeps it
        got = s.commit_enrollment(KEY_B, [CERT_B], now=5678)
        assert got.generation == 4 and s.load().enrolled_at == 5678
        s.update(boot_password="again")
        got = s.commit_enrollment(KEY_A, [CERT_A], erase_bootstrap=False)
        assert got.generation == 6 and s.load().boot_password == "again" and s.load().enrolled_at == 5678
        # the key object itself: its DER is stored, its own public key compared
        from tinyest import keys

        raises(StoreError, s.commit_enrollment, keys.load_private(KEY_B), [CERT_A])
        assert s.load().generation == 6
        got = s.commit_enrollment(keys.load_private(KEY_B), [CERT_B, CA_1], erase_bootstrap=False)
        assert got.generation == 7 and s.load().key_der == keys.load_private(KEY_B).to_der()
        assert s.load().chain == [CERT_B, CA_1]
    finally:
        clear_dir(root, True)


def _hand_made(version, seq, records):
    """A slot file built from the format described in the module text."""
    body = b""
    for tag, value in records:
        body += struct.pack(">BH", tag, len(value)) + value
    head = b"tEST" + struct.pack(">HHII", version, 0, seq, len(body))
    return head + body + hashlib.sha256(head + body).digest()


def test_format_as_documented():
    root = temp_dir()
    try:
        records = [(1, b"\x04host" + b"s" + b"est.example"), (1, b"\x04port" + b"i" + struct.pack(">q", 443)),
                   (1, b"\x02on" + b"T"), (2, b"b" + CA_1), (2, b"b" + CA_2), (7, b"b" + KEY_A),
                   (8, b"b" + CERT_A), (9, b"s" + b"simpleenroll"), (13, b"i" + struct.pack(">q", 2)),
                   (16, b"i" + struct.pack(">q", -5))]
        with open(root + "/cred.b", "wb") as f:
            f.write(_hand_made(1, 7, records))
        got = Store(root).load()
        assert got.generation == 7
        assert got.config == {"host": "est.example", "port": 443, "on": True}
        assert got.trust == [CA_1, CA_2] and got.key_der == KEY_A and got.chain == [CERT_A]
        assert got.pending == Pending("simpleenroll", attempts=2) and got.time_offset == -5
        # the store writes the same bytes: config sorted by name, then the fields, then pending
        got.generation = 0
        Store(root).commit(got)
        with open(root + "/cred.a", "rb") as f:
            written = f.read()
        order = [records[0], records[2], records[1]] + records[3:7] + [records[9]] + records[7:9]
        assert written == _hand_made(1, 8, order)
        # a field of a later revision is skipped, with any type octet
        with open(root + "/cred.a", "wb") as f:
            f.write(_hand_made(1, 9, records + [(99, b"?xyz")]))
        got = Store(root).load()
        assert got.generation == 9 and got.trust == [CA_1, CA_2]
        # an intact newest generation of another version is refused, not skipped
        with open(root + "/cred.a", "wb") as f:
            f.write(_hand_made(2, 10, records))
        raises(StoreError, Store(root).load)
        # intact but malformed contents are an error, not a fallback
        for name, recs in [("bad type", [(2, b"x" + CA_1)]), ("bad utf-8", [(3, b"s\xff")]),
                           ("bad int", [(14, b"i\x00")]), ("empty record", [(2, b"")]),
                           ("bool with data", [(1, b"\x01aT\x00")]), ("config name overrun", [(1, b"\x09ab")]),
                           ("pending without op", [(13, b"i" + struct.pack(">q", 2))])]:
            with open(root + "/cred.a", "wb") as f:
                f.write(_hand_made(1, 11, recs))
            raises(StoreError, Store(root).load)
        head = b"tEST" + struct.pack(">HHII", 1, 0, 12, 5)  # a record header claiming more than the body
        body = struct.pack(">BH", 2, 40) + b"bx"
        with open(root + "/cred.a", "wb") as f:
            f.write(head + body + hashlib.sha256(head + body).digest())
        raises(StoreError, Store(root).load)
    finally:
        clear_dir(root, True)


# ---- power loss -------------------------------------------------------------------


def _enrolled(password=None):
    c = Credentials()
    c.config = {"host": "est.example.com", "port": 443}
    c.trust = [CA_1]
    c.boot_user = "dev" if password else None
    c.boot_password = password
    c.key_der = KEY_A
    c.chain = [CERT_A, CA_1]
    c.enrolled_at = 1000
    return c


def _setup_with(c):
    def setup(s):
        prior = _enrolled()
        prior.config["prior"] = 1
        s.commit(prior)  # both slots hold a generation, as on a device in service
        s.commit(c)
    return setup


SCENARIOS = [
    ("first enrollment, bootstrap erased (two commits)", _setup_with(_enrolled("pw")),
     lambda s: s.commit_enrollment(KEY_B, [CERT_B, CA_1], now=2000)),
    ("renewal with a new key", _setup_with(_enrolled()),
     lambda s: s.commit_enrollment(KEY_B, [CERT_B, CA_1], now=3000)),
    ("trust anchor update", _setup_with(_enrolled()),
     lambda s: s.update(trust=[CA_1, CA_2], cacerts_at=4000)),
    ("pending state update", _setup_with(_enrolled()),
     lambda s: s.update(pending=Pending("simplereenroll", b"\x30\x00", KEY_B, 5000, 1))),
    ("wipe", _setup_with(_enrolled("pw")), lambda s: s.wipe()),
    ("first enrollment across the counter's wrap (2**32 - 1, then 1 and 2)",
     lambda s: _at_generation(s, _enrolled(), _enrolled("pw"), 0xFFFFFFFF),
     lambda s: s.commit_enrollment(KEY_B, [CERT_B, CA_1], now=2000)),
]


def _sweep_all(fat):
    root = temp_dir("crash")
    total = 0
    try:
        for name, setup, change in SCENARIOS:
            for torn in (True, False):
                n, n_old, n_new = sweep_files(root, setup, change, pair_ok, fat=fat, torn=torn)
                assert n >= 2 and n_old >= 1 and (n_new >= 1 or name == "wipe"), name
                total += n
    finally:
        clear_dir(root, True)
    return total


def test_crash_points_atomic_rename():
    total = _sweep_all(False)
    assert total >= 200
    print("store crash points (atomic rename): %d" % total)


def test_crash_points_fat_rename():
    total = _sweep_all(True)
    assert total >= 200
    print("store crash points (FAT remove-then-rename): %d" % total)


def test_crash_fs_counts_every_kind():
    root = temp_dir("kinds")
    try:
        for fat in (False, True):
            clear_dir(root)
            s = Store(root)
            s.commit(_enrolled())
            s.commit(_enrolled())
            cfs = CrashFs(store.OsFs(), fat=fat)
            Store(root, cfs).commit(_enrolled())
            kinds = cfs.kinds
            # 7 records (2 config, 1 trust, key, 2 chain, enrolled_at): header + 2 x 7 + trailer writes
            assert kinds.count("write") == 16 and kinds[0] == "open", kinds
            tail = ["flush", "fsync", "close"] + (["remove-for-rename"] if fat else []) + ["rename", "syncdir"]
            assert kinds[-len(tail):] == tail, kinds
            # a power loss makes the fs refuse everything after
            cfs = CrashFs(store.OsFs(), crash_at=1)
            raises(PowerLoss, Store(root, cfs).commit, _enrolled())
            raises(PowerLoss, cfs.stat, root)
    finally:
        clear_dir(root, True)


def test_mp_crash_points_flash_fat_and_littlefs():
    # MicroPython's own FatFs and littlefs drivers on a RAM block device. CPython has
    # no such drivers, so this test runs under MicroPython only (test_mp_ prefix).
    assert hasattr(os, "VfsFat") and hasattr(os, "VfsLfs2")
    total = 0
    for cls, blocks in ((os.VfsFat, 128), (os.VfsLfs2, 64)):
        for name, setup, change in SCENARIOS:
            checked, n_old, n_new, writes = sweep_flash(cls, blocks, setup, change, pair_ok)
            assert writes >= 2 and n_old >= 1 and n_new >= 1, name
            total += checked
    print("store flash images checked: %d" % total)


# ---- field readiness: types, key/certificate pairs, the counter's wrap, PEM ---------


def _i(v):
    return b"i" + struct.pack(">q", v)


# (field, a value of the wrong type, the record that stores such a value). Every field,
# and every config name the device reads.
WRONG_TYPES = [
    ("boot_password", b"pw", (4, b"bpw")),
    ("boot_password", 7, (4, _i(7))),
    ("boot_user", b"dev", (3, b"bdev")),
    ("boot_user", True, (3, b"T")),
    ("trust", [7], (2, _i(7))),
    ("trust", [b"\x04\x01x"], (2, b"b\x04\x01x")),  # octets, not a DER SEQUENCE
    ("trust", [b"\x30\x05\x02\x01"], (2, b"b\x30\x05\x02\x01")),  # truncated DER
    ("trust", [CA_1 + b"\x00"], (2, b"b" + CA_1 + b"\x00")),  # trailing octets
    ("boot_key", 5, (5, _i(5))),
    ("boot_chain", [True], (6, b"T")),
    ("key_der", "key", (7, b"skey")),
    ("chain", [-1], (8, _i(-1))),
    ("enrolled_at", "1690000000", (14, b"s1690000000")),
    ("cacerts_at", True, (15, b"T")),
    ("time_offset", b"\x00", (16, b"b\x00")),
    ("config port", {"port": "8443"}, (1, b"\x04port" + b"s8443")),
    ("config port", {"port": True}, (1, b"\x04portT")),
    ("config dns", {"dns": 5}, (1, b"\x03dns" + _i(5))),
    ("config host", {"host": b"est"}, (1, b"\x04host" + b"best")),
    ("config label", {"label": 1}, (1, b"\x05label" + _i(1))),
    ("config cn", {"cn": b"dev"}, (1, b"\x02cn" + b"bdev")),
    ("config fingerprint", {"fingerprint": 1}, (1, b"\x0bfingerprint" + _i(1))),
    ("pending op", Pending(b"simpleenroll"), (9, b"bsimpleenroll")),
    ("pending csr", Pending("simpleenroll", 5), (10, _i(5))),
    ("pending key_der", Pending("simpleenroll", None, "key"), (11, b"skey")),
    ("pending retry_at", Pending("simpleenroll", None, None, "later"), (12, b"slater")),
    ("pending attempts", Pending("simpleenroll", None, None, None, b"\x01"), (13, b"b\x01")),
]


def test_wrong_types_are_refused_at_commit_and_at_load():
    root = temp_dir()
    try:
        s = Store(root)
        s.commit(full())
        for field, value, record in WRONG_TYPES:
            c = full()
            name = field.split(" ")[-1]
            if field.startswith("config"):
                c.config.update(value)
            elif field.startswith("pending"):
                c.pending = value
            else:
                setattr(c, field, value)
            e = raises(StoreError, s.commit, c)
            assert name in str(e), (field, str(e))
            assert s.load() == full() and s.load().generation == 1, field
        # stored by an older or a foreign writer: load says which field, with a StoreError
        other = temp_dir("typed")
        try:
            for field, value, record in WRONG_TYPES:
                recs = [(9, b"ssimpleenroll")] if field.startswith("pending") and record[0] != 9 else []
                with open(other + "/cred.a", "wb") as f:
                    f.write(_hand_made(1, 3, recs + [record]))
                try:
                    Store(other).load()
                except StoreError as e:
                    assert field.split(" ")[-1] in str(e), (field, str(e))
                else:
                    raise AssertionError("loaded a %s of the wrong type" % field)
        finally:
            clear_dir(other, True)
        # the right types of the names the device reads are taken
        c = full()
        c.config.update({"port": 443, "dns": "dev.example.com", "cn": "dev", "fingerprint": b"\x01" * 32})
        s.commit(c)
        assert s.load() == c
        c.config["fingerprint"] = "ab" * 32
        s.commit(c)
        assert s.load().config["fingerprint"] == "ab" * 32
    finally:
        clear_dir(root, True)


def test_config_names_of_mixed_types_are_a_store_error():
    # sorting {1: .., "a": ..} is a TypeError on CPython: names are checked first
    c = full()
    c.config = {"a": 1, 2: "b"}
    raises(StoreError, Store("/nonexistent-store").commit, c)


def test_key_and_certificate_check():
    ok = full()
    ok.check()
    cases = [("key_der", KEY_A, [CERT_B]), ("key_der", KEY_B, [CERT_A, CA_1]), ("key_der", KEY_A, []),
             ("key_der", None, [CERT_A]), ("key_der", CA_1, [CERT_A]),  # a certificate is no key
             ("key_der", KEY_A, [b"\x30\x03\x02\x01\x05"]),  # nor is that a certificate
             ("boot_key", KEY_A, [CERT_B]), ("boot_key", None, [CERT_B]), ("boot_key", KEY_B, [])]
    for name, key, chain in cases:
        c = full()
        if name == "key_der":
            c.key_der, c.chain = key, chain
        else:
            c.boot_key, c.boot_chain = key, chain
        e = raises(StoreError, c.check)
        assert name in str(e), (name, str(e))
    c = Credentials()
    c.check()  # nothing stored: nothing to compare
    c.key_der, c.chain = KEY_B, [CERT_B]
    c.check()
    # a stored mismatch loads (the data is intact) and check() tells the device
    root = temp_dir()
    try:
        bad = full()
        bad.chain = [CERT_B]
        Store(root).commit(bad)
        raises(StoreError, Store(root).load().check)
        # commit_enrollment compares after PEM is decoded
        got = Store(root).commit_enrollment(KEY_A, [pem.encode(CERT_A, "CERTIFICATE")])
        assert got.chain == [CERT_A] and Store(root).load().chain == [CERT_A]
        raises(StoreError, Store(root).commit_enrollment, KEY_A, [pem.encode(CERT_B, "CERTIFICATE")])
        assert Store(root).load() == got
    finally:
        clear_dir(root, True)


def _at_generation(s, older, newer, seq):
    """Store ``s`` (emptied first) with ``older`` at ``seq - 1`` and ``newer`` at
    ``seq`` (sequence numbers modulo 2**32 - 1, 0 skipped), as the counter's wrap
    leaves them. Works on any fs: the slots are rewritten through the store's own."""
    s.wipe()
    s.commit(older)
    s.commit(newer)
    fs = s._fs
    for name, n in (("cred.a", (seq - 2) % 0xFFFFFFFF + 1), ("cred.b", seq)):
        f = fs.open(s._pre + name, "rb")
        data = f.read()
        f.close()
        head = data[:8] + struct.pack(">I", n) + data[12:16]
        body = data[16:-32]
        f = fs.open(s._pre + name, "wb")
        f.write(head + body + hashlib.sha256(head + body).digest())
        f.close()
    assert s.load() == newer and s.load().generation == seq


def test_generation_counter_wraps_without_losing_a_commit():
    root = temp_dir()
    try:
        top = 0xFFFFFFFF
        s = Store(root)
        for seq in (top - 1, top, 1):
            _at_generation(s, _enrolled(), full(), seq)
            gens = []
            for i in range(3):
                c = s.load()
                c.config["step"] = i
                gens.append(s.commit(c))
                got = Store(root).load()
                assert got == c and got.generation == gens[-1], (seq, i)
            assert gens == [(seq + k - 1) % top + 1 for k in (1, 2, 3)], gens
        # the newer of two slots across the wrap, whichever file holds it
        _at_generation(s, _enrolled(), full(), 1)
        assert Store(root).load() == full()
        os.rename(root + "/cred.a", root + "/cred.tmp")
        os.rename(root + "/cred.b", root + "/cred.a")
        os.rename(root + "/cred.tmp", root + "/cred.b")
        assert Store(root).load() == full() and Store(root).load().generation == 1
    finally:
        clear_dir(root, True)


def test_pem_is_stored_as_der():
    root = temp_dir()
    try:
        s = Store(root)
        text = pem.encode(CA_1, "CERTIFICATE")
        both = (text + pem.encode(CA_2, "CERTIFICATE")).encode()  # a ca file read as octets
        c = full()
        c.trust = [text]
        c.chain = [pem.encode(CERT_A, "CERTIFICATE").encode(), CA_1]
        c.key_der = pem.encode(KEY_A, "RSA PRIVATE KEY")
        s.commit(c)
        assert c.trust == [CA_1] and c.chain == [CERT_A, CA_1] and c.key_der == KEY_A  # normalised in place
        got = s.load()
        assert got.trust == [CA_1] and got.chain == [CERT_A, CA_1] and got.key_der == KEY_A
        assert s.update(trust=[both]).trust == [CA_1, CA_2] and s.load().trust == [CA_1, CA_2]
        assert s.update(trust=[CA_2, bytearray(text.encode())]).trust == [CA_2, CA_1]
        for name, value in [("trust", ["-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"]),
                            ("trust", ["no armor here"]), ("trust", [b"\xff\xfe"]), ("trust", [""]),
                            ("trust", [pem.encode(b"\x04\x01x", "CERTIFICATE")]),  # not DER inside
                            ("trust", ["-----BEGIN CERTIFICATE-----\nMAA=\n"]),  # no END line
                            ("key_der", pem.encode(KEY_A, "RSA PRIVATE KEY") * 2),  # one key, not two
                            ("pending", Pending("simpleenroll", "not a CSR"))]:
            e = raises(StoreError, s.update, **{name: value})
            assert name in str(e) or name == "pending", (name, str(e))
            assert s.load().trust == [CA_2, CA_1], name
        # a PEM trust anchor stored by the earlier code is read as DER, and rewritten so
        with open(root + "/cred.a", "wb") as f:
            f.write(_hand_made(1, 9, [(1, b"\x04host" + b"sest"), (2, b"b" + text.encode())]))
        with open(root + "/cred.b", "wb") as f:
            f.write(_hand_made(1, 8, [(1, b"\x04host" + b"sest")]))
        got = Store(root).load()
        assert got.trust == [CA_1] and got.generation == 9
        Store(root).commit(got)
        with open(root + "/cred.b", "rb") as f:
            assert b"BEGIN" not in f.read() and Store(root).load().trust == [CA_1]
    finally:
        clear_dir(root, True)


def test_version_1_file_of_the_first_release_loads():
    # tests/vectors/store_v1_full.bin: full() committed twice by the store's first
    # revision (generation 2). It loads as full(), and the store writes it again
    # byte for byte: the format has not moved.
    data = vector("store_v1_full.bin")
    root = temp_dir()
    try:
        with open(root + "/cred.b", "wb") as f:
            f.write(data)
        got = Store(root).load()
        assert got == full() and got.generation == 2
        got.check()
        clear_dir(root)
        Store(root).commit(full())
        Store(root).commit(full())
        with open(root + "/cred.b", "rb") as f:
            assert f.read() == data
    finally:
        clear_dir(root, True)


def test_load_raises_only_store_errors():
    # every prefix and every single-octet change of a record, rehashed so the slot is intact
    recs = [(1, b"\x04port" + _i(443)), (2, b"b" + CA_1[:40]), (9, b"sop"), (13, _i(1))]
    body = b""
    for tag, value in recs:
        body += struct.pack(">BH", tag, len(value)) + value
    root = temp_dir()
    try:
        for i in range(len(body)):
            for b in (body[:i], body[:i] + bytes([body[i] ^ 0x41]) + body[i + 1:]):
                head = b"tEST" + struct.pack(">HHII", 1, 0, 1, len(b))
                with open(root + "/cred.a", "wb") as f:
                    f.write(head + b + hashlib.sha256(head + b).digest())
                try:
                    Store(root).load()
                except StoreError:
                    pass
                except EstError as e:
                    raise AssertionError("%d: %r" % (i, e))
    finally:
        clear_dir(root, True)
