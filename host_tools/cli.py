"""The ``tinyest`` command: an EST client, key and request tools, a dev server.

Usage: ``tinyest COMMAND [options]``; ``tinyest COMMAND -h`` for each.

=============  ===============================================================
cacerts        GET /cacerts; with ``--fingerprint`` and no ``--cacert`` it is
               the RFC 7030 4.1.1 bootstrap (accepted only if a certificate's
               SHA-256 matches)
csrattrs       GET /csrattrs and list the attributes
enroll         POST /simpleenroll (``--csr FILE``, or a request built here from
               ``--csr-key`` or ``--new-key`` and ``--subject``/``--dns``/``--ip``);
               like reenroll and serverkeygen it fetches /cacerts first, to
               know the issuing CAs before spending a credential
reenroll       POST /simplereenroll with the current ``--cert``/``--key``; by
               default the request repeats the certificate's subject and SAN
               and reuses its key (``--new-key FILE`` makes a new one)
serverkeygen   POST /serverkeygen; writes the certificate and the new key
keygen         make a private key (P-256, P-384, Ed25519; RSA on the host)
csr            make a PKCS#10 request
show           describe certificates, requests, PKCS#7 bundles and keys
serve          run the development EST server in the foreground (``--coap``: EST
               over CoAP and DTLS on UDP, with --device CN factory identities)
demo           run a device through bootstrap, keygen, enroll, reenroll and
               serverkeygen against a fresh dev server
=============  ===============================================================

Connection options: ``--server URL`` (``https://host[:port][/.well-known/est[/LABEL]]``,
default from ``$TINYEST_SERVER``), ``--label``, ``--cacert FILE`` (repeatable),
``--user USER[:PASSWORD]`` (prompted when the password is left out),
``--token``, ``--cert``/``--key`` (TLS client certificate), ``--timeout``.

EST over CoAP and DTLS (RFC 9148, the coap extra): ``--server
coaps://host[:port][/PATH]`` (port 5684; PATH where the server keeps its EST
resources, /.well-known/est when left out; ``--label`` is appended to it). The
client commands then speak CoAP through ``tinyest.coaps.CoapsClient``: the DTLS
client certificate is ``--cert``/``--key`` (cacerts takes them too: such servers
authenticate every session, the bootstrap's as well); ``--user`` and ``--token``
are refused, since EST over CoAP has no passwords. The host must be the name the
server's certificate carries (not an IP address). A 5.03 (the server defers) is
waited out within ``--wait`` like a 202.
Inputs may be PEM or DER; outputs are PEM unless ``--outform der``; ``--out -``
(the default) is standard output. Key files are written with mode 0600.

Exit codes (the shared table of ``host_tools.exitcodes``): 0 success, 1 usage
error, 2 EST error (the server refused, or its answer failed a check), 3 network
or TLS error, 4 local file error, 5 the server deferred the request (202; retry
after the time printed), 130 interrupted.

Errors are printed once, as ``tinyest: message``, on standard error.

Here: the command table (``build_parser``), the handlers of the EST and key
commands, and the one map from errors to exit codes (``main``). Files are read
and written by ``host_tools.files``, option values parsed by
``host_tools.options``; ``show`` and ``demo`` live in modules of their own.
"""

import argparse
import contextlib
import getpass
import hashlib
import os
import sys
import time

from host_tools.demo_runner import DemoError
from host_tools.exitcodes import (EXIT_EST, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_NETWORK, EXIT_OK,
                                  EXIT_PENDING, EXIT_USAGE)
from host_tools.files import (InputError, encode, load_certs, load_csr, load_key_der, load_signer,
                              write_certs, write_key, write_out)
from host_tools.options import EST_PATH, UsageError, parse_fingerprint, parse_subject, parse_url

PROG = "tinyest"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError("%s\n%s" % (message, self.format_usage().rstrip()))


def _info(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _summary(der):
    from host_tools import show
    return show.summary(der)


# --- building requests -----------------------------------------------------------


def build_csr(signer, subject, dns=(), ips=(), challenge=None):
    from tinyest.csr_build import CsrBuilder
    from tinyest.errors import EstError
    try:
        b = CsrBuilder().subject(subject)
        for d in dns or ():
            b = b.dns(d)
        for ip in ips or ():
            b = b.ip(ip)
        if challenge:
            b = b.challenge_password(challenge)
        return b.sign(signer)
    except EstError as e:
        raise UsageError("cannot build the request: %s" % e)


def new_key(kind):
    """(signer, pkcs8_der) of a new key."""
    if kind in ("p256", "ec", "P-256"):
        from tinyest import ec
        k = ec.generate("P-256")
        return k, k.to_der()
    if kind in ("p384", "P-384"):
        from tinyest import ec
        k = ec.generate("P-384")
        return k, k.to_der()
    if kind == "ed25519":
        from tinyest import ed25519
        k = ed25519.generate()
        return k, k.to_der()
    if kind.startswith("rsa"):
        # the core loads RSA keys but does not generate them: use the host library
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        bits = int(kind[3:] or 2048)
        der = rsa.generate_private_key(65537, bits).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        from tinyest import keys
        return keys.load_private(der), der
    raise UsageError("unknown key type %r" % kind)


def _csr_from_args(args, signer=None):
    """The request DER for enroll/reenroll/serverkeygen: --csr as given, or
    built from the key and the naming options."""
    if getattr(args, "csr", None):
        if args.subject or args.dns or args.ip:
            raise UsageError("--csr cannot be combined with --subject/--dns/--ip")
        return load_csr(args.csr)
    if signer is None:
        raise UsageError("give --csr FILE, or --csr-key FILE (or --new-key FILE) with --subject")
    if args.subject is None:
        raise UsageError("--subject is required to build a request")
    return build_csr(signer, parse_subject(args.subject), args.dns, args.ip,
                     getattr(args, "challenge", None))


# --- the client ------------------------------------------------------------------


@contextlib.contextmanager
def session(client):
    """``client`` (``make_client``'s), its DTLS session (coaps://) ended afterwards."""
    try:
        yield client
    finally:
        if hasattr(client, "close"):
            client.close()


def make_client(args, anonymous=False, bootstrap=False):
    """An EstClient, or for a coaps:// server a CoapsClient, from the connection
    options; ``anonymous``: no --user/--token (and over https no --cert)."""
    scheme, host, port, label = parse_url(args.server, args.label)
    trust = []
    for path in args.cacert or ():
        trust += load_certs(path, "trust anchor file")
    if not trust and not bootstrap:
        raise UsageError("no trust anchor: give --cacert FILE (or --fingerprint for cacerts)")
    cert = key = None
    if getattr(args, "cert", None) or getattr(args, "key", None):
        if not (args.cert and args.key):
            raise UsageError("--cert and --key go together")
        cert, key = load_certs(args.cert, "client certificate file")[0], load_key_der(args.key)
    if scheme == "coaps":
        return _coaps_client(args, host, port, label, trust, cert, key)
    if anonymous and cert is not None:
        raise UsageError("--cert/--key are for coaps:// servers here")
    kw = {"label": label, "trust": trust, "timeout": args.timeout}
    if not anonymous:
        if args.user:
            user, sep, pw = args.user.partition(":")
            if not sep:
                pw = getpass.getpass("password for %s: " % user)
            kw["auth"] = (user, pw)
        if args.token:
            kw["token"] = args.token
        if cert is not None:
            kw["cert"], kw["key"] = cert, key
    from tinyest.client import EstClient
    return EstClient(host, port, **kw)


def _coaps_client(args, host, port, path, trust, cert, key):
    if getattr(args, "user", None) or getattr(args, "token", None):
        raise UsageError("EST over CoAP has no passwords or tokens: authenticate with --cert/--key "
                         "(the DTLS client certificate)")
    try:
        from host_tools import dtls
    except ImportError as e:
        raise UsageError("coaps:// needs the coap extra (pip install 'tinyest[coap]'): %s" % e)
    dtls.install()
    from tinyest.coaps import CoapsClient
    return CoapsClient(host, port, trust, cert, key, path or EST_PATH, timeout=args.timeout)


def _send(client, op, csr, wait):
    """``client.op(csr)`` (simpleenroll, simplereenroll, serverkeygen), sent
    again while the server defers within ``wait`` seconds: EstClient waits
    itself; a CoapsClient's RetryLater (a 5.03) is waited out here."""
    from tinyest.coaps import CoapsClient
    from tinyest.errors import RetryLater

    if not isinstance(client, CoapsClient):
        return getattr(client, op)(csr, wait=wait)
    end = time.monotonic() + wait
    while True:
        try:
            return getattr(client, op)(csr)
        except RetryLater as e:
            if time.monotonic() + e.seconds > end:
                raise
            _info("the server deferred the request; sending it again in %d s" % e.seconds)
            time.sleep(max(e.seconds, 1))


# --- command handlers ------------------------------------------------------------


def cmd_cacerts(args):
    fp = parse_fingerprint(args.fingerprint) if args.fingerprint else None
    if fp is None and not args.cacert:
        raise UsageError("give --cacert FILE or, to bootstrap, --fingerprint SHA256")
    with session(make_client(args, anonymous=True, bootstrap=fp is not None)) as client:
        certs = client.cacerts(bootstrap_fingerprint=fp) if fp else client.cacerts()
    write_certs(args.out, certs, args.outform)
    if args.out not in (None, "-"):
        _info("wrote %d certificate%s to %s" % (len(certs), "" if len(certs) == 1 else "s", args.out))


def cmd_csrattrs(args):
    with session(make_client(args)) as client:
        attrs = client.csrattrs()
    lines = attrs.describe()
    write_out(args.out, "".join(l + "\n" for l in lines) if lines else "(no attributes)\n")


def _enroll_key(args):
    """The CSR signer for enroll/serverkeygen, making --new-key if asked."""
    if getattr(args, "new_key", None):
        signer, der = new_key(args.key_type)
        write_key(args.new_key, der, "pem")
        return signer
    if getattr(args, "csr_key", None):
        return load_signer(args.csr_key)
    return None


def cmd_enroll(args):
    client = make_client(args)
    csr = _csr_from_args(args, _enroll_key(args))
    with session(client):
        # /cacerts first (RFC 7030 4.1.1): an issuing CA the answer leaves out is
        # then known when the new certificate is checked
        client.cacerts()
        certs = _send(client, "simpleenroll", csr, args.wait)
    write_certs(args.out, certs if args.chain else certs[:1], args.outform)
    _info("enrolled: %s" % _summary(certs[0]))


def cmd_reenroll(args):
    if not (args.cert and args.key):
        raise UsageError("reenroll needs the current certificate and key: --cert FILE --key FILE")
    client = make_client(args)
    current = load_certs(args.cert, "client certificate file")[0]
    signer = _enroll_key(args) or load_signer(args.key)
    if args.csr or args.subject is not None or args.dns or args.ip:
        csr = _csr_from_args(args, signer)
    elif getattr(args, "challenge", None):
        raise UsageError("--challenge needs --subject: a renewal copies the certificate's names")
    else:
        # The renewal request: subject and subjectAltName copied byte for byte, as
        # servers that compare them want (RFC 7030 4.2.2).
        from tinyest import csr as csr_mod
        from tinyest.errors import EstError

        try:
            csr = csr_mod.renewal(current, signer)
        except EstError as e:
            raise InputError("client certificate %s: %s" % (args.cert, e))
    with session(client):
        client.cacerts()
        certs = _send(client, "simplereenroll", csr, args.wait)
    write_certs(args.out, certs if args.chain else certs[:1], args.outform)
    _info("re-enrolled: %s" % _summary(certs[0]))


def cmd_serverkeygen(args):
    if not args.key_out:
        raise UsageError("--key-out FILE is required")
    client = make_client(args)
    signer = _enroll_key(args)
    if signer is None and not args.csr:
        signer, _ = new_key("p256")      # signs the request only; the server makes the key
    csr = _csr_from_args(args, signer)
    with session(client):
        client.cacerts()
        key_der, certs = _send(client, "serverkeygen", csr, args.wait)
    write_key(args.key_out, key_der, args.outform)
    write_certs(args.out, certs if args.chain else certs[:1], args.outform)
    _info("server-generated key written to %s; certificate: %s" % (args.key_out, _summary(certs[0])))


def cmd_keygen(args):
    _, der = new_key(args.type)
    write_key(args.out, der, args.outform)


def cmd_csr(args):
    signer = load_signer(args.key)
    csr = build_csr(signer, parse_subject(args.subject), args.dns, args.ip, args.challenge)
    write_out(args.out, encode(csr, "CERTIFICATE REQUEST", args.outform))


def cmd_show(args):
    from host_tools import show
    out = []
    for path in args.files:
        out += show.describe_file(path)
    write_out(args.out, "".join(l + "\n" for l in out))


# --- serve -----------------------------------------------------------------------


def parse_habit(text, habits=None):
    """``name=value`` -> (name, python value): integers, true/false, lf/crlf,
    comma lists for auth and alpn, strings otherwise; a name of ``habits`` (the
    HTTPS server's unless given)."""
    if habits is None:
        from host_tools.devserver import HABITS as habits
    name, eq, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not eq:
        raise UsageError("--habit wants NAME=VALUE, not %r" % text)
    if name not in habits:
        raise UsageError("unknown habit %r (known: %s)" % (name, ", ".join(sorted(habits))))
    default = habits[name]
    v = value.strip()
    if isinstance(default, bool):
        if v.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise UsageError("habit %s wants true or false" % name)
        return name, v.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        try:
            return name, int(v)
        except ValueError:
            raise UsageError("habit %s wants a number" % name)
    if name in ("auth", "alpn"):
        return name, tuple(p.strip() for p in v.split(",") if p.strip())
    if name in ("b64_eol", "multipart_eol"):
        m = {"lf": "\n", "crlf": "\r\n"}
        if v.lower() not in m:
            raise UsageError("habit %s wants lf or crlf" % name)
        return name, m[v.lower()]
    if name == "redirects":
        src, _, dst = v.partition(">")
        return name, {src.strip(): dst.strip()}
    return name, v


def cmd_serve_coap(args):
    """``serve --coap``: EST over CoAP and DTLS (RFC 9148) on UDP."""
    try:
        from host_tools.devserver.coaps import HABITS, CoapsServer
    except ImportError as e:
        raise UsageError("serve --coap needs the coap extra (pip install 'tinyest[coap]'): %s" % e)
    from tinyest import pem

    if args.host != "127.0.0.1":
        raise UsageError("serve --coap listens on 127.0.0.1 only")
    habits = dict([("retry", args.retry)] + [parse_habit(h, HABITS) for h in args.habit or ()])
    try:
        srv = CoapsServer(port=args.port, habits=habits).start()
    except ValueError as e:
        raise UsageError(str(e))
    except OSError as e:
        raise InputError("cannot listen on udp %s:%d: %s" % (args.host, args.port, e.strerror or e))
    try:
        root = cert_der_of(srv.ca.root)
        if args.ca_out:
            write_out(args.ca_out, pem.encode(root, "CERTIFICATE"))
        for cn in args.device or ():
            cert, key = srv.factory_certificate(cn)
            write_out(cn + "-idevid.pem", pem.encode(cert, "CERTIFICATE"))
            write_out(cn + "-idevid-key.pem", pem.encode(key, "PRIVATE KEY"), private=True)
            print("factory identity of %s: %s-idevid.pem, %s-idevid-key.pem" % (cn, cn, cn))
        # the URL names the server as its certificate does: DTLS clients check the name, not an address
        print("tinyest dev EST-coaps server at coaps://%s:%d/est (on %s)" % (srv.server_name, srv.port, args.host))
        print("CA fingerprint (SHA-256): %s" % hashlib.sha256(root).hexdigest())
        sys.stdout.flush()
        _foreground(args, srv.log, lambda e: "POST %s -> %s (%s)" % (e[0], e[2], e[1] or "-"))
    finally:
        srv.stop()


def _foreground(args, log, line):
    """Print ``line(entry)`` for each entry added to ``log`` until --duration
    has passed or Ctrl-C (nothing printed with --quiet)."""
    seen = 0
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.1)
            while seen < len(log) and not args.quiet:
                print(line(log[seen]))
                seen += 1
                sys.stdout.flush()
    except KeyboardInterrupt:       # the normal way to stop a foreground server
        pass


def cert_der_of(cert):
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


def cmd_serve(args):
    if args.coap:
        return cmd_serve_coap(args)
    from host_tools.devserver import DevServer
    habits = dict(parse_habit(h) for h in args.habit or ())
    if args.tls12:
        habits["tls12_only"] = True
    try:
        srv = DevServer(host=args.host, port=args.port, workdir=args.workdir, key_type=args.key_type,
                        intermediate=args.intermediate, labels=args.label or (), **habits)
    except ValueError as e:
        raise UsageError(str(e))
    for spec, one_time in [(u, False) for u in args.user or ()] + [(u, True) for u in args.otp or ()]:
        user, sep, pw = spec.partition(":")
        if not sep or not user:
            raise UsageError("--user/--otp want NAME:PASSWORD")
        srv.add_user(user, pw, one_time=one_time)
    try:
        srv.start()
    except OSError as e:
        raise InputError("cannot listen on %s:%d: %s" % (args.host, args.port, e.strerror or e))
    try:
        if args.ca_out:
            from tinyest import pem
            write_out(args.ca_out, pem.encode(srv.ca_der, "CERTIFICATE"))
        print("tinyest dev EST server at %s" % srv.url)
        for label in args.label or ():
            print("  label %s: %s" % (label, srv.url + "/" + label))
        print("CA fingerprint (SHA-256): %s" % srv.ca_fingerprint_hex)
        if args.ca_out:
            print("trust anchor written to %s" % args.ca_out)
        elif args.workdir:
            print("trust anchor: %s" % os.path.join(args.workdir, "ca", "root.pem"))
        print("users: %s" % (", ".join(sorted(srv.users())) or "(none)"))
        sys.stdout.flush()
        _foreground(args, srv.requests, lambda r: "%s %s -> %s (%s%s)" % (
            r.method, r.path, r.status, "auth " if r.authorization else "", r.user or r.client_cert_subject or "-"))
    finally:
        srv.stop()



def cmd_demo(args):
    from host_tools import demo_runner
    demo_runner.run(args.runtime, args.heap, args.keygen_key, args.timeout)


# --- parser ----------------------------------------------------------------------


def _connection_options(p, auth=True, coaps_cert=False):
    g = p.add_argument_group("connection")
    g.add_argument("--server", default=os.environ.get("TINYEST_SERVER"),
                   help="https://host[:port][/.well-known/est[/LABEL]], or coaps://host[:port][/PATH] "
                        "for EST over CoAP (default $TINYEST_SERVER)")
    g.add_argument("--label", help="CA label (path segment after /.well-known/est/)")
    g.add_argument("--cacert", action="append", metavar="FILE",
                   help="trust anchor certificate(s), PEM or DER; repeatable")
    g.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds (30)")
    if auth:
        g.add_argument("--user", metavar="USER[:PASSWORD]", help="HTTP Basic/Digest credentials")
        g.add_argument("--token", help="bearer token")
    if auth:
        g.add_argument("--cert", metavar="FILE", help="TLS (coaps://: DTLS) client certificate")
        g.add_argument("--key", metavar="FILE", help="key of the client certificate")
    elif coaps_cert:
        g.add_argument("--cert", metavar="FILE", help="coaps:// only: the DTLS client certificate (EST over "
                                                      "CoAP servers authenticate every session)")
        g.add_argument("--key", metavar="FILE", help="coaps:// only: its key")


def _output_options(p, default_form="pem"):
    p.add_argument("--out", "-o", default="-", metavar="FILE", help="output file (- for stdout)")
    p.add_argument("--outform", choices=("pem", "der"), default=default_form)


def _request_options(p):
    g = p.add_argument_group("request")
    g.add_argument("--csr", metavar="FILE", help="a ready PKCS#10 request, PEM or DER")
    g.add_argument("--csr-key", metavar="FILE", help="key that signs the request built here")
    g.add_argument("--new-key", metavar="FILE", help="make a new key for the request, write it here")
    g.add_argument("--key-type", default="p256", choices=("p256", "p384", "ed25519", "rsa2048", "rsa3072"),
                   help="type of a new key (p256)")
    g.add_argument("--subject", help='subject, "CN=dev,O=Example" or "/O=Example/CN=dev"')
    g.add_argument("--dns", action="append", metavar="NAME", help="subjectAltName DNS name; repeatable")
    g.add_argument("--ip", action="append", metavar="ADDR", help="subjectAltName IP address; repeatable")
    g.add_argument("--challenge", metavar="PW", help="challengePassword attribute")
    g.add_argument("--chain", action="store_true", help="write every certificate returned, not just ours")
    g.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="when the server defers (202), wait and resend for up to SECONDS in all (0: exit 5)")


def build_parser():
    p = _Parser(prog=PROG, description="EST (RFC 7030) client, key tools and development server.",
                epilog="exit codes: 0 ok, 1 usage, 2 EST error, 3 network/TLS, 4 local file, "
                       "5 deferred (retry later), 130 interrupted")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("cacerts", help="fetch the CA certificates")
    _connection_options(c, auth=False, coaps_cert=True)
    c.add_argument("--fingerprint", metavar="SHA256",
                   help="bootstrap: accept only if a certificate has this SHA-256 (hex)")
    _output_options(c)
    c.set_defaults(handler=cmd_cacerts)

    c = sub.add_parser("csrattrs", help="list the attributes the CA wants in requests")
    _connection_options(c)
    c.add_argument("--out", "-o", default="-", metavar="FILE")
    c.set_defaults(handler=cmd_csrattrs)

    c = sub.add_parser("enroll", help="simpleenroll: get a certificate")
    _connection_options(c)
    _request_options(c)
    _output_options(c)
    c.set_defaults(handler=cmd_enroll)

    c = sub.add_parser("reenroll", help="simplereenroll: renew with the current certificate")
    _connection_options(c)
    _request_options(c)
    _output_options(c)
    c.set_defaults(handler=cmd_reenroll)

    c = sub.add_parser("serverkeygen", help="serverkeygen: the server makes the key")
    _connection_options(c)
    _request_options(c)
    c.add_argument("--key-out", metavar="FILE", help="where to write the server-generated key (0600)")
    _output_options(c)
    c.set_defaults(handler=cmd_serverkeygen)

    c = sub.add_parser("keygen", help="make a private key (PKCS#8)")
    c.add_argument("--type", default="p256", choices=("p256", "p384", "ed25519", "rsa2048", "rsa3072", "rsa4096"))
    _output_options(c)
    c.set_defaults(handler=cmd_keygen)

    c = sub.add_parser("csr", help="make a PKCS#10 request")
    c.add_argument("--key", required=True, metavar="FILE", help="the key that signs the request")
    c.add_argument("--subject", required=True, help='"CN=dev,O=Example" or "/O=Example/CN=dev"; "" for empty')
    c.add_argument("--dns", action="append", metavar="NAME")
    c.add_argument("--ip", action="append", metavar="ADDR")
    c.add_argument("--challenge", metavar="PW")
    _output_options(c)
    c.set_defaults(handler=cmd_csr)

    c = sub.add_parser("show", help="describe certificates, requests, PKCS#7 and keys")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--out", "-o", default="-", metavar="FILE")
    c.set_defaults(handler=cmd_show)

    c = sub.add_parser("serve", help="run the development EST server")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8443, help="0 picks a free port (8443)")
    c.add_argument("--workdir", metavar="DIR", help="keep the CAs here across runs")
    c.add_argument("--key-type", default="ec", choices=("ec", "ec384", "rsa"))
    c.add_argument("--intermediate", action="store_true", help="issue from an intermediate CA")
    c.add_argument("--label", action="append", metavar="NAME", help="serve a label with its own CA")
    c.add_argument("--user", action="append", metavar="NAME:PW", help="a Basic/Digest user")
    c.add_argument("--otp", action="append", metavar="NAME:PW", help="a one-time user")
    c.add_argument("--tls12", action="store_true", help="TLS 1.2 only")
    c.add_argument("--habit", action="append", metavar="NAME=VALUE",
                   help="a real-server habit, e.g. framing=chunked, b64_wrap=76, b64_eol=crlf, "
                        "auth=digest,basic (see host_tools/devserver.py); with --coap block2=64, block1=64, "
                        "pkix_cert=true (see host_tools/devserver/coaps.py)")
    c.add_argument("--ca-out", metavar="FILE", help="write the trust anchor (PEM) here")
    c.add_argument("--duration", type=float, help="stop after this many seconds")
    c.add_argument("--quiet", "-q", action="store_true", help="do not log requests")
    c.add_argument("--coap", action="store_true",
                   help="EST over CoAP and DTLS (RFC 9148) on UDP instead (the coap extra)")
    c.add_argument("--device", action="append", metavar="CN",
                   help="with --coap: write CN-idevid.pem and CN-idevid-key.pem, a factory identity to enroll with")
    c.add_argument("--retry", type=int, default=0, metavar="SECONDS",
                   help="with --coap: answer the first enrollment 5.03 with this Max-Age")
    c.set_defaults(handler=cmd_serve)

    c = sub.add_parser("demo", help="enroll a device against a fresh dev server")
    c.add_argument("--runtime", choices=("auto", "micropython", "cpython"), default="auto",
                   help="interpreter for the device (auto: MicroPython when installed)")
    c.add_argument("--heap", default="1M", help="MicroPython heap size (1M)")
    c.add_argument("--keygen-key", default="rsa2048", choices=("rsa2048", "rsa3072", "ec"),
                   help="key type the server generates in serverkeygen (rsa2048)")
    c.add_argument("--timeout", type=int, default=300, help="seconds before the device is given up (300)")
    c.set_defaults(handler=cmd_demo)
    return p


def _version():
    from tinyest import __version__
    return __version__


def main(argv=None):
    """Run the command; returns the exit code (the console script exits with it)."""
    from tinyest import errors
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.version:
            print("tinyest %s" % _version())
            return EXIT_OK
        if not getattr(args, "command", None):
            raise UsageError("no command given\n" + parser.format_usage().rstrip())
        args.handler(args)
        return EXIT_OK
    except UsageError as e:
        return _fail(EXIT_USAGE, str(e))
    except InputError as e:
        return _fail(EXIT_INPUT, str(e))
    except errors.RetryLater as e:
        return _fail(EXIT_PENDING, "the server deferred the request; send the same request again in %d s"
                     % e.seconds)
    except errors.AuthError as e:
        return _fail(EXIT_EST, "authentication refused: %s" % e)
    except (errors.ConnectError, errors.TlsError, errors.EstTimeout) as e:
        hint = ""
        if isinstance(e, errors.TlsError):
            hint = " (check --cacert and that the server name matches its certificate)"
        return _fail(EXIT_NETWORK, "%s%s" % (e, hint))
    except (errors.EstError, DemoError) as e:
        return _fail(EXIT_EST, str(e))
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "interrupted")
    except BrokenPipeError:
        return EXIT_OK


def _fail(code, msg):
    sys.stderr.write("%s: %s\n" % (PROG, msg))
    sys.stderr.flush()
    return code


def run():
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
