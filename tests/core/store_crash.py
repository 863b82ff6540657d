"""Power-loss harnesses for tinyest.store; run on CPython and MicroPython alike.

Two levels:
- ``CrashFs`` wraps a file system and loses power at the N-th state-changing call
  (open for writing, write, flush, fsync, close, rename, remove, mkdir, syncdir). A
  write that loses power leaves a prefix of its data. ``fat=True`` makes rename
  remove the target first, with a power loss possible between the two, as
  MicroPython's FAT driver does.
- ``RamDev`` is a block device that logs every block write and erase, so that
  MicroPython's own VfsFat and VfsLfs2 can be run once and the flash image after
  any prefix of the writes (the last one possibly torn) rebuilt and mounted again.

``sweep_files`` and ``sweep_flash`` drive a change through every crash point and
check, after each, that a fresh Store loads exactly the old or the new snapshot,
that its key matches its certificate, and that the store still takes a commit.
"""
import os

from tinyest import der, der_extra
from tinyest.store import OsFs, Store


class PowerLoss(BaseException):
    """The simulated power cut; derives from BaseException so no handler eats it."""


class _File:
    def __init__(self, fs, f):
        self.fs = fs
        self.f = f

    def read(self, n=-1):
        return self.f.read(n)

    def readinto(self, b):
        return self.f.readinto(b)

    def write(self, data):
        if self.fs._tick("write"):
            cut = len(data) // 2 if self.fs.torn else 0
            if cut:
                self.f.write(bytes(data[:cut]))
                self.f.flush()
            raise PowerLoss()
        n = self.f.write(data)
        self.f.flush()  # what was written is on the disk: a power loss keeps it
        return n

    def flush(self):
        if self.fs._tick("flush"):
            raise PowerLoss()
        self.f.flush()

    def close(self):
        dead = self.fs.dead or self.fs._tick("close")
        self.f.close()  # everything was flushed already: closing adds nothing to the disk
        if dead:
            raise PowerLoss()


class CrashFs:
    """Loses power at the ``crash_at``-th state-changing call (never when -1) and
    stays dead afterwards. ``ops`` counts the calls made; ``kinds`` names them."""

    def __init__(self, fs, crash_at=-1, fat=False, torn=True):
        self.fs = fs
        self.crash_at = crash_at
        self.fat = fat
        self.torn = torn
        self.ops = 0
        self.dead = False
        self.kinds = []

    def _tick(self, kind):
        if self.dead:
            raise PowerLoss()
        self.ops += 1
        self.kinds.append(kind)
        if self.ops == self.crash_at:
            self.dead = True
            return True
        return False

    def _step(self, kind):
        if self._tick(kind):
            raise PowerLoss()

    def open(self, path, mode):
        if "r" in mode:
            if self.dead:
                raise PowerLoss()
            return self.fs.open(path, mode)
        self._step("open")
        return _File(self, self.fs.open(path, mode))

    def stat(self, path):
        if self.dead:
            raise PowerLoss()
        return self.fs.stat(path)

    def rename(self, src, dst):
        if self.fat:
            try:
                self.fs.stat(dst)
                exists = True
            except OSError:
                exists = False
            if exists:
                self._step("remove-for-rename")
                self.fs.remove(dst)
        self._step("rename")
        self.fs.rename(src, dst)

    def remove(self, path):
        self._step("remove")
        self.fs.remove(path)

    def mkdir(self, path):
        self._step("mkdir")
        self.fs.mkdir(path)

    def fsync(self, f):
        self._step("fsync")

    def syncdir(self, path):
        self._step("syncdir")


def temp_dir(tag="store"):
    """A fresh directory under /tmp named from os.urandom (MicroPython has no tempfile)."""
    path = "/tmp/tinyest-%s-%s" % (tag, os.urandom(6).hex())
    os.mkdir(path)
    return path


def clear_dir(path, remove_dir=False):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        os.remove(path + "/" + name)
    if remove_dir:
        os.rmdir(path)


# ---- key and certificate material -----------------------------------------------

_CN = "2.5.4.3"
_SHA256_RSA = "1.2.840.113549.1.1.11"


def make_cert(spki_der, cn, serial=1):
    """A structurally valid certificate for ``spki_der`` (its signature is filler:
    the store never verifies signatures)."""
    name = der.seq(der.set_of(der.seq(der.oid(_CN), der.utf8(cn))))
    alg = der.seq(der.oid(_SHA256_RSA), der.null())
    tbs = der.seq(der.explicit(0, der.integer(2)), der.integer(serial), alg, name,
                  der.seq(der_extra.time(946684800), der_extra.time(2524608000)), name, spki_der)
    return der.seq(tbs, alg, der.bit_string(bytes(range(64))))


# ---- sweeps ---------------------------------------------------------------------


def _check(got, old, new, pair_ok, where):
    is_old = got == old
    is_new = got == new
    assert is_old or is_new, "%s: loaded a set that is neither the old nor the new one" % where
    if got.key_der is not None:
        assert got.chain and pair_ok(got.key_der, got.chain[0]), "%s: key and certificate differ" % where
    return is_new


def _usable(store, got, where):
    got.config["after"] = "crash"
    store.commit(got)
    again = store.load()
    assert again == got, "%s: the store did not take a commit after the crash" % where


def sweep_files(root, setup, change, pair_ok, fat=False, torn=True):
    """Runs ``change(store)`` once per crash point on real files under ``root``, with
    ``setup(store)`` putting the old state in place first. Returns (crash points,
    loads that gave the old set, loads that gave the new set)."""
    base = OsFs()
    clear_dir(root)
    setup(Store(root))
    old = Store(root).load()
    probe = CrashFs(base, fat=fat)
    change(Store(root, probe))
    new = Store(root).load()
    assert new != old, "the change changed nothing"
    total = probe.ops
    n_old = n_new = 0
    for i in range(1, total + 1):
        where = "%s crash %d/%d (%s)" % ("fat" if fat else "atomic", i, total, probe.kinds[i - 1])
        clear_dir(root)
        setup(Store(root))
        cfs = CrashFs(base, crash_at=i, fat=fat, torn=torn)
        try:
            change(Store(root, cfs))
        except PowerLoss:
            pass
        else:
            raise AssertionError(where + ": no power loss happened")
        store = Store(root)
        got = store.load()
        if _check(got, old, new, pair_ok, where):
            n_new += 1
        else:
            n_old += 1
        _usable(store, got, where)
    return total, n_old, n_new


class RamDev:
    """A RAM block device for VfsFat/VfsLfs2 that logs writes and erases as (offset, data)."""

    def __init__(self, data, bs=512):
        self.bs = bs
        self.data = data
        self.log = None

    def readblocks(self, block, buf, off=0):
        a = block * self.bs + off
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, block, buf, off=0):
        a = block * self.bs + off
        if self.log is not None:
            self.log.append((a, bytes(buf)))
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.bs
        if op == 5:
            return self.bs
        if op == 6:
            a = arg * self.bs
            if self.log is not None:
                self.log.append((a, b"\xff" * self.bs))
            self.data[a:a + self.bs] = b"\xff" * self.bs
            return 0
        return 0


def sweep_flash(vfs_class, blocks, setup, change, pair_ok, torn=True):
    """Runs ``change`` once on a ``vfs_class`` image, then mounts the image after every
    prefix of its block writes (and, with ``torn``, with half of the next write) and
    checks the store there. Returns (images checked, old loads, new loads, writes)."""
    dev = RamDev(bytearray(blocks * 512))
    vfs_class.mkfs(dev)
    vfs = vfs_class(dev)
    setup(Store("/st", vfs))
    old = Store("/st", vfs).load()
    image = bytes(dev.data)
    dev.log = []
    change(Store("/st", vfs))
    new = Store("/st", vfs_class(dev)).load()
    assert new != old, "the change changed nothing"
    log = dev.log
    checked = n_old = n_new = 0
    for i in range(len(log) + 1):
        for cut in ((0, 1) if torn and i < len(log) else (0,)):
            img = bytearray(image)
            for a, data in log[:i]:
                img[a:a + len(data)] = data
            if cut:
                a, data = log[i]
                half = len(data) // 2
                img[a:a + half] = data[:half]
            where = "%s after %d/%d writes%s" % (vfs_class.__name__, i, len(log), " + torn" if cut else "")
            store = Store("/st", vfs_class(RamDev(img)))
            got = store.load()
            if _check(got, old, new, pair_ok, where):
                n_new += 1
            else:
                n_old += 1
            _usable(store, got, where)
            checked += 1
    return checked, n_old, n_new, len(log)
