"""tinyest.store on the RP2040 firmware's own LittleFS (the flash the emulator
keeps in a file): load and commit, two slots and no leftover, the same set found
again after a reboot from the same flash, commits measured (cycles and flash
erase/program calls), wipe; and the store driven through the mounted VfsLfs2
object itself (``Store(root, fs=vfs)``).
"""
import pytest

import pico
import pki

_HELPERS = """
import binascii, os
from tinyest.store import Store, Credentials, Pending
h = lambda b: None if b is None else binascii.hexlify(b).decode()
def snap(c):
    p = c.pending
    return (c.generation, sorted(c.config.items()), [h(x) for x in c.trust], c.boot_user, c.boot_password,
            h(c.key_der), [h(x) for x in c.chain],
            None if p is None else (p.op, h(p.csr), h(p.key_der), p.retry_at, p.attempts))
def files(root):
    try:
        return sorted(os.listdir(root))
    except OSError:
        return None
"""


def _expect(gen, config, trust, user, password, key=None, chain=(), pending=None):
    return (gen, sorted(config.items()), [t.hex() for t in trust], user, password,
            None if key is None else key.hex(), [c.hex() for c in chain], pending)


@pytest.fixture(scope="module")
def ca():
    root = pki.Ca("rp2 store root")
    other = pki.Ca("rp2 store second root")
    return root, other


def test_store_load_commit_reboot_wipe(new_flash, ca):
    root, other = ca
    cfg = {"host": "est.example", "port": 8443, "label": "iot", "flag": True, "blob": b"\x00\xff"}
    with pico.Pico(new_flash("store")) as p:
        p.exec(_HELPERS)
        assert p.value("print(repr(snap(Store('/est').load())))") == _expect(0, {}, [], None, None)
        assert p.value("print(repr(files('/est')))") is None  # nothing made by a load

        p.exec("st = Store('/est')\nc = Credentials()\nc.config = %r\nc.trust = [%r]\n"
               "c.boot_user = 'dev-1'\nc.boot_password = 'pw-1'" % (cfg, root.der))
        ops0 = p.flash_ops()
        t1 = p.timed("st.commit(c)")
        ops1 = p.flash_ops()
        first = _expect(1, cfg, [root.der], "dev-1", "pw-1")
        assert p.value("print(repr(snap(st.load())))") == first
        assert p.value("print(repr(files('/est')))") == ["cred.a"]

        # a second generation: the other slot, the first kept, no temporary file left
        p.exec("c = st.load()\nc.trust = [%r, %r]\nc.pending = Pending('simpleenroll', %r, None, 1700000000, 2)"
               % (root.der, other.der, other.der))
        t2 = p.timed("st.commit(c)")
        ops2 = p.flash_ops()
        second = _expect(2, cfg, [root.der, other.der], "dev-1", "pw-1",
                         pending=("simpleenroll", other.der.hex(), None, 1700000000, 2))
        assert p.value("print(repr(snap(st.load())))") == second
        assert p.value("print(repr(files('/est')))") == ["cred.a", "cred.b"]
        t_load = p.timed("st.load()")

        # a reboot from the same flash (SIGTERM: the emulator saves it) finds generation 2
        p.reboot()
        p.exec(_HELPERS)
        assert p.value("print(repr(snap(Store('/est').load())))") == second

        # update() makes generation 3 over the older slot
        p.exec("Store('/est').update(boot_user=None, boot_password=None, pending=None)")
        third = _expect(3, cfg, [root.der, other.der], None, None)
        assert p.value("print(repr(snap(Store('/est').load())))") == third
        p.reboot()
        p.exec(_HELPERS)
        assert p.value("print(repr(snap(Store('/est').load())))") == third
        assert p.value("print(repr(files('/est')))") == ["cred.a", "cred.b"]

        p.exec("Store('/est').wipe()")
        p.reboot()
        p.exec(_HELPERS)
        assert p.value("print(repr(snap(Store('/est').load())))") == _expect(0, {}, [], None, None)
        assert p.value("print(repr(files('/est')))") in ([], None)
    pico.figure("store", "first commit (LittleFS)", "%11d cycles %9.1f ms, flash: %d erase, %d program calls"
                % (t1.cycles, t1.ms, ops1[1] - ops0[1], ops1[3] - ops0[3]))
    pico.figure("store", "second commit (other slot)", "%11d cycles %9.1f ms, flash: %d erase, %d program calls"
                % (t2.cycles, t2.ms, ops2[1] - ops1[1], ops2[3] - ops1[3]))
    pico.figure("store", "load (two slots checked)", "%11d cycles %9.1f ms" % (t_load.cycles, t_load.ms))


def test_store_on_the_mounted_vfs_object(new_flash, ca):
    """``fs`` may be the VfsLfs2 object itself (paths inside the file system)."""
    root, _ = ca
    with pico.Pico(new_flash("store-vfs")) as p:
        p.exec(_HELPERS)
        kind = p.value("import vfs\nm = [v for v, path in vfs.mount() if path == '/']\n"
                       "fs = m[0] if m else None\nprint(repr(type(fs).__name__))")
        assert kind == "VfsLfs2"
        p.exec("c = Credentials()\nc.config = {'host': 'h'}\nc.trust = [%r]\nStore('/vest', fs).commit(c)" % root.der)
        want = _expect(1, {"host": "h"}, [root.der], None, None)
        assert p.value("print(repr(snap(Store('/vest', fs).load())))") == want
        assert p.value("print(repr(snap(Store('/vest').load())))") == want  # the same files through os
        p.reboot()
        p.exec(_HELPERS)
        assert p.value("print(repr(snap(Store('/vest').load())))") == want
