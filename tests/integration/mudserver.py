"""MUD test fixtures: a MUD signer (CA and signing certificate, made with
certtool; signatures made with openssl cms as RFC 8520 section 13 shows),
and a real HTTPS server on 127.0.0.1 serving MUD files and signatures.

The MUD files name hosts in the test zone (up.test.), so that a device's
allowed names really resolve through NSD.
"""
import http.server
import json
import os
import ssl
import subprocess
import threading

from harness import LOCALHOST, ZONE

ALLOWED = ["telemetry." + ZONE.rstrip("."), "firmware." + ZONE.rstrip(".")]

# Records the MUD tests need in the upstream zone: firmware is a CNAME,
# so an allowed name's chain leads to a name the file does not list.
ZONE_EXTRA = """telemetry IN A 127.0.0.21
telemetry IN AAAA ::21
firmware IN CNAME edge-cdn
edge-cdn IN A 127.0.0.22
other IN A 127.0.0.23
ads IN A 127.0.0.24
sub.ads IN A 127.0.0.25
tracker IN A 127.0.0.26
"""


def certtool(*args):
    subprocess.run(["certtool"] + list(args), check=True, capture_output=True)


def make_ca(d, name):
    key, cert, tmpl = (os.path.join(d, f"{name}{s}")
                       for s in (".key", ".pem", ".tmpl"))
    with open(tmpl, "w") as f:
        f.write(f'cn = "{name}"\nca\ncert_signing_key\nexpiration_days = 30\n')
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", key)
    certtool("--generate-self-signed", "--load-privkey", key, "--template",
             tmpl, "--outfile", cert)
    return key, cert


def issue(d, name, ca, template):
    key, cert, tmpl = (os.path.join(d, f"{name}{s}")
                       for s in (".key", ".pem", ".tmpl"))
    with open(tmpl, "w") as f:
        f.write(f'cn = "{name}"\nexpiration_days = 30\n' + template)
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", key)
    certtool("--generate-certificate", "--load-privkey", key,
             "--load-ca-privkey", ca[0], "--load-ca-certificate", ca[1],
             "--template", tmpl, "--outfile", cert)
    return key, cert


class Signer:
    """A MUD signer CA and a signing certificate (digitalSignature)."""

    def __init__(self, d, name="mud-signer"):
        os.makedirs(d, exist_ok=True)
        self.dir = d
        self.ca = make_ca(d, name + "-ca")
        self.key, self.cert = issue(d, name, self.ca, "signing_key\n")

    @property
    def trust(self):
        return self.ca[1]

    def sign(self, path):
        sig = path.rsplit(".", 1)[0] + ".p7s"
        subprocess.run(["openssl", "cms", "-sign", "-binary", "-outform",
                        "DER", "-signer", self.cert, "-inkey", self.key,
                        "-in", path, "-out", sig], check=True,
                       capture_output=True)
        return sig


def mud_file(url, names=ALLOWED, signature=True):
    """A MUD file (RFC 8520) allowing TCP/443 to names, from the device."""
    aces = [{
        "name": f"cl{i}-frdev",
        "matches": {
            "ipv4": {"ietf-acldns:dst-dnsname": n, "protocol": 6},
            "tcp": {"ietf-mud:direction-initiated": "from-device",
                    "destination-port": {"operator": "eq", "port": 443}},
        },
        "actions": {"forwarding": "accept"},
    } for i, n in enumerate(names)]
    mud = {
        "mud-version": 1,
        "mud-url": url,
        "last-update": "2026-11-01T10:00:00+00:00",
        "cache-validity": 48,
        "is-supported": True,
        "systeminfo": "anchord test thermometer",
        "from-device-policy": {"access-lists": {"access-list": [
            {"name": "mud-test-v4fr"}]}},
        "to-device-policy": {"access-lists": {"access-list": [
            {"name": "mud-test-v4to"}]}},
    }
    if signature:
        mud["mud-signature"] = url.rsplit(".", 1)[0] + ".p7s"
    return json.dumps({
        "ietf-mud:mud": mud,
        "ietf-access-control-list:acls": {"acl": [
            {"name": "mud-test-v4fr", "type": "ipv4-acl-type",
             "aces": {"ace": aces}},
            {"name": "mud-test-v4to", "type": "ipv4-acl-type",
             "aces": {"ace": []}},
        ]},
    }, indent=2)


class MudServer:
    """HTTPS on 127.0.0.1 (a port of its own) serving files from a folder,
    with a certificate from a CA of its own (give anchord mud.fetch-ca)."""

    def __init__(self, d):
        os.makedirs(d, exist_ok=True)
        self.root = os.path.join(d, "www")
        os.makedirs(self.root, exist_ok=True)
        self.ca = make_ca(d, "mud-web-ca")
        key, cert = issue(d, "mud-web", self.ca,
                          'ip_address = "127.0.0.1"\ntls_www_server\n'
                          'signing_key\nencryption_key\n')
        self.requests = []
        root, requests = self.root, self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=root, **kw)

            def do_GET(self):
                requests.append((self.path, self.headers.get("Accept")))
                super().do_GET()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer((LOCALHOST, 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def trust(self):
        return self.ca[1]

    def url(self, name):
        return f"https://{LOCALHOST}:{self.port}/{name}"

    def put(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def publish(self, name, signer, names=ALLOWED, url=None):
        """A signed MUD file at /name; returns its URL."""
        path = self.put(name, mud_file(url or self.url(name), names))
        if signer:
            signer.sign(path)
        return self.url(name)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _tlv(der, pos):
    """(start, end, content start) of the DER element at pos."""
    length = der[pos + 1]
    head = 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(der[pos + 2:pos + 2 + n], "big")
        head = 2 + n
    return pos, pos + head + length, pos + head


def subject_der(cert_pem):
    """The DER subject Name of a certificate: what a device certificate's
    mudsigner extension holds to name its MUD file's signer."""
    import base64
    with open(cert_pem) as f:
        b64 = "".join(l for l in f.read().splitlines()
                      if l and not l.startswith("-----"))
    der = base64.b64decode(b64)
    _, _, tbs = _tlv(der, 0)            # Certificate
    _, _, pos = _tlv(der, tbs)          # TBSCertificate
    if der[pos] == 0xA0:                # [0] version
        pos = _tlv(der, pos)[1]
    for _ in range(4):                  # serial, signature, issuer, validity
        pos = _tlv(der, pos)[1]
    start, end, _ = _tlv(der, pos)
    return der[start:end]
