"""Power-fail safe credential store on a file system (device flash or a host folder).

What it keeps (``Credentials``)
    config          dict of small settings: str keys (at most 255 UTF-8 octets), values
                    str, bytes, int (64-bit signed) or bool. By convention "host",
                    "port" and "label" name the EST server.
    trust           list of trust anchor certificates (DER).
    boot_user, boot_password
                    the one-time bootstrap credential (str or bytes), or None.
    boot_key, boot_chain
                    a factory key (DER) and certificate chain (list of DER), or None / [].
    key_der, chain  the current private key (DER) and certificate chain (list of DER,
                    our certificate first), or None / [].
    pending         a deferred request (``Pending``: op, csr, key_der, retry_at,
                    attempts) or None.
    enrolled_at, cacerts_at, time_offset
                    int timestamps (seconds, the caller's epoch) and the learned server
                    time offset, or None.
    generation      read only: the sequence number of the generation loaded (0: nothing
                    stored yet).

API
    ``Store(root, fs=None)``: ``root`` is a directory that holds only the store (made by
    the first commit). ``fs`` provides ``open(path, mode)``, ``rename``, ``remove``,
    ``stat``, ``mkdir`` and optionally ``fsync(file)`` and ``syncdir(path)``; default
    ``OsFs()``. A MicroPython ``VfsFat``/``VfsLfs2`` object works as ``fs`` directly.
    ``load()`` -> Credentials (the unprovisioned state when nothing is stored);
    ``commit(creds)`` writes them as a new generation; ``update(**fields)`` loads,
    changes, commits and returns the new snapshot; ``commit_enrollment(key_der, chain,
    erase_bootstrap=True, now=None)``; ``wipe()``.

    Nothing here verifies certificates. The caller commits a new key and chain only
    after it has checked the chain against the trust anchors. ``commit_enrollment``
    makes one cheap check of its own: it refuses (StoreError) a chain whose first
    certificate does not carry the key's public key. It also clears ``pending``. With
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
    ``MAX_BODY`` octets, a record at most 65535.

    A slot is intact when its size is exactly 48 + body length, its magic is right and
    the hash matches. ``load`` takes the intact slot with the highest sequence number;
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
    an enrollment, a renewal, a trust anchor update, a pending state update and a wipe,
    with atomic and with remove-then-rename renames; and, on MicroPython, its own
    VfsFat and VfsLfs2 drivers on a RAM block device rebuilt after every prefix of the
    block writes, the last one torn in half.

Heap
    ``load`` first checks both slots by streaming them through a 256-octet buffer, then
    reads the chosen one record by record: every value is read once, into the object
    returned. ``commit`` writes the values it is given without joining them.

Only tinyest.errors classes escape (StoreError for I/O errors too); ``fs`` exceptions
that are not OSError (e.g. a test's simulated power loss) pass through untouched.
"""

import hashlib
import os
import struct

from tinyest.errors import StoreError

VERSION = 1
MAX_BODY = 65536
_MAGIC = b"tEST"
_HDR = ">4sHHII"
_HDR_LEN = 16
_HASH_LEN = 32
_REC = ">BH"
_SLOTS = ("cred.a", "cred.b")
_TMP = "cred.tmp"

_CONFIG = 1
# (tag, attribute, is a list of DER, must be DER)
_FIELDS = (
    (2, "trust", True, True),
    (3, "boot_user", False, False),
    (4, "boot_password", False, False),
    (5, "boot_key", False, True),
    (6, "boot_chain", True, True),
    (7, "key_der", False, True),
    (8, "chain", True, True),
    (14, "enrolled_at", False, False),
    (15, "cacerts_at", False, False),
    (16, "time_offset", False, False),
)
_PENDING = (
    (9, "op", False),
    (10, "csr", True),
    (11, "key_der", True),
    (12, "retry_at", False),
    (13, "attempts", False),
)
_INT_FIELDS = ("enrolled_at", "cacerts_at", "time_offset", "retry_at", "attempts")
_TEXT_FIELDS = ("boot_user", "boot_password")
_NAMES = ("config", "pending") + tuple([f[1] for f in _FIELDS])
_PENDING_NAMES = tuple([f[1] for f in _PENDING])
_TAGS = (_CONFIG,) + tuple([f[0] for f in _FIELDS]) + tuple([f[0] for f in _PENDING])

_fsync = getattr(os, "fsync", None)
_sync = getattr(os, "sync", None)
_replace = getattr(os, "replace", None) or os.rename


class OsFs:
    """The running system's files: builtin open and the os module."""

    def open(self, path, mode):
        return open(path, mode)

    def rename(self, src, dst):
        _replace(src, dst)

    def remove(self, path):
        os.remove(path)

    def stat(self, path):
        return os.stat(path)

    def mkdir(self, path):
        os.mkdir(path)

    def fsync(self, f):
        if _fsync is not None and hasattr(f, "fileno"):
            _fsync(f.fileno())
        elif _sync is not None:
            _sync()

    def syncdir(self, path):
        if _fsync is not None and hasattr(os, "O_RDONLY"):  # CPython on POSIX
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    _fsync(fd)
                finally:
                    os.close(fd)
            except OSError:
                pass  # a system that cannot sync a directory (Windows)


def _same(a, b, names):
    if type(a) is not type(b):
        return False
    for name in names:
        if getattr(a, name) != getattr(b, name):
            return False
    return True


class Pending:
    """A deferred request: ``op`` (e.g. "simplereenroll"), the CSR and the key made
    for it (DER or None), when to send it again (``retry_at``) and ``attempts``."""

    def __init__(self, op, csr=None, key_der=None, retry_at=None, attempts=0):
        self.op = op
        self.csr = csr
        self.key_der = key_der
        self.retry_at = retry_at
        self.attempts = attempts

    def __eq__(self, other):
        return _same(self, other, _PENDING_NAMES)


class Credentials:
    """One snapshot of the store (see the module text for the fields)."""

    def __init__(self):
        self.config = {}
        self.pending = None
        for _, name, many, _ in _FIELDS:
            setattr(self, name, [] if many else None)
        self.generation = 0

    @property
    def enrolled(self):
        """A key and at least one certificate are present."""
        return self.key_der is not None and len(self.chain) > 0

    def __eq__(self, other):
        return _same(self, other, _NAMES)


def key_matches(key_der, cert_der):
    """True when the certificate carries the public key of the private key."""
    from tinyest import keys, x509

    return bytes(x509.Certificate(cert_der).public_key_der) == bytes(keys.load_private(key_der).public_key_der())


def _is_der(v):
    return isinstance(v, (bytes, bytearray, memoryview)) and len(v) > 0


def _value(v):
    """(type octet, data) of a stored value."""
    if v is True:
        return b"T", b""
    if v is False:
        return b"F", b""
    if isinstance(v, int):
        if v < -(1 << 63) or v >= (1 << 63):
            raise StoreError("integer out of range")
        return b"i", struct.pack(">q", v)
    if isinstance(v, str):
        return b"s", v.encode()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return b"b", v
    raise StoreError("cannot store a %s" % type(v).__name__)


def _records(c):
    """The records of a snapshot as (tag, prefix, data), checked; and the body length."""
    out = []

    def add(tag, prefix, data):
        if len(prefix) + len(data) > 0xFFFF:
            raise StoreError("record of %d octets (tag %d)" % (len(prefix) + len(data), tag))
        out.append((tag, prefix, data))

    if not isinstance(c.config, dict):
        raise StoreError("config must be a dict")
    for k in sorted(c.config):
        if not isinstance(k, str) or not k:
            raise StoreError("config names are non-empty str")
        name = k.encode()
        if len(name) > 255:
            raise StoreError("config name too long")
        v = c.config[k]
        if v is None:
            raise StoreError("config value None for " + k)
        t, data = _value(v)
        add(_CONFIG, bytes([len(name)]) + name + t, data)
    for tag, name, many, is_der in _FIELDS:
        v = getattr(c, name)
        if many:
            if not isinstance(v, (list, tuple)):
                raise StoreError(name + " must be a list")
            for item in v:
                if not _is_der(item):
                    raise StoreError(name + " holds a non-DER item")
                add(tag, b"b", item)
        elif v is not None:
            if is_der and not _is_der(v):
                raise StoreError(name + " must be DER octets")
            if name in _INT_FIELDS and (not isinstance(v, int) or isinstance(v, bool)):
                raise StoreError(name + " must be an int")
            if name in _TEXT_FIELDS and not isinstance(v, (str, bytes, bytearray)):
                raise StoreError(name + " must be str or bytes")
            t, data = _value(v)
            add(tag, t, data)
    p = c.pending
    if p is not None:
        if not isinstance(p, Pending) or not isinstance(p.op, str):
            raise StoreError("pending must be a Pending with a str op")
        for tag, name, is_der in _PENDING:
            v = getattr(p, name)
            if v is not None:
                if is_der and not _is_der(v):
                    raise StoreError("pending " + name + " must be DER octets")
                if name in _INT_FIELDS and (not isinstance(v, int) or isinstance(v, bool)):
                    raise StoreError("pending " + name + " must be an int")
                t, data = _value(v)
                add(tag, t, data)
    n = 0
    for _, prefix, data in out:
        n += 3 + len(prefix) + len(data)
    if n > MAX_BODY:
        raise StoreError("store body of %d octets (limit %d)" % (n, MAX_BODY))
    return out, n


def _read_exact(f, n):
    b = f.read(n)
    if b is None or len(b) != n:
        raise StoreError("store file shorter than its header says")
    return b


def _decode(t, data):
    if t == b"b":
        return data
    if t == b"s":
        try:
            return str(data, "utf-8")
        except UnicodeError:
            raise StoreError("stored text is not UTF-8")
    if t == b"i" and len(data) == 8:
        return struct.unpack(">q", data)[0]
    if t == b"T" and not data:
        return True
    if t == b"F" and not data:
        return False
    raise StoreError("bad stored value type")


class Store:
    """The credential store in directory ``root`` (see the module text)."""

    def __init__(self, root, fs=None):
        if not root:
            raise StoreError("empty store directory name")
        self._root = root if root == "/" else root.rstrip("/")
        self._fs = OsFs() if fs is None else fs

    def _path(self, name):
        return self._root + name if self._root.endswith("/") else self._root + "/" + name

    def _check(self, name):
        """(sequence, version) of an intact slot; None if absent; False if damaged."""
        fs = self._fs
        path = self._path(name)
        try:
            size = fs.stat(path)[6]
        except OSError:
            return None
        if size < _HDR_LEN + _HASH_LEN or size > _HDR_LEN + MAX_BODY + _HASH_LEN:
            return False
        f = fs.open(path, "rb")
        try:
            hdr = f.read(_HDR_LEN)
            if hdr is None or len(hdr) != _HDR_LEN:
                return False
            magic, version, _, seq, n = struct.unpack(_HDR, hdr)
            if magic != _MAGIC or size != _HDR_LEN + n + _HASH_LEN:
                return False
            h = hashlib.sha256(hdr)
            buf = bytearray(256)
            mv = memoryview(buf)
            while n:
                k = f.readinto(mv[:n if n < 256 else 256])
                if not k:
                    return False
                h.update(mv[:k])
                n -= k
            tail = f.read(_HASH_LEN)
            if tail != h.digest():
                return False
            return seq, version
        finally:
            f.close()

    def _scan(self):
        """(slot index, sequence, version) of the newest intact slot, or (-1, 0, 0) with
        a flag telling whether any slot file exists."""
        best = (-1, 0, 0)
        seen = False
        for i in range(2):
            r = self._check(_SLOTS[i])
            if r is not None:
                seen = True
            if r and (best[0] < 0 or r[0] > best[1]):
                best = (i, r[0], r[1])
        return best, seen

    def load(self):
        """The newest intact generation, or the unprovisioned state when none is stored."""
        try:
            (slot, seq, version), seen = self._scan()
            if slot < 0:
                if seen:
                    raise StoreError("no intact generation in " + self._root)
                return Credentials()
            if version != VERSION:
                raise StoreError("store version %d (this library reads %d)" % (version, VERSION))
            f = self._fs.open(self._path(_SLOTS[slot]), "rb")
            try:
                c = self._parse(f)
            finally:
                f.close()
        except OSError as e:
            raise StoreError("store read failed: %s" % e)
        c.generation = seq
        return c

    def _parse(self, f):
        n = struct.unpack(_HDR, _read_exact(f, _HDR_LEN))[4]
        c = Credentials()
        pend = {}
        while n:
            if n < 4:
                raise StoreError("truncated store record")
            tag, k = struct.unpack(_REC, _read_exact(f, 3))
            n -= 3
            if k < 1 or k > n:
                raise StoreError("bad store record length")
            n -= k
            if tag not in _TAGS:
                _read_exact(f, k)  # a field of a later revision
                continue
            name = None
            if tag == _CONFIG:
                nl = _read_exact(f, 1)[0]
                if nl + 2 > k:
                    raise StoreError("bad config record")
                name = _decode(b"s", _read_exact(f, nl))
                k -= nl + 1
            v = _decode(_read_exact(f, 1), _read_exact(f, k - 1))
            if name is not None:
                c.config[name] = v
                continue
            for ftag, fname, many, _ in _FIELDS:
                if ftag == tag:
                    if many:
                        getattr(c, fname).append(v)
                    else:
                        setattr(c, fname, v)
            for ftag, fname, _ in _PENDING:
                if ftag == tag:
                    pend[fname] = v
        if pend:
            if "op" not in pend:
                raise StoreError("pending state without op")
            p = Pending(pend["op"])
            for key in pend:
                setattr(p, key, pend[key])
            c.pending = p
        _records(c)  # what load returns, commit can write again: same checks both ways
        return c

    def commit(self, creds):
        """Write ``creds`` as the new newest generation; returns its sequence number."""
        records, n = _records(creds)
        fs = self._fs
        try:
            (slot, seq, _), _ = self._scan()
            try:
                fs.stat(self._root)
            except OSError:
                fs.mkdir(self._root)
            seq = seq + 1 if slot >= 0 else 1
            hdr = struct.pack(_HDR, _MAGIC, VERSION, 0, seq, n)
            h = hashlib.sha256(hdr)
            tmp = self._path(_TMP)
            f = fs.open(tmp, "wb")
            try:
                f.write(hdr)
                for tag, prefix, data in records:
                    head = struct.pack(_REC, tag, len(prefix) + len(data)) + prefix
                    h.update(head)
                    f.write(head)
                    if len(data):
                        h.update(data)
                        f.write(data)
                f.write(h.digest())
                f.flush()
                sync = getattr(fs, "fsync", None)
                if sync is not None:
                    sync(f)
            finally:
                f.close()
            fs.rename(tmp, self._path(_SLOTS[1 if slot == 0 else 0]))
            sync = getattr(fs, "syncdir", None)
            if sync is not None:
                sync(self._root)
        except OSError as e:
            raise StoreError("store write failed: %s" % e)
        creds.generation = seq
        return seq

    def update(self, **fields):
        """Load, set the given fields, commit; returns the new snapshot."""
        c = self.load()
        for name in fields:
            if name not in _NAMES:
                raise StoreError("no store field " + name)
            setattr(c, name, fields[name])
        self.commit(c)
        return c

    def commit_enrollment(self, key_der, chain, erase_bootstrap=True, now=None):
        """Store a new key and certificate chain (already verified by the caller) as the
        current credentials; clears ``pending``; sets ``enrolled_at`` to ``now`` when given.
        Refuses a chain whose first certificate does not hold the key's public key."""
        if not _is_der(key_der) or not chain:
            raise StoreError("a key and at least one certificate are needed")
        if not key_matches(key_der, chain[0]):
            raise StoreError("the certificate does not match the key")
        c = self.load()
        had_password = c.boot_password is not None
        c.key_der = key_der
        c.chain = list(chain)
        c.pending = None
        if now is not None:
            c.enrolled_at = now
        if erase_bootstrap:
            c.boot_user = None
            c.boot_password = None
        self.commit(c)
        if erase_bootstrap and had_password:
            self.commit(c)  # the older slot still held the password: overwrite it too
        return c

    def wipe(self):
        """Remove every store file: the temporary one, the older slot, the newest."""
        try:
            (slot, _, _), _ = self._scan()
            order = (_TMP, _SLOTS[0], _SLOTS[1]) if slot == 1 else (_TMP, _SLOTS[1], _SLOTS[0])
            for name in order:
                try:
                    self._fs.stat(self._path(name))
                except OSError:
                    continue
                self._fs.remove(self._path(name))
        except OSError as e:
            raise StoreError("store wipe failed: %s" % e)
