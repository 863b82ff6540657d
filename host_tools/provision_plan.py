"""The plan of a run: what every device gets (server, trust anchors, the
credential, its identity), and station enrollment of a device's request."""

import hashlib
import secrets

from host_tools import files as host_files
from host_tools import options
from host_tools.exitcodes import EXIT_NETWORK
from host_tools.provision_exits import EXIT_EST, EXIT_INPUT, EXIT_USAGE, Fail, UsageError
from host_tools.provision_station import check_template, fill
from tinyest import serialwire as wire


def _input(fn, *args):
    try:
        return fn(*args)
    except host_files.InputError as e:
        raise Fail(EXIT_INPUT, str(e))


def load_certs(path, what):
    return _input(host_files.load_certs, path, what)


def load_key(path, what):
    return bytes(_input(host_files.load_key_der, path, what))


class Plan:
    """What every device of a run gets (from the options)."""

    def __init__(self, o):
        self.o = o
        try:
            self.scheme, self.host, self.port, self.label = options.parse_url(o["server"], o["label"])
        except options.UsageError as e:
            raise UsageError(str(e).splitlines()[0])
        self.method = o["credential"]
        if self.scheme == "coaps" and self.method in ("password", "otp"):
            raise UsageError("EST over CoAP has no passwords: give --idevid-cert/--idevid-key or --station-enroll")
        if self.scheme == "coaps" and o.get("station_user"):
            raise UsageError("EST over CoAP has no passwords: the station enrolls with --station-cert/--station-key")
        self.trust = load_certs(o["ta"], "trust anchor file")
        from tinyest import x509
        from tinyest.errors import EstError

        for t in self.trust:
            try:
                x509.Certificate(t)
            except EstError as e:
                raise Fail(EXIT_INPUT, "trust anchor file %s: %s" % (o["ta"], e))
        self.ta_fingerprint = hashlib.sha256(self.trust[0]).hexdigest()
        self.idevid = None
        if self.method == "idevid" and o.get("idevid_cert"):
            self.idevid = self.load_idevid(o["idevid_cert"], o["idevid_key"])
        self.station_auth = {}
        if self.method == "station":
            if o["station_user"]:
                self.station_auth["auth"] = (o["station_user"], o["station_password"])
            else:
                self.station_auth["cert"] = load_certs(o["station_cert"], "station certificate file")[0]
                self.station_auth["key"] = load_key(o["station_key"], "station key file")
        for k in ("otp_user", "cn", "dns"):
            if k != "dns" or self.o[k]:
                check_template(self.o[k], "--" + k.replace("_", "-"))

    @staticmethod
    def load_idevid(cert_path, key_path):
        from tinyest.errors import EstError
        from tinyest.store import key_matches

        chain = load_certs(cert_path, "IDevID certificate file")
        key = load_key(key_path, "IDevID key file")
        try:
            ok = key_matches(key, chain[0])
        except EstError as e:
            raise Fail(EXIT_INPUT, "IDevID %s / %s: %s" % (cert_path, key_path, e))
        if not ok:
            raise Fail(EXIT_INPUT, "IDevID key %s does not belong to certificate %s" % (key_path, cert_path))
        return key, chain

    def where(self):
        """The EST server as the tool prints it: host:port, then /label or a coaps:// path."""
        label = self.label or ""
        return "%s:%d%s" % (self.host, self.port, label if label[:1] in ("/", "") else "/" + label)

    def config_for(self, dev_id, cn=None, dns=None):
        """The store config of a device: the EST server and the device's identity
        (``cn``/``dns``: the device's own templates, else the plan's). A coaps://
        server adds "scheme": "coaps" (``tinyest.device`` then speaks EST over
        CoAP), its label being the path of its EST resources."""
        cfg = {"host": self.host, "port": self.port}
        if self.label:
            cfg["label"] = self.label
        if self.scheme == "coaps":
            cfg["scheme"] = "coaps"
        cfg["cn"] = identity(cn or self.o["cn"], dev_id, "cn")
        if dns or self.o["dns"]:
            cfg["dns"] = identity(dns or self.o["dns"], dev_id, "dns")
        return cfg

    def files_for(self, dev_id, config, idevid=None):
        """(files, secret): the files to write and an OTP (user, password) or None."""
        files = {"config": wire.render_config(config), "trust": b"".join(self.trust)}
        secret = None
        o = self.o
        if self.method == "password":
            files["boot_user"] = o["user"].encode()
            files["boot_password"] = o["password"].encode()
        elif self.method == "otp":
            user = fill(o["otp_user"], dev_id)
            secret = (user, secrets.token_urlsafe(18))
            files["boot_user"] = user.encode()
            files["boot_password"] = secret[1].encode()
        elif self.method == "idevid":
            key, chain = idevid or self.idevid
            files["boot_key"] = key
            files["boot_chain"] = b"".join(chain)
        return files, secret

    def credentials(self, files, config):
        """The tinyest.store Credentials of a file set (raw REPL path)."""
        from tinyest.store import Credentials

        c = Credentials()
        c.config = dict(config)
        c.trust = list(self.trust)
        if "boot_user" in files:
            c.boot_user = files["boot_user"].decode()
            c.boot_password = files["boot_password"].decode()
        if "boot_key" in files:
            c.boot_key = files["boot_key"]
            c.boot_chain = wire.split_der(files["boot_chain"])
        return c

    def enroll(self, csr):
        """Station mode: enroll the device's CSR; the chain to write (issued first)."""
        from tinyest import x509
        from tinyest.client import EstClient
        from tinyest.errors import ConnectError, EstError, EstTimeout, TlsError

        client = None
        try:
            if self.scheme == "coaps":
                from host_tools import dtls
                from tinyest.coaps import CoapsClient

                dtls.install()
                client = CoapsClient(self.host, self.port, self.trust, path=self.label or options.EST_PATH,
                                     timeout=self.o["timeout"] * 2, **self.station_auth)
            else:
                client = EstClient(self.host, self.port, label=self.label, trust=self.trust,
                                   timeout=self.o["timeout"] * 2, **self.station_auth)
            certs = [bytes(c) for c in client.simpleenroll(csr)]
        except (ConnectError, EstTimeout, TlsError) as e:
            raise Fail(EXIT_NETWORK, "EST server %s:%d unreachable: %s" % (self.host, self.port, e))
        except EstError as e:
            raise Fail(EXIT_EST, "EST server %s:%d: %s" % (self.host, self.port, e))
        finally:
            if hasattr(client, "close"):  # the DTLS session of EST over CoAP
                client.close()
        extra = [bytes(c) for c in getattr(client, "ca_certs", [])]
        chain = list(certs)
        for candidate in (chain, chain + [c for c in extra if c not in chain and c not in self.trust]):
            try:
                x509.verify_chain(candidate[0], candidate[1:], self.trust)
                return candidate
            except EstError:
                continue
        raise Fail(EXIT_EST, "the issued certificate does not chain to the trust anchor")


def identity(template, dev_id, what):
    """The cn or dns of a device; Fail when it cannot be a subject CN (1 to 64
    characters, no control character) or a DNS name."""
    v = fill(template, dev_id)
    if what == "cn":
        ok = 0 < len(v) <= 64 and all(ord(ch) >= 0x20 and ord(ch) != 0x7F for ch in v)
    else:
        labels = v[:-1].split(".") if v.endswith(".") else v.split(".")
        ok = len(v) <= 253 and all(
            0 < len(x) <= 63 and x[0] != "-" and x[-1] != "-"
            and all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in x) for x in labels)
    if not ok:
        raise Fail(EXIT_USAGE, "device %s: %r is not a usable %s" % (dev_id, v, "subject CN (1 to 64 characters)"
                                                                    if what == "cn" else "DNS name"), "untouched")
    return v
