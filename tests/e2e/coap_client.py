"""tinyest.coap.Endpoint against a CoAP server on 127.0.0.1, over plain UDP: runs
under MicroPython and CPython alike (tests/host/test_coap_exchange_host.py
starts the server, an aiocoap one, and reads the JSON lines this prints).

    coap_client.py PORT CASE [CASE ...]
    coap_client.py --dtls NAME CA.der CERT.der KEY.der PORT CASE [CASE ...]

With --dtls the datagrams go over DTLS (tinyest.dtls) to a server named NAME
that must chain to CA.der, showing the client certificate CERT.der (KEY.der its
PKCS#8 key); under CPython, host_tools.dtls provides DTLS.

Cases: big (GET, a Block2 answer), echo (POST of 2500 octets in Block1 blocks,
a Block2 answer), slow (an empty ACK, then the separate response), plain (700
octets in one datagram). Each prints one line:
{"case": ..., "ok": true, "code": ..., "len": ..., "sha": ...} or
{"case": ..., "ok": false, "error": "Class: text"}.
"""
import binascii
import hashlib
import json
import socket
import sys

from tinyest import coap


def pattern(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def connect(port, dtls=None):
    """(UDP socket, Endpoint): one session for every case of the run."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    sock = s
    if dtls:
        from tinyest import dtls as d

        s.settimeout(5)
        sock = d.wrap(s, dtls[0], [_read(dtls[1])], _read(dtls[2]), _read(dtls[3]))
    return s, coap.Endpoint(sock, timer=s, ack_timeout=0.3, wait=5)


def run(ep, case):
    try:
        if case == "big":
            m = ep.request(coap.GET, "/big")
        elif case == "echo":
            m = ep.request(coap.POST, "/echo", pattern(2500), cf=coap.PKCS10)
        elif case == "slow":
            m = ep.request(coap.GET, "slow")
        elif case == "plain":
            m = ep.request(coap.GET, "/plain")
        else:
            raise ValueError(case)
        return {"case": case, "ok": True, "code": m.code, "len": len(m.payload),
                "sha": binascii.hexlify(hashlib.sha256(m.payload).digest()).decode()}
    except Exception as e:
        return {"case": case, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}


def main(argv):
    dtls = None
    if argv[1] == "--dtls":
        dtls = argv[2:6]
        argv = argv[:1] + argv[6:]
        if sys.implementation.name != "micropython":
            from host_tools import dtls as provider

            provider.install()
    try:
        s, ep = connect(int(argv[1]), dtls)
    except Exception as e:
        print(json.dumps({"case": "connect", "ok": False, "error": "%s: %s" % (type(e).__name__, e)}))
        return
    try:
        for case in argv[2:]:
            print(json.dumps(run(ep, case)))
    finally:
        s.close()


main(sys.argv)
