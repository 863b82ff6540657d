"""Power-fail safe credential store on a file system (device flash or a host folder).

What it keeps (``Credentials``)
    config          dict of small settings: str names (1 to 255 UTF-8 octets), values
                    str, bytes, int (64-bit signed) or bool. The names the device reads
                    have a fixed type: "host", "label", "cn", "dns" str, "port" int,
                    "fingerprint" str or bytes.
    trust           list of trust anchor certificates (DER).
    boot_user, boot_password
                    the one-time bootstrap credential (str), or None.
    boot_key, boot_chain
                    a factory key (DER) and certificate chain (list of DER), or None / [].
    key_der, chain  the current private key (DER) and certificate chain (list of DER,
                    our certificate first), or None / [].
    pending         a deferred request (``Pending``: op str, csr and key_der DER or
                    None, retry_at int or None, attempts int) or None.
    enrolled_at, cacerts_at, time_offset
                    int timestamps (seconds, the caller's epoch) and the learned server
                    time offset, or None.
    generation      read only: the sequence number of the generation loaded (0: nothing
                    stored yet). It counts 1, 2, ... 2**32 - 1, then 1 again.

Types are checked at both ends: ``commit`` refuses, and ``load`` reports, a set with a
field of another type with a StoreError naming the field, so that nothing of the wrong
type reaches the device. DER fields (trust, chains, keys, the pending CSR) hold one
DER SEQUENCE each (its outer header checked); PEM given instead, as text or octets, is
decoded to DER at the store boundary (a list item may hold several PEM blocks), and
anything else is refused.

API
    ``Store(root, fs=None)``: ``root`` is a directory that holds only the store (made by
    the first commit). ``fs`` provides ``open(path, mode)``, ``rename``, ``remove``,
    ``stat``, ``mkdir`` and optionally ``fsync(file)`` and ``syncdir(path)``; default
    ``OsFs()``. A MicroPython ``VfsFat``/``VfsLfs2`` object works as ``fs`` directly.
    ``load()`` -> Credentials (the unprovisioned state when nothing is stored);
    ``commit(creds)`` writes them as a new generation (normalising their DER fields in
    place); ``update(**fields)`` loads, changes, commits and returns the new snapshot;
    ``commit_enrollment(key_der, chain, erase_bootstrap=True, now=None)`` (``key_der``
    may be the key object, whose public key is then not derived again); ``wipe()``.
    ``Credentials.check()`` raises StoreError unless ``key_der`` is the private key of
    ``chain[0]`` and ``boot_key`` that of ``boot_chain[0]`` (each key with its chain or
    neither); ``key_matches(key_der, cert_der)`` compares one pair. Both parse the key
    and the certificate (tinyest.keys and tinyest.x509, imported when called): a device
    calls ``check`` once after start-up, not on every load. What runs seldom
    (``key_matches``, the work of ``check``, ``commit_enrollment`` and ``wipe``,
    decoding PEM, the error texts) is in ``tinyest.store_rare``, imported when first
    called; ``store.key_matches`` and a Store's ``commit_enrollment`` and ``wipe``
    resolve there.

    Nothing here verifies certificates. The caller commits a new key and chain only
    after it has checked the chain against the trust anchors. ``commit_enrollment``
    makes one cheap check of its own: it refuses (StoreError) a set that fails
    ``check()``, such as a chain whose first certificate does not carry the key's
    public key. It also clears ``pending``. With
    ``erase_bootstrap`` it drops boot_user and boot_password (not a factory key and chain)
    and, if a password was stored, commits twice so that neither slot file still holds
    it. Flash blocks the file system has freed may still hold old data physically.

Format (version 1)
    The directory holds up to three files: ``cred.a`` and ``cred.b`` (the two slots)
    and ``cred.tmp``. A slot file is one complete generation::

        header  16 octets: "tEST", u16 version (1), u16 0, u32 sequence, u32 body length
        body    records: u8 tag, u16 length, value (length octets)
        trailer 32 octets: SHA-256 of header and body

    All integers are big-endian. A record's value is a type octet and data: "s" UTF-8
    text, "b" octets, "i" 8-octet signed integer, "T"/"F" booleans. A config record
    starts with u8 name length and the UTF-8 name before its type octet. Lists are
    repeated records in order. Absent fields (None, empty list) have no record.
    Unknown tags are skipped (and dropped by the next commit). The body is at most
    65536 octets, a record at most 65535. Tags: 1 config, 2 trust, 3 boot_user,
    4 boot_password, 5 boot_key, 6 boot_chain, 7 key_der, 8 chain, 9 to 13 pending op,
    csr, key_der, retry_at, attempts, 14 enrolled_at, 15 cacerts_at, 16 time_offset,
    17 pending issued; written in that order, config sorted by name, pending last.

    A slot is intact when its size is exactly 48 + body length, its magic is right and
    the hash matches. ``load`` takes the intact slot with the newest sequence number.
    Sequence numbers run 1, 2, ... 2**32 - 1, 1, ...: ``a`` is newer than ``b`` when
    ``(a - b) mod (2**32 - 1)`` is between 1 and 2**31 - 1. The two slots hold
    consecutive numbers, so the counter's wrap loses nothing.
    ``cred.tmp`` is never read. No intact slot but a slot file present raises
    StoreError: the data was damaged, and the application decides (``wipe()`` and
    provision again). An intact newest slot of another version raises StoreError too,
    rather than going back to older credentials.

Update protocol
    ``commit`` checks and encodes everything before touching the disk, finds the slot
    holding the newest intact generation, writes the new generation (sequence + 1) to
    ``cred.tmp`` (write, flush, fsync when the fs has it, close), renames it over the
    *other* slot, then syncs the directory when the fs can. The newest intact
    generation is never opened for writing, renamed or removed by a commit, so at any
    instant of power loss it or its successor is on the disk. ``wipe`` removes
    ``cred.tmp``, then the older slot, then the newest one: a power loss leaves the old
    state or nothing.

Guarantees
    littlefs (ESP32, RP2040, ESP8266 default): a file's new contents and a rename are
    committed atomically by littlefs itself, so after a reset ``load`` returns exactly
    the set of the last completed commit, or of the interrupted one if its rename
    reached the flash. Never a mix, never a key with a certificate of another
    generation, never an older generation than one already returned by ``load``.
    FAT (SD cards, FAT-formatted flash): MicroPython's rename removes the target (the
    generation before the current one) first, so a power loss between the two steps
    leaves one slot, holding the current generation, intact, and a complete
    ``cred.tmp`` that is ignored. The same outcome holds (old or new set, never mixed,
    never going back) provided that
    (1) sector writes are atomic: FatFs updates the file allocation table and the
    directory in place, and a torn sector there may damage other files; (2) the store
    directory holds only the store, so its few short (8.3) names share one directory
    sector and a rename is a single sector write. Without (2), a power loss inside
    FatFs' rename can leave two names on one cluster chain, which only a file system
    check repairs. On hosts, ``OsFs`` calls ``os.fsync`` on the file and the directory;
    on MicroPython it calls ``os.sync`` when the port has one (flush already commits
    on littlefs and FAT).

Tested
    tests/core/test_store.py, on CPython and MicroPython: a power loss before every
    open, write (leaving half of it or none), flush, fsync, close, remove and rename of
    an enrollment, a renewal, a trust anchor update, a pending state update, a wipe
    and a commit across the counter's wrap, with atomic and with remove-then-rename
    renames; and, on MicroPython, its own VfsFat and VfsLfs2 drivers on a RAM block
    device rebuilt after every prefix of the block writes, the last one torn in half.

Heap
    ``load`` first checks both slots by streaming them through a 256-octet buffer, then
    reads the chosen one record by record: every value is read once, into the object
    returned. ``commit`` writes the values it is given without joining them. PEM is
    decoded (tinyest.store_rare and tinyest.pem imported) only when some is given.

Only tinyest.errors classes escape (StoreError for I/O errors and for bad contents);
``fs`` exceptions that are not OSError (e.g. a test's simulated power loss) pass
through untouched.
"""

import hashlib
import os
import struct

from tinyest import lazy
from tinyest.errors import EstError, StoreError

_TOP = 0xFFFFFFFF
_SLOTS = ("cred.a", "cred.b")
# The fields in record order, each with its tag and kind: "L" a list of DER, "D" DER,
# "s" text, "i" an integer. The last six are the fields of ``pending``.
_NAMES = ("trust", "boot_user", "boot_password", "boot_key", "boot_chain", "key_der", "chain", "enrolled_at",
          "cacerts_at", "time_offset", "op", "csr", "key_der", "retry_at", "attempts", "issued")
_TAGS = b"\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x09\x0a\x0b\x0c\x0d\x11"
_KINDS = "LssDLDLiiisDDiiL"
# The config names the device reads and the type octets each may have; any other
# name may have any type ("sbiTF").
_CONFIG = {"host": "s", "port": "i", "label": "s", "fingerprint": "sb", "cn": "s", "dns": "s"}

_fsync = getattr(os, "fsync", None)
_sync = getattr(os, "sync", None)


class OsFs:
    """The running system's files: builtin open and the os module."""

    open = staticmethod(open)
    rename = staticmethod(getattr(os, "replace", os.rename))
    remove = staticmethod(os.remove)
    stat = staticmethod(os.stat)
    mkdir = staticmethod(os.mkdir)

    def fsync(self, f):
        """Commit an open (flushed) file, or a directory given by its path, to the
        disk: os.fsync on CPython (a directory the system cannot sync, as on
        Windows, is let be), else os.sync for a file where the port has one."""
        d = isinstance(f, str)
        if _fsync:
            try:
                fd = os.open(f, 0) if d else f.fileno()  # O_RDONLY
                try:
                    _fsync(fd)
                finally:
                    if d:
                        os.close(fd)
            except OSError:
                if not d:
                    raise
        elif _sync and not d:
            _sync()

    syncdir = fsync


def _error(i, arg=""):
    # StoreError with message number i of store_rare._MESSAGES, then arg: the texts
    # are imported with the first error, as a store fails seldom
    from tinyest.store_rare import _MESSAGES

    return StoreError(_MESSAGES.split("|")[i] + str(arg))


def _eq(self, other):
    # __eq__ of Pending and Credentials: same class, same fields
    for n in self._names:
        if type(other) is not type(self) or getattr(self, n) != getattr(other, n):
            return False
    return True


class Pending:
    """A deferred request: ``op`` (e.g. "simplereenroll"), the CSR and the key made
    for it (DER or None), when to send it again (``retry_at``), ``attempts``, and
    ``issued``: certificates (DER) the server issued for it that did not verify yet."""

    _names = _NAMES[10:]
    __eq__ = _eq

    def __init__(self, op, csr=None, key_der=None, retry_at=None, attempts=0, issued=None):
        self.op = op
        self.csr = csr
        self.key_der = key_der
        self.retry_at = retry_at
        self.attempts = attempts
        self.issued = issued or []


class Credentials:
    """One snapshot of the store (see the module text)."""

    _names = ("config", "pending") + _NAMES[:10]
    __eq__ = _eq

    def __init__(self):
        self.config = {}
        self.pending = None
        for i in range(10):
            setattr(self, _NAMES[i], [] if _KINDS[i] == "L" else None)
        self.generation = 0

    @property
    def enrolled(self):
        """A key and at least one certificate are present."""
        return self.key_der is not None and len(self.chain) > 0

    def check(self):
        """StoreError unless key_der is the key of chain[0] and boot_key that of
        boot_chain[0], each key present with its chain or neither."""
        from tinyest.store_rare import check

        check(self)


# key_matches (hosts, provisioning, ``Credentials.check``) is in tinyest.store_rare
__getattr__ = lazy("store_rare")


def _der(name, v):
    """[v] for DER octets, the DER of every block of PEM (text or octets);
    StoreError naming the field for anything else."""
    if isinstance(v, (str, bytes, bytearray, memoryview)) and len(v):
        try:
            if v[0] == 0x30:
                from tinyest import der

                der.top(v)
                return [v]
            from tinyest.store_rare import pem_der

            out = pem_der(name, v)
            if out:
                return out
        except EstError:
            pass
    raise _error(0, name)


def _records(c):
    """The records of ``c`` as [header, data, header, ...] and their length, every field
    checked and the DER fields of ``c`` normalised (PEM decoded)."""
    cfg = c.config
    p = c.pending
    if not isinstance(cfg, dict) or p is not None and not isinstance(p, Pending):
        raise _error(1)
    for k in cfg:
        if not isinstance(k, str) or not 0 < len(k.encode()) < 256:
            raise _error(2)
    out = []  # (tag, prefix, field name, value, type octets allowed), then encoded
    for k in sorted(cfg):
        b = k.encode()
        out.append((1, bytes([len(b)]) + b, "config " + k, cfg[k], _CONFIG.get(k, "sbiTF")))
    for i in range(16):
        o = c
        name = a = _NAMES[i]
        kind = _KINDS[i]
        if i > 9:
            if p is None:
                break
            o = p
            name = "pending " + a
        v = getattr(o, a)
        items = [v]
        if kind == "L":
            if not isinstance(v, (list, tuple)):
                raise _error(0, name)
            items = []
            for x in v:
                items += _der(name, x)
            setattr(o, a, items)
        elif v is None:
            if i != 10:  # op: the one field a pending request cannot lack
                continue
        elif kind == "D":
            items = _der(name, v)
            if len(items) > 1:
                raise _error(0, name)
            setattr(o, a, items[0])
        for x in items:
            out.append((_TAGS[i], b"", name, x, "b" if kind in "LD" else kind))
    n = 0
    recs = []
    for tag, prefix, name, v, ok in out:
        t = "?"
        d = v
        if v is True or v is False:
            t = "T" if v else "F"
            d = b""
        elif isinstance(v, int):
            if -1 <= v >> 63 <= 0:
                t = "i"
                d = struct.pack(">q", v)
        elif isinstance(v, str):
            t = "s"
            d = v.encode()
        elif isinstance(v, (bytes, bytearray, memoryview)):
            t = "b"
        if t not in ok or len(prefix) + len(d) > 0xFFFE:
            raise _error(0, name)
        k = len(prefix) + len(d)
        recs.append(struct.pack(">BH", tag, k + 1) + prefix + t.encode())
        recs.append(d)
        n += k + 4
    if n > 65536:
        raise _error(3)
    return recs, n


def _read(f, n):
    b = f.read(n)
    if b is None or len(b) != n:
        raise _error(4)
    return b


def _parse(f):
    n = struct.unpack(">4sHHII", _read(f, 16))[4]
    c = Credentials()
    p = Pending(None)
    while n:
        tag, k = struct.unpack(">BH", _read(f, 3))
        n -= 3 + k
        if k < 1 or n < 0:
            raise _error(5)
        i = _TAGS.find(bytes([tag]))
        a = "config"
        if tag == 1:
            m = _read(f, 1)[0]
            k -= m + 1
            if k < 1:
                raise _error(5)
            a = _read(f, m)
        elif i < 0:
            _read(f, k)  # a field of a later revision
            continue
        t = _read(f, 1)
        v = _read(f, k - 1)
        try:
            a = _NAMES[i] if i >= 0 else str(a, "utf-8")
            if t == b"s":
                v = str(v, "utf-8")
            elif t == b"i" and len(v) == 8:
                v = struct.unpack(">q", v)[0]
            elif t in b"TF" and not v:
                v = t == b"T"
            elif t != b"b":
                raise ValueError
        except ValueError:  # UnicodeError included
            raise _error(0, a if isinstance(a, str) else "config")
        if tag == 1:
            c.config[a] = v
            continue
        o = c
        if i > 9:
            o = c.pending = p
        if _KINDS[i] == "L":
            getattr(o, a).append(v)
        else:
            setattr(o, a, v)
    _records(c)  # what load returns, commit can write again: the same checks both ways
    return c


class Store:
    """The credential store in directory ``root`` (see the module text)."""

    def __init__(self, root, fs=None):
        if not root:
            raise _error(6)
        self._pre = root.rstrip("/") + "/"
        self._fs = OsFs() if fs is None else fs

    def load(self, _scan=False):
        """The newest intact generation, or the unprovisioned state when none is
        stored. ``_scan``: only (slot index, sequence, version) of the newest intact
        slot, index -1 when no slot file exists, -2 when none is intact."""
        fs = self._fs
        try:
            best = (-1, 0, 0)
            for i in (0, 1):
                path = self._pre + _SLOTS[i]
                try:
                    size = fs.stat(path)[6]
                except OSError:
                    continue  # absent
                ok = False  # intact: right size, magic and hash
                if 48 <= size <= 48 + 65536:
                    f = fs.open(path, "rb")
                    try:
                        hdr = _read(f, 16)
                        magic, version, _, seq, n = struct.unpack(">4sHHII", hdr)
                        if magic == b"tEST" and size == 48 + n:
                            h = hashlib.sha256(hdr)
                            mv = memoryview(bytearray(256))
                            while n:
                                k = f.readinto(mv[:n if n < 256 else 256])
                                if not k:
                                    break
                                h.update(mv[:k])
                                n -= k
                            ok = not n and f.read(32) == h.digest()
                    finally:
                        f.close()
                if ok and (best[0] < 0 or 0 < (seq - best[1]) % _TOP <= _TOP >> 1):
                    best = (i, seq, version)
                elif not ok and best[0] < 0:
                    best = (-2, 0, 0)
            if _scan:
                return best
            slot, seq, version = best
            if slot == -1:
                return Credentials()
            if slot < 0 or version != 1:
                raise _error(7)
            f = fs.open(self._pre + _SLOTS[slot], "rb")
            try:
                c = _parse(f)
            finally:
                f.close()
        except OSError as e:
            raise _error(8, e)
        c.generation = seq
        return c

    def commit(self, creds):
        """Write ``creds`` as the new newest generation; returns its sequence number."""
        records, n = _records(creds)
        fs = self._fs
        root = self._pre[:-1] or "/"
        try:
            slot, seq, _ = self.load(True)
            try:
                fs.stat(root)
            except OSError:
                fs.mkdir(root)
            seq = seq % _TOP + 1  # 2**32 - 1 is followed by 1: 0 means "nothing stored"
            hdr = struct.pack(">4sHHII", b"tEST", 1, 0, seq, n)
            h = hashlib.sha256(hdr)
            tmp = self._pre + "cred.tmp"
            f = fs.open(tmp, "wb")
            try:
                f.write(hdr)
                for b in records:
                    h.update(b)
                    f.write(b)
                f.write(h.digest())
                f.flush()
                sync = getattr(fs, "fsync", None)
                if sync:
                    sync(f)
            finally:
                f.close()
            fs.rename(tmp, self._pre + _SLOTS[slot == 0])
            sync = getattr(fs, "syncdir", None)
            if sync:
                sync(root)
        except OSError as e:
            raise _error(8, e)
        creds.generation = seq
        return seq

    def update(self, **fields):
        """Load, set the given fields, commit; returns the new snapshot."""
        c = self.load()
        for name in fields:
            if name not in Credentials._names:
                raise _error(9, name)
            setattr(c, name, fields[name])
        self.commit(c)
        return c

    # commit_enrollment (once per enrollment) and wipe (provisioning, a damaged
    # store) are functions ``s_NAME(store, ...)`` of tinyest.store_rare,
    # imported when first asked for
    __getattr__ = lazy("store_rare", prefix="s_")
