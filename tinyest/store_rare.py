"""What ``tinyest.store`` does seldom, imported on first use: comparing a key
with its certificate (``key_matches``, and ``Credentials.check`` built on it:
provisioning, a device's start-up, ``Store.commit_enrollment``), decoding PEM
given to the store (hosts and provisioning; a device writes DER),
``Store.commit_enrollment`` (once per enrollment) and ``Store.wipe``
(provisioning, or a damaged store): a Store's ``NAME`` resolves to
``s_NAME`` here. And the texts of the store's StoreError messages. The store
format and its rules are those of tinyest.store's module text.

Imports tinyest.keys, tinyest.x509 and tinyest.pem when used. Errors:
StoreError. Side channels: none beyond those of the key parsing in
tinyest.keys.
"""

from tinyest.errors import EstError, StoreError

# The StoreError texts of tinyest.store, by number (``store._error``), each followed
# by the argument given there: one string holds them all
_MESSAGES = ("bad |bad config or pending|bad config name|too large|short read|bad record|"
             "no directory|no intact store of version 1|store I/O: |no store field |"
             "no key or certificate")


def key_matches(key, cert_der):
    """True when the certificate carries the public key of the private key:
    ``key`` DER or PEM (parsed; an EC key's public key is derived from its
    secret, a scalar multiplication) or a key object (its ``public_key_der()``)."""
    from tinyest import keys, x509

    if getattr(key, "public_key_der", None) is None:
        key = keys.load_private(key)
    return bytes(x509.Certificate(cert_der).public_key_der) == key.public_key_der()


def check(c, obj=None):
    """``Credentials.check`` of ``c``: StoreError unless key_der is the key of
    chain[0] and boot_key that of boot_chain[0], each key present with its chain
    or neither. ``obj``: the key object whose ``to_der()`` key_der is."""
    for name, chain in (("key_der", c.chain), ("boot_key", c.boot_chain)):
        key = getattr(c, name)
        if obj is not None and name == "key_der":
            key = obj
        try:
            if (key is None) == (not chain) and (key is None or key_matches(key, chain[0])):
                continue
        except EstError:  # a key or certificate that does not parse matches nothing
            pass
        raise StoreError(name + " mismatch")


def pem_der(name, v):
    """The DER of every PEM block in ``v`` (text or octets), each checked by
    ``store._der``; EstError (or StoreError naming the field) when one is bad."""
    from tinyest import pem
    from tinyest.store import _der

    out = []
    for b in pem.decode_all(v):
        out += _der(name, b[1])
    return out


def s_commit_enrollment(st, key_der, chain, erase_bootstrap=True, now=None):
    """``Store.commit_enrollment``: store a new key and certificate chain (already
    verified by the caller) as the current credentials; clears ``pending``; sets
    ``enrolled_at`` to ``now`` when given. Refuses (StoreError) a key that is not
    the key of the chain's first certificate. ``key_der`` may be the key object
    itself (``to_der()`` is stored): its public key, derived once when it was made
    into a request, is then compared without being derived again (on a
    microcontroller that derivation costs as much as a signature)."""
    from tinyest.store import _error, _records

    obj = None
    if getattr(key_der, "to_der", None) is not None:
        obj = key_der
        key_der = obj.to_der()
    c = st.load()
    pw = erase_bootstrap and c.boot_password is not None
    c.key_der = key_der
    c.chain = chain
    c.pending = None
    if now is not None:
        c.enrolled_at = now
    if erase_bootstrap:
        c.boot_user = c.boot_password = None
    _records(c)  # checked and normalised (PEM decoded) before the keys are compared
    if not c.enrolled:
        raise _error(10)
    check(c, obj)
    st.commit(c)
    if pw:
        st.commit(c)  # the older slot still held the password: overwrite it too
    return c


def s_wipe(st):
    """``Store.wipe`` of store ``st``: remove the temporary file, then the older
    slot, then the newest, so that a power loss leaves the old state or nothing."""
    from tinyest.store import _SLOTS, _error

    fs = st._fs
    pre = st._pre
    try:
        new = st.load(True)[0] == 1  # cred.b holds the newest
        for name in ("cred.tmp", _SLOTS[not new], _SLOTS[new]):
            try:
                fs.stat(pre + name)
            except OSError:
                continue
            fs.remove(pre + name)
    except OSError as e:
        raise _error(8, e)
