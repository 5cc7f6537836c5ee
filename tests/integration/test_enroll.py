"""BYOD enrollment end to end: anchorctl makes a code or a user,
anchor-enroll runs the PAKE over real TLS 1.3 against the real daemon, gets
its certificate by EST, checks DoT and DoH, and writes configurations that a
real stubby then uses. Security properties are checked with a
TLS-terminating relay and by replaying captured messages."""
import base64
import http.client
import json
import os
import plistlib
import re
import socket
import ssl
import subprocess
import threading
import time

import dns.message
import dns.query
import pytest

from harness import (ANCHORCTL, ANCHORD, LOCALHOST, free_port, stop_process,
                     upstream, wait_until)

ANCHOR_ENROLL = os.path.join(os.path.dirname(ANCHORD), "anchor-enroll")
API = "/.well-known/anchor/v1"
ADN = "dns.anchord.test"
RISTRETTO_BASE = bytes.fromhex(
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")


# ------------------------------------------------------------------ helpers

def anchorctl(a, *args, check=True):
    out = subprocess.run([ANCHORCTL, "-c", a.conf] + list(args),
                         capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def new_code(a, *args):
    out = anchorctl(a, "code", "new", *args).stdout
    code = re.search(r"^code: (\S+)$", out, re.M).group(1)
    uri = re.search(r"^uri: (\S+)$", out, re.M).group(1)
    return code, uri


def add_user(a, tmp_path, name, password):
    pw = tmp_path / f"{name}.pw"
    pw.write_text(password + "\n")
    anchorctl(a, "user", "add", name, "--password-file", str(pw))
    return str(pw)


def enroll(a, tmp_path, *args, check=True, name="client"):
    """anchor-enroll with its own state and output directories."""
    state, out = tmp_path / f"{name}-state", tmp_path / f"{name}-out"
    cmd = [ANCHOR_ENROLL, "enroll", *args, "--state", str(state),
           "--out", str(out),
           "--resolve", f"{ADN}:{a.https_port}:{LOCALHOST}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr + a.log()
    r.state, r.out = state, out
    return r


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Api:
    """One TLS 1.3 connection to the enrollment API (http.client keeps it
    open, so starts and finishes share it as the protocol requires)."""

    def __init__(self, port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.conn = http.client.HTTPSConnection(LOCALHOST, port, context=ctx,
                                                timeout=10)

    def post(self, op, body):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.conn.request("POST", API + op, body=raw,
                          headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None, r

    def close(self):
        self.conn.close()


@pytest.fixture
def server(nsd, make_anchord):
    return make_anchord([upstream(nsd.port)], https=True, dot=True)


def devices(a):
    return [l.split("\t") for l in
            anchorctl(a, "device", "list").stdout.splitlines() if l.strip()]


def code_row(a, code_id):
    for line in anchorctl(a, "code", "list").stdout.splitlines():
        if line.startswith(code_id + "\t"):
            return line.split("\t")
    return None


# ------------------------------------------------------------------ end to end

def run_stubby(config, tmp_path):
    log = open(tmp_path / "stubby.log", "wb")
    proc = subprocess.Popen(["stubby", "-C", str(config), "-v", "6"],
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, tmp_path / "stubby.log"


def stubby_answer(port):
    try:
        q = dns.message.make_query("www.up.test.", "A")
        r = dns.query.udp(q, LOCALHOST, port=port, timeout=2)
        return [rr.to_text() for rrset in r.answer for rr in rrset]
    except Exception:
        return None


def test_code_enrollment_then_stubby_resolves_through_pinned_dot(
        server, tmp_path):
    code, uri = new_code(server, "--device", "laptop-1", "--profile", "byod")
    stub_port = free_port()
    r = enroll(server, tmp_path, uri, "--write", "stubby,json",
               "--stub-listen", f"{LOCALHOST}@{stub_port}")
    assert "enrolled device laptop-1" in r.stdout
    assert "DoT query OK" in r.stdout and "DoH query OK" in r.stdout
    serial = re.search(r"certificate ([0-9a-f]+)", r.stdout).group(1)
    certs = anchorctl(server, "cert", "list").stdout
    assert serial in certs and "laptop-1" in certs
    assert ["laptop-1", "active", f"code:{code[:4]}"] == devices(server)[0][:3]
    assert code_row(server, code[:4])[1] == "used"
    # the client's own DoT check presented its new certificate
    assert "device laptop-1 (client certificate)" in server.log()

    info = json.loads((r.out / "enrollment.json").read_text())
    assert info["device"] == "laptop-1"
    stubby_yml = (r.out / "stubby.yml").read_text()
    assert server.pin() in stubby_yml
    proc, log = run_stubby(r.out / "stubby.yml", tmp_path)
    try:
        got = []
        assert wait_until(lambda: got.append(stubby_answer(stub_port))
                          or got[-1], timeout=20), log.read_text()
        assert got[-1] == ["127.0.0.10"], log.read_text()
    finally:
        stop_process(proc)
    # stubby cannot send a client certificate: anchord says which device
    # it is from where that device enrolled
    assert wait_until(lambda: "device laptop-1 (enrolled from this address)"
                      in server.log())


def test_password_enrollment(server, tmp_path):
    pw = add_user(server, tmp_path, "Alice", "correct horse battery")
    assert "alice" in anchorctl(server, "user", "list").stdout
    r = enroll(server, tmp_path, "--server",
               f"https://{ADN}:{server.https_port}", "--user", "ALICE",
               "--password-file", pw, "--device", "phone", "--write", "json")
    assert "enrolled device alice-phone" in r.stdout, r.stdout
    assert ["alice-phone", "active", "user:alice"] == devices(server)[0][:3]
    # status shows the enrollment; renew re-enrolls with the certificate
    st = subprocess.run([ANCHOR_ENROLL, "status", "--state", str(r.state)],
                        capture_output=True, text=True, timeout=30)
    assert st.returncode == 0 and "alice-phone" in st.stdout, st.stderr
    rn = subprocess.run([ANCHOR_ENROLL, "renew", "--state", str(r.state),
                         "--resolve", f"{ADN}:{server.https_port}:{LOCALHOST}"],
                        capture_output=True, text=True, timeout=60)
    assert rn.returncode == 0, rn.stdout + rn.stderr
    assert len([l for l in anchorctl(server, "cert", "list").stdout
                .splitlines() if "alice-phone" in l]) == 2


def test_wrong_password_fails_and_backs_off(server, tmp_path):
    add_user(server, tmp_path, "bob", "right password")
    wrong = tmp_path / "wrong.pw"
    wrong.write_text("wrong password\n")
    args = ("--server", f"https://{ADN}:{server.https_port}", "--user", "bob",
            "--password-file", str(wrong))
    r = enroll(server, tmp_path, *args, check=False)
    assert r.returncode != 0 and "wrong user name or password" in r.stderr
    r = enroll(server, tmp_path, *args, check=False)
    assert r.returncode != 0 and re.search(r"429|again", r.stderr), r.stderr
    assert devices(server) == []
    assert "login.failure" in anchorctl(server, "audit").stdout


def test_unknown_user_ke2_looks_like_a_known_one(server, tmp_path):
    add_user(server, tmp_path, "carol", "whatever it is")
    ke1 = RISTRETTO_BASE + os.urandom(32) + RISTRETTO_BASE
    shapes = []
    for user in ("carol", "nobody-here"):
        api = Api(server.https_port)
        status, body, _ = api.post("/opaque/login/start",
                                   {"user": user, "ke1": b64u(ke1)})
        api.close()
        assert status == 200
        shapes.append((sorted(body), len(unb64u(body["ke2"])),
                       len(body["session"])))
    assert shapes[0] == shapes[1] and shapes[0][1] == 320


# ------------------------------------------------------------------ codes

def mistyped(code):
    """The same code id with a different secret."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    last = code[-1]
    return code[:-1] + alphabet[(alphabet.index(last) + 1) % 32]


def test_wrong_code_counts_and_the_code_dies_after_three(server, tmp_path):
    code, _ = new_code(server)
    base = f"https://{ADN}:{server.https_port}"
    for n in (1, 2, 3):
        r = enroll(server, tmp_path, "--server", base, "--code",
                   mistyped(code), check=False)
        assert r.returncode != 0 and "403" in r.stderr + r.stdout or \
            "authentication failed" in r.stderr, r.stderr
        assert code_row(server, code[:4])[5] == f"failures={n}"
    assert code_row(server, code[:4])[1] == "dead"
    r = enroll(server, tmp_path, "--server", base, "--code", code, check=False)
    assert r.returncode != 0 and ("410" in r.stderr or "used up" in r.stderr)
    assert devices(server) == []


def test_code_is_used_once(server, tmp_path):
    code, uri = new_code(server)
    enroll(server, tmp_path, uri, name="first")
    r = enroll(server, tmp_path, uri, check=False, name="second")
    assert r.returncode != 0 and ("410" in r.stderr or "used up" in r.stderr)
    assert len(devices(server)) == 1


def test_replayed_finish_fails(server, tmp_path):
    """A finish message captured from a real enrollment, sent again on a
    fresh connection, finds no session."""
    code, uri = new_code(server)
    r = enroll(server, tmp_path, uri, "--trace")
    finish = [l for l in r.stderr.splitlines()
              if l.startswith("> POST " + API + "/cpace/finish ")]
    assert finish, r.stderr
    body = finish[0].split(" ", 3)[3]
    api = Api(server.https_port)
    status, reply, _ = api.post("/cpace/finish", body.encode())
    api.close()
    assert status == 404 and "bundle" not in reply
    assert len(devices(server)) == 1


# ------------------------------------------------------------------ a relay

class TerminatingRelay:
    """A man in the middle with a certificate of its own: it terminates the
    client's TLS and forwards each HTTP/1.1 request faithfully to anchord
    over one TLS connection of its own."""

    def __init__(self, target_port, tmp_path):
        key, cert = tmp_path / "mitm.key", tmp_path / "mitm.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", str(key), "-out", str(cert), "-days", "1",
                        "-subj", f"/CN={ADN}", "-addext",
                        f"subjectAltName=DNS:{ADN}"],
                       check=True, capture_output=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.upstream = Api(target_port)
        self.sock = socket.socket()
        self.sock.bind((LOCALHOST, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,),
                             daemon=True).start()

    def handle(self, raw):
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
            f = conn.makefile("rb")
            while True:
                line = f.readline()
                if not line:
                    return
                method, path, _ = line.decode().split(" ", 2)
                length = 0
                while True:
                    h = f.readline().decode()
                    if h in ("\r\n", "\n", ""):
                        break
                    name, _, value = h.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = f.read(length)
                self.requests += 1
                self.upstream.conn.request(
                    method, path, body=body,
                    headers={"Content-Type": "application/json"})
                r = self.upstream.conn.getresponse()
                data = r.read()
                conn.sendall(b"HTTP/1.1 %d X\r\nContent-Type: application/json"
                             b"\r\nContent-Length: %d\r\n\r\n"
                             % (r.status, len(data)) + data)
        except (OSError, ValueError, ssl.SSLError):
            return

    def close(self):
        self.sock.close()
        self.upstream.close()


def test_terminating_relay_fails_key_confirmation(server, tmp_path):
    code, _ = new_code(server)
    relay = TerminatingRelay(server.https_port, tmp_path)
    try:
        r = subprocess.run(
            [ANCHOR_ENROLL, "enroll", "--server", f"https://{ADN}:{relay.port}",
             "--code", code, "--state", str(tmp_path / "s"),
             "--out", str(tmp_path / "o"),
             "--resolve", f"{ADN}:{relay.port}:{LOCALHOST}"],
            capture_output=True, text=True, timeout=60)
    finally:
        relay.close()
    assert relay.requests >= 2          # the PAKE went through the relay
    assert r.returncode != 0
    assert "authentication failed" in r.stderr or "403" in r.stderr, r.stderr
    # nothing was issued, and the attempt counted against the code
    assert devices(server) == []
    assert code_row(server, code[:4])[5] == "failures=1"
    assert not (tmp_path / "s" / "cert.pem").exists()


# ------------------------------------------------------------------ the protocol's edges

def test_tls12_is_refused_with_426(server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    c = http.client.HTTPSConnection(LOCALHOST, server.https_port, context=ctx,
                                    timeout=10)
    c.request("POST", API + "/cpace/start", body=b'{"code_id":"ABCD"}',
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 426 and r.getheader("Upgrade") == "TLS/1.3"
    c.close()


def test_unknown_code_id_is_answered_like_a_known_one(server):
    code, _ = new_code(server)
    shapes = []
    for cid in (code[:4], "ZZZZ" if code[:4] != "ZZZZ" else "YYYY"):
        api = Api(server.https_port)
        status, body, _ = api.post("/cpace/start", {"code_id": cid})
        api.close()
        assert status == 200
        shapes.append((sorted(body), len(unb64u(body["yb"])),
                       len(unb64u(body["sid"])), body["adb"]))
    assert shapes[0] == shapes[1]
    assert unb64u(shapes[0][3]) == b"anchor-enroll-v1 server " + ADN.encode()


@pytest.mark.parametrize("body,status", [
    (b"not json", 400),
    (b'{"code_id": 5}', 400),
    (b'{"code_id": "TOOLONG"}', 400),
    (b'{"code_id": "AB-D"}', 400),
    (b'[1, 2]', 400),
    (b'{"code_id": "ABCD", "code_id": "ABCE"}', 400),
])
def test_malformed_requests_get_400(server, body, status):
    api = Api(server.https_port)
    got, reply, _ = api.post("/cpace/start", body)
    api.close()
    assert got == status and "error" in reply


def test_finish_on_another_connection_is_refused(server):
    code, _ = new_code(server)
    api = Api(server.https_port)
    _, start, _ = api.post("/cpace/start", {"code_id": code[:4]})
    api.close()
    other = Api(server.https_port)
    status, _, _ = other.post("/cpace/finish", {
        "session": start["session"], "ya": b64u(RISTRETTO_BASE),
        "ada": b64u(b"anchor-enroll-v1 client"), "ta": b64u(bytes(64))})
    other.close()
    assert status == 403
    assert code_row(server, code[:4])[5] == "failures=1"


def test_written_configurations_are_valid(server, tmp_path):
    code, uri = new_code(server, "--device", "mac-1")
    r = enroll(server, tmp_path, uri, "--write",
               "mobileconfig,firefox,chrome,resolved,anchord,json")
    with open(r.out / "anchor-enroll.mobileconfig", "rb") as f:
        profile = plistlib.load(f)
    kinds = {p["PayloadType"] for p in profile["PayloadContent"]}
    assert {"com.apple.security.root", "com.apple.security.pkcs12",
            "com.apple.dnsSettings.managed"} <= kinds
    dns_payload = [p for p in profile["PayloadContent"]
                   if p["PayloadType"] == "com.apple.dnsSettings.managed"][0]
    assert dns_payload["DNSSettings"]["DNSProtocol"] in ("HTTPS", "TLS")
    ff = json.loads((r.out / "policies.json").read_text())
    assert ff["policies"]["DNSOverHTTPS"]["Enabled"] is True
    assert ff["policies"]["DNSOverHTTPS"]["ProviderURL"].startswith(
        f"https://{ADN}:{server.https_port}/dns-query")
    assert ff["policies"]["Certificates"]["Install"]
    chrome = json.loads((r.out / "chrome-policy.json").read_text())
    assert chrome["DnsOverHttpsMode"] == "secure"
    assert chrome["DnsOverHttpsTemplates"].startswith(f"https://{ADN}")
    resolved = (r.out / "anchor-enroll.conf").read_text()
    assert "DNSOverTLS=yes" in resolved and f"#{ADN}" in resolved
    check = subprocess.run([ANCHORD, "-c", str(r.out / "anchord-stub.conf"),
                            "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_device_revoke_revokes_its_certificate(server, tmp_path):
    code, uri = new_code(server, "--device", "lost-phone")
    enroll(server, tmp_path, uri)
    out = anchorctl(server, "device", "revoke", "lost-phone").stdout
    assert "1 certificate" in out
    assert devices(server)[0][1] == "revoked"
    assert "lost-phone" in anchorctl(server, "cert", "list",
                                     "--revoked").stdout


def test_register_code_lets_a_new_user_register(server, tmp_path):
    code, uri = new_code(server, "--purpose", "register")
    pw = tmp_path / "dave.pw"
    pw.write_text("dave's new password\n")
    enroll(server, tmp_path, uri, "--register-user", "dave",
           "--password-file", str(pw), name="reg")
    assert "dave" in anchorctl(server, "user", "list").stdout
    # the new password works for a password enrollment
    r = enroll(server, tmp_path, "--server",
               f"https://{ADN}:{server.https_port}", "--user", "dave",
               "--password-file", str(pw), name="login")
    assert "enrolled device dave-" in r.stdout


def test_qr_and_png(server, tmp_path):
    png = tmp_path / "code.png"
    out = anchorctl(server, "code", "new", "--qr", "--png", str(png)).stdout
    assert "\u2588" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    uri = re.search(r"^uri: (\S+)$", out, re.M).group(1)
    assert uri.startswith(f"anchor://{ADN}:{server.https_port}/enroll?code=")
    assert "&pin=" in uri
