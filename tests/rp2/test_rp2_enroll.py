"""The offline part of an enrollment on the RP2040 firmware, from a fresh boot,
measured: the device-path imports, loading the store (trust anchors put there
beforehand), key generation, the CSR, then (once the host has issued the
certificate) parsing the certs-only PKCS#7 answer, verifying the chain against
the stored anchors (two P-256 signatures: leaf <- intermediate <- root) and
committing key and certificate to the store on LittleFS; then a reboot from the
same flash finds them there.

The host issues the certificate with pyca/cryptography between the two halves
(the board has no network). The whole enrollment's cycles are the sum of its
steps' cycles: time the board spends idle at the REPL waiting for the host is
not counted, and no gc.collect() runs between the steps.
"""
import pytest
from cryptography.hazmat.primitives.serialization import load_der_private_key

import pico
import pki

ENROLL_MS = 1500  # the whole offline enrollment from a fresh boot
HEAP_FREE = 160 * 1024  # after the device-path imports and a full offline enrollment
CN = "pico-0001"

_PROVISION = """
from tinyest.store import Store, Credentials
c = Credentials()
c.config = {"host": "est.example", "port": 443, "cn": %r}
c.trust = [%r]
c.boot_user = "pico-0001"
c.boot_password = "one-time-password"
Store("/est").commit(c)
"""

_READ_BACK = """
import binascii
from tinyest.store import Store
c = Store("/est").load()
h = lambda b: binascii.hexlify(b).decode()
print(repr((c.generation, h(c.key_der), [h(x) for x in c.chain], [h(x) for x in c.trust],
            c.boot_user, c.boot_password, c.config)))
"""

# (name, code) run one after the other on the board; "@" marks where the host issues
STEPS_A = [
    ("imports", pico.DEVICE_IMPORTS + "from tinyest.store import Store\nfrom tinyest import ec\n"
                "from tinyest import csr as csr_mod\nimport binascii"),
    ("load store", "st = Store('/est')\nc = st.load()"),
    ("keygen", "key = ec.generate('P-256')\nspki = key.public_key_der()"),
    # what tinyest.device makes for a first request
    ("CSR", "csr = csr_mod.request(key, c.config['cn'], [c.config['cn'] + '.example'])"),
]
STEPS_B = [
    ("parse + verify chain",
     "from tinyest import pkcs7, x509\n"
     "certs = [x509.Certificate(bytes(x)) for x in pkcs7.certificates(binascii.a2b_base64(BODY))]\n"
     "mine = [x for x in certs if bytes(x.public_key_der) == bytes(spki)][0]\n"
     "others = [x for x in certs if x is not mine]\n"
     "path = x509.verify_chain(mine, others, c.trust)  # no clock on the board: now=None\n"
     "chain = [bytes(mine.der)] + [bytes(x.der) for x in others]"),
    ("commit key + certificate", "c = st.commit_enrollment(key, chain)"),
]


@pico.job("enroll")
def run_enroll(flash):
    root = pki.Ca("rp2 test root")
    inter = pki.Ca("rp2 test issuing CA", parent=root)
    r = {"root": root, "inter": inter, "steps": []}
    with pico.Pico(flash) as p:
        p.exec(_PROVISION % (CN, root.der))
        p.reboot()  # a fresh boot: nothing imported, no table built
        r["free_boot"] = p.mem_free()
        for name, code in STEPS_A:
            r["steps"].append((name, p.timed(code, collect=False)))
        r["csr"] = bytes.fromhex(p.exec("print(binascii.hexlify(csr).decode())").strip())
        r["leaf"] = inter.issue_for_csr(r["csr"])
        p.exec("BODY = %r" % pki.certs_only([r["leaf"], inter.der]))
        for name, code in STEPS_B:
            r["steps"].append((name, p.timed(code, collect=False)))
        r["path_len"] = p.eval("len(path)")
        r["key_der"] = bytes.fromhex(p.exec("print(binascii.hexlify(key.to_der()).decode())").strip())
        r["free_after"] = p.mem_free()  # everything the enrollment made still referenced
        p.reboot()
        r["stored"] = p.value(_READ_BACK)
    return r


@pytest.fixture(scope="module")
def enrolled(rp2_jobs):
    r = rp2_jobs.result("enroll")
    r["total"] = sum(t.cycles for _, t in r["steps"])
    r["total_noimport"] = sum(t.cycles for n, t in r["steps"] if n != "imports")
    for name, t in r["steps"]:
        pico.figure("enroll", name, "%11d cycles %9.1f ms  heap free %d B (no collection)"
                    % (t.cycles, t.ms, t.free))
    ms = r["total"] * 1000.0 / pico.CLOCK_HZ
    pico.figure("enroll", "whole offline enrollment (fresh boot)", "%11d cycles %9.1f ms" % (r["total"], ms))
    pico.figure("enroll", "  of which without the imports", "%11d cycles %9.1f ms"
                % (r["total_noimport"], r["total_noimport"] * 1000.0 / pico.CLOCK_HZ))
    pico.figure("enroll", "heap free: boot / after imports + enrollment", "%d B / %d B (%.1f KiB)"
                % (r["free_boot"], r["free_after"], r["free_after"] / 1024))
    return r


def test_offline_enrollment_from_a_fresh_boot(enrolled):
    r = enrolled
    # the board's CSR verifies on the host, and the board accepted the issued chain
    assert r["path_len"] == 3  # leaf, issuing CA, anchor
    # what a reboot finds on LittleFS: the new key and chain, the anchors, no password
    gen, key_hex, chain_hex, trust_hex, user, password, config = r["stored"]
    assert bytes.fromhex(key_hex) == r["key_der"]
    assert [bytes.fromhex(x) for x in chain_hex] == [r["leaf"], r["inter"].der]
    assert [bytes.fromhex(x) for x in trust_hex] == [r["root"].der]
    assert user is None and password is None  # the bootstrap password is erased
    assert config["cn"] == CN
    assert gen >= 2
    # the stored private key is the one the certificate was issued for
    key = load_der_private_key(r["key_der"], None)
    from cryptography.hazmat.primitives import serialization

    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki == pki.public_der(r["leaf"])
    for _, t in r["steps"]:
        assert t.cycles > 0


def test_budget_whole_offline_enrollment(enrolled):
    ms = enrolled["total"] * 1000.0 / pico.CLOCK_HZ
    print("whole offline enrollment from a fresh boot: %.1f ms (budget %d ms)" % (ms, ENROLL_MS))
    assert ms <= ENROLL_MS


def test_budget_heap_free_after_enrollment(enrolled):
    free = enrolled["free_after"]
    print("heap free after the device-path imports and an enrollment: %d B = %.1f KiB (budget %d KiB)"
          % (free, free / 1024, HEAP_FREE // 1024))
    assert free >= HEAP_FREE
