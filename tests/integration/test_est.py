"""The EST server (RFC 7030, RFC 8951, RFC 8295), driven the way RFC 7030's
appendix does it: curl for HTTP (1.1 and 2), openssl for keys, CSRs and
decoding. Python only carries bytes where openssl's tools cannot (a TLS 1.2
channel binding)."""
import base64
import email.parser
import email.policy
import os
import re
import socket
import ssl
import subprocess
import threading
import time

import dns.exception
import dns.message
import pytest

from harness import ANCHORCTL, LOCALHOST, free_port, upstream, wait_until

EST = "/.well-known/est"
HTTP_VERSIONS = ["--http1.1", "--http2"]


# ------------------------------------------------------------------ helpers

def run(cmd, input=None, check=True):
    out = subprocess.run(cmd, input=input, capture_output=True, timeout=60)
    if check:
        assert out.returncode == 0, (cmd, out.stderr.decode(errors="replace"))
    return out


def anchorctl(a, *args, input=None, check=True):
    out = subprocess.run([ANCHORCTL, "-c", a.conf] + list(args), input=input,
                         capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def new_token(a, *args):
    out = anchorctl(a, "token", "new", *args).stdout.split()
    return out[0]


class Response:
    def __init__(self, code, headers, body):
        self.code, self.headers, self.body = code, headers, body

    def header(self, name):
        return self.headers.get(name.lower(), "")


def est(a, op, tmp, data=None, http="--http2", auth=(), cert=None,
        content_type="application/pkcs10", extra=()):
    """One EST request with curl; data is the request body (bytes)."""
    hdr = os.path.join(tmp, "headers")
    cmd = ["curl", "-s", "--cacert", a.ca, http, "-D", hdr, "-o", "-"]
    if data is not None:
        body = os.path.join(tmp, "body")
        with open(body, "wb") as f:
            f.write(data)
        cmd += ["--data-binary", "@" + body,
                "-H", "Content-Type: " + content_type]
    if cert:
        cmd += ["--cert", cert[0], "--key", cert[1]]
    cmd += list(auth) + list(extra)
    cmd.append(f"https://{LOCALHOST}:{a.https_port}{EST}/{op}")
    out = run(cmd, check=False)
    assert out.returncode == 0, out.stderr
    headers, code = {}, 0
    with open(hdr) as f:
        for line in f:
            if line.startswith("HTTP/"):
                code = int(line.split()[1])
                headers = {}
            elif ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
    return Response(code, headers, out.stdout)


def bearer(token):
    return ["-H", "Authorization: Bearer " + token]


def new_key(tmp, name, spec=("-algorithm", "EC", "-pkeyopt",
                             "ec_paramgen_curve:P-256")):
    path = os.path.join(tmp, name + ".key")
    run(["openssl", "genpkey", *spec, "-out", path])
    return path


def make_csr(tmp, key, cn="device-1", sans=(), challenge=None, digest="sha256"):
    """A base64 PKCS#10 request made by openssl req, as an EST client
    sends it (lines of 64 characters)."""
    conf = os.path.join(tmp, "req.cnf")
    lines = ["[req]", "prompt = no", "distinguished_name = dn",
             "attributes = attrs", "[dn]", "CN = " + cn, "[attrs]"]
    if challenge:
        lines.append("challengePassword = " + challenge)
    if sans:
        lines.insert(1, "req_extensions = ext")
        lines += ["[ext]", "subjectAltName = " + ",".join(sans)]
    text = "\n".join(lines) + "\n"
    with open(conf, "w") as f:
        f.write(text)
    der = run(["openssl", "req", "-new", "-key", key, "-config", conf,
               "-" + digest, "-outform", "DER"]).stdout
    return base64.encodebytes(der)


def p7_certs(body, tmp):
    """The PEM certificates of a base64 certs-only PKCS#7 body."""
    der = run(["base64", "-d"], input=body).stdout   # as the README does
    return run(["openssl", "pkcs7", "-inform", "DER", "-print_certs"],
               input=der).stdout.decode()


def first_pem(text):
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n",
                  text, re.S)
    assert m, text
    return m.group(0)


def x509(pem, *args):
    return run(["openssl", "x509", "-noout", *args],
               input=pem.encode()).stdout.decode()


def save(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    return path


def pubkey_of_key(key):
    return run(["openssl", "pkey", "-in", key, "-pubout"]).stdout


def pubkey_of_cert(pem):
    return run(["openssl", "x509", "-pubkey", "-noout"],
               input=pem.encode()).stdout


def cert_list(a):
    return [l for l in anchorctl(a, "cert", "list").stdout.splitlines()
            if l.strip()]


def enroll(a, tmp, cn="device-1", http="--http2", **kw):
    """Token enrollment: (key path, certificate PEM)."""
    key = new_key(tmp, cn)
    r = est(a, "simpleenroll", tmp, make_csr(tmp, key, cn=cn), http=http,
            auth=bearer(new_token(a)), **kw)
    assert r.code == 200, r.body
    return key, first_pem(p7_certs(r.body, tmp))


EST_CONFIG = """tls:
  client-certificates: request
est:
  allowed-domains: [devices.anchord.test]
"""


@pytest.fixture
def server(nsd, make_anchord):
    return make_anchord([upstream(nsd.port)], https=True,
                        config_extra=EST_CONFIG)


# ------------------------------------------------------------------ distribution

@pytest.mark.parametrize("http", HTTP_VERSIONS)
def test_cacerts_decodes_to_the_ca(server, tmp_path, http):
    for op in ("cacerts", "anchord/cacerts"):    # with a CA label segment
        r = est(server, op, str(tmp_path), http=http)
        assert r.code == 200
        assert r.header("content-type").startswith("application/pkcs7-mime")
        assert "certs-only" in r.header("content-type")
        certs = p7_certs(r.body, str(tmp_path))
        der = base64.b64decode(b"".join(r.body.split()))
        text = run(["openssl", "pkcs7", "-inform", "DER", "-print"],
                   input=der).stdout.decode()
        assert "type: pkcs7-data" in text     # degenerate: id-data
        with open(server.ca) as f:
            assert first_pem(certs) == f.read()


@pytest.mark.parametrize("http", HTTP_VERSIONS)
def test_csrattrs_asks_for_pop_linking_and_p256(server, tmp_path, http):
    r = est(server, "csrattrs", str(tmp_path), http=http)
    assert r.code == 200
    assert r.header("content-type") == "application/csrattrs"
    der = base64.b64decode(b"".join(r.body.split()))
    text = run(["openssl", "asn1parse", "-inform", "DER"],
               input=der).stdout.decode()
    assert "challengePassword" in text
    assert "prime256v1" in text and "ecdsa-with-SHA256" in text


@pytest.mark.parametrize("http", HTTP_VERSIONS)
def test_eecerts_is_the_dns_servers_certificate(server, tmp_path, http):
    r = est(server, "eecerts", str(tmp_path), http=http)
    assert r.code == 200
    pem = first_pem(p7_certs(r.body, str(tmp_path)))
    with open(os.path.join(server.state, "server.pem")) as f:
        assert pem == first_pem(f.read())
    text = x509(pem, "-ext", "subjectAltName")
    assert "_domain-s.dns.anchord.test" in text, text
    ca = save(str(tmp_path), "ca.pem", open(server.ca).read())
    leaf = save(str(tmp_path), "leaf.pem", pem)
    run(["openssl", "verify", "-CAfile", ca, leaf])


def test_unknown_operations_and_methods(server, tmp_path):
    t = str(tmp_path)
    assert est(server, "nonsense", t).code == 404
    assert est(server, "a/b/cacerts", t).code == 404
    assert est(server, "cacerts", t, data=b"x").code == 405
    assert est(server, "simpleenroll", t).code == 405
    r = est(server, "simpleenroll", t, data=b"MAA=", content_type="text/plain")
    assert r.code == 415


# ------------------------------------------------------------------ enrollment

@pytest.mark.parametrize("http", HTTP_VERSIONS)
def test_enroll_verify_and_reenroll(server, tmp_path, http):
    t = str(tmp_path)
    key = new_key(t, "laptop")
    token = new_token(server)
    csr = make_csr(t, key, cn="laptop-7")
    r = est(server, "simpleenroll", t, csr, http=http, auth=bearer(token))
    assert r.code == 200, r.body
    assert r.header("content-type").startswith("application/pkcs7-mime")
    pem = first_pem(p7_certs(r.body, t))

    # verified against what /cacerts hands out, not the file on disk
    cacerts = first_pem(p7_certs(est(server, "cacerts", t, http=http).body, t))
    ca, cert = save(t, "cacerts.pem", cacerts), save(t, "cert.pem", pem)
    run(["openssl", "verify", "-CAfile", ca, "-purpose", "sslclient", cert])
    assert "CN = laptop-7" in x509(pem, "-subject", "-nameopt", "oneline")
    assert pubkey_of_cert(pem) == pubkey_of_key(key)

    # the token was used up
    r = est(server, "simpleenroll", t, csr, http=http, auth=bearer(token))
    assert r.code == 401
    assert "Bearer" in r.header("www-authenticate")

    # renew: the same key, authenticated by the certificate itself
    r = est(server, "simplereenroll", t, csr, http=http, cert=(cert, key))
    assert r.code == 200, r.body
    renewed = first_pem(p7_certs(r.body, t))
    assert pubkey_of_cert(renewed) == pubkey_of_key(key)
    assert x509(renewed, "-serial") != x509(pem, "-serial")

    # re-key: a new key, still authenticated by the current certificate
    key2 = new_key(t, "laptop2")
    r = est(server, "simplereenroll", t, make_csr(t, key2, cn="laptop-7"),
            http=http, cert=(cert, key))
    assert r.code == 200, r.body
    rekeyed = first_pem(p7_certs(r.body, t))
    assert pubkey_of_cert(rekeyed) == pubkey_of_key(key2)
    run(["openssl", "verify", "-CAfile", ca, save(t, "rekeyed.pem", rekeyed)])

    assert len(cert_list(server)) == 3
    audit = anchorctl(server, "audit").stdout
    assert "renewal, same key" in audit and "re-key" in audit, audit


def test_reenroll_needs_a_certificate_of_this_ca(server, tmp_path):
    t = str(tmp_path)
    key = new_key(t, "k")
    csr = make_csr(t, key)
    # a bearer token does not re-enroll
    r = est(server, "simplereenroll", t, csr, auth=bearer(new_token(server)))
    assert r.code == 401
    # nor does a certificate from another CA
    other = os.path.join(t, "other.pem")
    run(["openssl", "req", "-x509", "-new", "-key", key, "-subj", "/CN=x",
         "-days", "1", "-out", other])
    r = est(server, "simplereenroll", t, csr, cert=(other, key))
    assert r.code == 401


def test_token_names_the_device(server, tmp_path):
    t = str(tmp_path)
    token = new_token(server, "--device", "printer-3f", "--profile", "iot")
    key = new_key(t, "p")
    r = est(server, "simpleenroll", t, make_csr(t, key, cn="anything"),
            auth=bearer(token))
    assert r.code == 200, r.body
    pem = first_pem(p7_certs(r.body, t))
    assert "CN = printer-3f" in x509(pem, "-subject", "-nameopt", "oneline")
    line = cert_list(server)[0]
    assert "printer-3f" in line and "iot" in line, line


def test_allowed_dns_names_are_issued(server, tmp_path):
    t = str(tmp_path)
    key = new_key(t, "cam")
    csr = make_csr(t, key, cn="cam-1", sans=["DNS:cam-1.devices.anchord.test"])
    r = est(server, "simpleenroll", t, csr, auth=bearer(new_token(server)))
    assert r.code == 200, r.body
    pem = first_pem(p7_certs(r.body, t))
    assert "cam-1.devices.anchord.test" in x509(pem, "-ext", "subjectAltName")


@pytest.mark.parametrize("http", HTTP_VERSIONS)
def test_serverkeygen_returns_key_and_certificate(server, tmp_path, http):
    t = str(tmp_path)
    key = new_key(t, "throwaway")
    r = est(server, "serverkeygen", t, make_csr(t, key, cn="sensor-9"),
            http=http, auth=bearer(new_token(server)))
    assert r.code == 200, r.body
    ctype = r.header("content-type")
    assert ctype.startswith("multipart/mixed; boundary="), ctype
    msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + r.body)
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == \
        ["application/pkcs8", "application/pkcs7-mime"]
    # MIME parts: the client's MIME decoder undoes their base64
    keyfile = save(t, "server-made.der", parts[0].get_payload(decode=True))
    pem = first_pem(run(["openssl", "pkcs7", "-inform", "DER",
                         "-print_certs"],
                        input=parts[1].get_payload(decode=True)).stdout.decode())
    made_pub = run(["openssl", "pkey", "-inform", "DER", "-in", keyfile,
                    "-pubout"]).stdout
    assert made_pub == pubkey_of_cert(pem)
    assert made_pub != pubkey_of_key(key)
    assert "CN = sensor-9" in x509(pem, "-subject", "-nameopt", "oneline")


# ------------------------------------------------------------------ HTTP Basic

@pytest.mark.parametrize("http", HTTP_VERSIONS)
def test_basic_auth_users(server, tmp_path, http):
    t = str(tmp_path)
    pw = save(t, "pw", "correct horse battery staple\n")
    anchorctl(server, "est", "user", "add", "legacy-1", "--password-file", pw)
    assert "legacy-1" in anchorctl(server, "est", "user", "list").stdout
    key = new_key(t, "legacy")
    csr = make_csr(t, key, cn="legacy-box")

    r = est(server, "simpleenroll", t, csr, http=http,
            auth=["-u", "legacy-1:wrong password"])
    assert r.code == 401
    assert "Basic" in r.header("www-authenticate")
    r = est(server, "simpleenroll", t, csr, http=http,
            auth=["-u", "nobody:correct horse battery staple"])
    assert r.code == 401
    r = est(server, "simpleenroll", t, csr, http=http)
    assert r.code == 401 and r.header("www-authenticate")
    r = est(server, "simpleenroll", t, csr, http=http,
            auth=["-u", "legacy-1:correct horse battery staple"])
    assert r.code == 200, r.body
    pem = first_pem(p7_certs(r.body, t))
    assert "CN = legacy-1" in x509(pem, "-subject", "-nameopt", "oneline")

    anchorctl(server, "est", "user", "del", "legacy-1")
    r = est(server, "simpleenroll", t, csr, http=http,
            auth=["-u", "legacy-1:correct horse battery staple"])
    assert r.code == 401


def test_basic_auth_can_be_switched_off(nsd, make_anchord, tmp_path):
    a = make_anchord([upstream(nsd.port)], https=True,
                     config_extra="est:\n  basic-auth: false\n")
    t = str(tmp_path)
    pw = save(t, "pw", "secret-secret\n")
    anchorctl(a, "est", "user", "add", "u1", "--password-file", pw)
    key = new_key(t, "k")
    r = est(a, "simpleenroll", t, make_csr(t, key), auth=["-u", "u1:secret-secret"])
    assert r.code == 401
    assert "Basic" not in r.header("www-authenticate")


# ------------------------------------------------------------------ bad requests

def corrupt_signature(b64):
    der = bytearray(base64.b64decode(b"".join(b64.split())))
    der[-5] ^= 0x01     # inside the ECDSA signature's last integer
    return base64.encodebytes(bytes(der))


BAD_CSRS = {
    "garbage base64": lambda t: b"this is not base64 at all!!\n",
    "not a CSR": lambda t: base64.encodebytes(b"\x30\x03\x02\x01\x05"),
    "bad signature": lambda t: corrupt_signature(make_csr(t, new_key(t, "b"))),
    "RSA 1024": lambda t: make_csr(t, new_key(
        t, "w", ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"))),
    "SHA-1 signature": lambda t: make_csr(t, new_key(t, "s"), digest="sha1"),
    "forbidden DNS name": lambda t: make_csr(
        t, new_key(t, "f"), sans=["DNS:www.bank.example"]),
    "IP address SAN": lambda t: make_csr(t, new_key(t, "i"),
                                         sans=["IP:127.0.0.1"]),
    "truncated": lambda t: make_csr(t, new_key(t, "tr"))[:60] + b"\n",
}


@pytest.mark.parametrize("http", HTTP_VERSIONS)
@pytest.mark.parametrize("case", sorted(BAD_CSRS))
def test_bad_csr_is_400_and_leaves_nothing(server, tmp_path, http, case):
    t = str(tmp_path)
    token = new_token(server)
    r = est(server, "simpleenroll", t, BAD_CSRS[case](t), http=http,
            auth=bearer(token))
    assert r.code == 400, (case, r.body)
    assert len(r.body.strip()) > 10, r.body     # a reason a person can read
    assert cert_list(server) == []
    # the token was not spent on the failure
    key = new_key(t, "good")
    r = est(server, "simpleenroll", t, make_csr(t, key), http=http,
            auth=bearer(token))
    assert r.code == 200, r.body


def test_bad_csr_reasons_are_specific(server, tmp_path):
    t = str(tmp_path)
    expect = {"bad signature": "signature", "RSA 1024": "weak",
              "forbidden DNS name": "allowed", "IP address SAN": "DNS names",
              "garbage base64": "base64"}
    for case, word in expect.items():
        r = est(server, "simpleenroll", t, BAD_CSRS[case](t),
                auth=bearer(new_token(server)))
        assert r.code == 400 and word in r.body.decode(), (case, r.body)


def test_racing_requests_spend_a_token_once(server, tmp_path):
    t = str(tmp_path)
    token = new_token(server)
    csrs = []
    for i in range(6):
        d = os.path.join(t, str(i))
        os.makedirs(d)
        csrs.append((d, make_csr(d, new_key(d, "k"), cn=f"race-{i}")))
    codes = []

    def go(d, csr):
        codes.append(est(server, "simpleenroll", d, csr,
                         http="--http1.1", auth=bearer(token)).code)
    threads = [threading.Thread(target=go, args=c) for c in csrs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(codes) == [200] + [401] * 5, codes
    assert len(cert_list(server)) == 1


def test_store_keeps_what_was_issued_while_anchorctl_runs(server, tmp_path):
    """Every issued certificate is in the store, also when other processes
    open and close it between enrollments, and after a restart."""
    t = str(tmp_path)
    serials = []
    for i in range(3):
        _, pem = enroll(server, t, cn=f"keep-{i}")
        serials.append(x509(pem, "-serial").split("=")[1].strip().lower())
        cert_list(server)
    server.stop()
    server.start()
    listed = "\n".join(cert_list(server)).lower()
    for s in serials:
        assert s.lstrip("0") in listed, (s, listed)


# ------------------------------------------------------------------ POP linking

def tls13_exporter_session(a, tmp):
    """openssl s_client, TLS 1.3, printing the RFC 9266 tls-exporter."""
    p = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"{LOCALHOST}:{a.https_port}",
         "-CAfile", a.ca, "-tls1_3", "-alpn", "http/1.1", "-ign_eof",
         "-keymatexport", "EXPORTER-Channel-Binding", "-keymatexportlen", "32"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    material = None
    lines = []
    while material is None:
        line = p.stdout.readline().decode(errors="replace")
        assert line, "".join(lines)
        lines.append(line)
        m = re.search(r"Keying material: ([0-9A-Fa-f]+)", line)
        if m:
            material = bytes.fromhex(m.group(1))
    # s_client prints the session after the exporter; the HTTP response
    # follows whatever we send
    return p, material


def http1_over_s_client(p, path, body, token, port):
    req = (f"POST {path} HTTP/1.1\r\nHost: {LOCALHOST}:{port}\r\n"
           f"Content-Type: application/pkcs10\r\n"
           f"Authorization: Bearer {token}\r\n"
           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
           ).encode() + body
    out, _ = p.communicate(req, timeout=30)
    text = out.decode(errors="replace")
    m = re.search(r"HTTP/1.1 (\d+)", text)
    assert m, text
    return int(m.group(1)), text


def test_pop_linking_tls13_exporter(server, tmp_path):
    t = str(tmp_path)
    p, binding = tls13_exporter_session(server, t)
    challenge = base64.b64encode(binding).decode()
    csr = make_csr(t, new_key(t, "pop"), cn="pop-1", challenge=challenge)
    code, text = http1_over_s_client(p, EST + "/simpleenroll", csr,
                                     new_token(server), server.https_port)
    assert code == 200, text


def test_pop_linking_tls12_unique(server, tmp_path):
    """TLS 1.2: challengePassword = base64(tls-unique). Python carries the
    bytes only because openssl s_client does not print tls-unique."""
    t = str(tmp_path)
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["http/1.1"])
    with socket.create_connection((LOCALHOST, server.https_port)) as raw, \
            ctx.wrap_socket(raw) as s:
        assert s.version() == "TLSv1.2"
        binding = s.get_channel_binding("tls-unique")
        csr = make_csr(t, new_key(t, "pop12"), cn="pop-12",
                       challenge=base64.b64encode(binding).decode())
        token = new_token(server)
        s.sendall((f"POST {EST}/simpleenroll HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: application/pkcs10\r\n"
                   f"Authorization: Bearer {token}\r\n"
                   f"Content-Length: {len(csr)}\r\nConnection: close\r\n\r\n"
                   ).encode() + csr)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:300]


@pytest.mark.parametrize("http", HTTP_VERSIONS)
def test_pop_mismatch_is_rejected(server, tmp_path, http):
    t = str(tmp_path)
    wrong = base64.b64encode(os.urandom(32)).decode()
    csr = make_csr(t, new_key(t, "mm"), challenge=wrong)
    r = est(server, "simpleenroll", t, csr, http=http,
            auth=bearer(new_token(server)))
    assert r.code == 400
    assert b"POP linking" in r.body, r.body
    assert cert_list(server) == []


def test_pop_linking_can_be_required(nsd, make_anchord, tmp_path):
    a = make_anchord([upstream(nsd.port)], https=True,
                     config_extra="est:\n  require-pop-linking: true\n")
    t = str(tmp_path)
    r = est(a, "simpleenroll", t, make_csr(t, new_key(t, "n")),
            auth=bearer(new_token(a)))
    assert r.code == 400 and b"challengePassword" in r.body, r.body
    p, binding = tls13_exporter_session(a, t)
    csr = make_csr(t, new_key(t, "y"), challenge=base64.b64encode(binding).decode())
    code, text = http1_over_s_client(p, EST + "/simpleenroll", csr,
                                     new_token(a), a.https_port)
    assert code == 200, text


# ------------------------------------------------------------------ approval

def pending_ids(a):
    return [l.split()[0] for l in
            anchorctl(a, "cert", "pending").stdout.splitlines() if l.strip()]


@pytest.mark.parametrize("http", HTTP_VERSIONS)
def test_manual_approval(nsd, make_anchord, tmp_path, http):
    a = make_anchord([upstream(nsd.port)], https=True, config_extra=(
        "est:\n  approval: manual\n  retry-after: 7\n"))
    t = str(tmp_path)
    token = new_token(a)
    csr = make_csr(t, new_key(t, "ap"), cn="approve-me")
    r = est(a, "simpleenroll", t, csr, http=http, auth=bearer(token))
    assert r.code == 202 and r.header("retry-after") == "7", r.headers
    r = est(a, "simpleenroll", t, csr, http=http, auth=bearer(token))
    assert r.code == 202        # still waiting, still one request
    ids = pending_ids(a)
    assert len(ids) == 1
    assert cert_list(a) == []
    anchorctl(a, "cert", "approve", ids[0])
    r = est(a, "simpleenroll", t, csr, http=http, auth=bearer(token))
    assert r.code == 200, r.body
    assert pending_ids(a) == [] and len(cert_list(a)) == 1

    # denied: 403, and it stays denied
    token2 = new_token(a)
    csr2 = make_csr(t, new_key(t, "dn"), cn="deny-me")
    assert est(a, "simpleenroll", t, csr2, http=http,
               auth=bearer(token2)).code == 202
    anchorctl(a, "cert", "deny", pending_ids(a)[0])
    for _ in range(2):
        r = est(a, "simpleenroll", t, csr2, http=http, auth=bearer(token2))
        assert r.code == 403, r.body
    assert len(cert_list(a)) == 1


# ------------------------------------------------------------------ revocation

def dot_query_with_cert(a, cert, key):
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(cert, key)
    q = dns.message.make_query("local.anchord.test", "A").to_wire()
    with socket.create_connection((LOCALHOST, a.dot_port), timeout=5) as raw, \
            ctx.wrap_socket(raw) as s:
        s.sendall(len(q).to_bytes(2, "big") + q)
        n = int.from_bytes(s.recv(2), "big")
        return dns.message.from_wire(s.recv(n))


def test_revocation(nsd, make_anchord, tmp_path):
    """DoT requires client certificates while HTTPS, where devices enroll,
    only asks for them; a revoked certificate is listed in /crls and
    refused by new handshakes within the daemon's poll of the store."""
    port, dot_port = free_port(), free_port()
    a = make_anchord([upstream(nsd.port)], https=True, port=port, listen=[
        f"{{ address: {LOCALHOST}, port: {port}, kind: dns }}",
        f"{{ address: {LOCALHOST}, port: {dot_port}, kind: dot, "
        "client-certificates: require }"], config_extra=EST_CONFIG)
    a.dot_port = dot_port
    t = str(tmp_path)
    assert dot_refuses(a, None, None)
    key, pem = enroll(a, t, cn="to-revoke")
    cert = save(t, "c.pem", pem)
    assert dot_query_with_cert(a, cert, key).answer

    r = est(a, "crls", t)
    assert r.code == 200
    assert "crls-only" in r.header("content-type")
    serial = x509(pem, "-serial").split("=")[1].strip()
    assert int(serial, 16) not in crl_serials(a, t)
    anchorctl(a, "cert", "revoke", serial, "--reason", "1")
    assert len(anchorctl(a, "cert", "list", "--revoked").stdout.splitlines()) == 1
    assert int(serial, 16) in crl_serials(a, t)

    assert wait_until(lambda: dot_refuses(a, cert, key), timeout=15)
    assert "new CRL in force" in a.log()
    audit = anchorctl(a, "audit").stdout
    assert "revoke" in audit and serial.lower() in audit


def test_revoked_certificate_does_not_reenroll(server, tmp_path):
    t = str(tmp_path)
    key, pem = enroll(server, t, cn="gone")
    cert = save(t, "c.pem", pem)
    serial = x509(pem, "-serial").split("=")[1].strip()
    shown = anchorctl(server, "cert", "show", serial).stdout
    assert shown == pem
    anchorctl(server, "cert", "revoke", serial)
    r = est(server, "simplereenroll", t, make_csr(t, key, cn="gone"),
            cert=(cert, key))
    assert r.code == 401
    # revoking twice is an error, not a second audit entry
    assert anchorctl(server, "cert", "revoke", serial, check=False).returncode == 1


def crl_serials(a, t):
    """The serials that /crls lists, as integers (openssl prints them in
    decimal)."""
    body = est(a, "crls", t).body
    der = base64.b64decode(b"".join(body.split()))
    text = run(["openssl", "pkcs7", "-inform", "DER", "-print"],
               input=der).stdout.decode()
    assert "type: pkcs7-data" in text, text     # RFC 5652 5.2
    return {int(n) for n in re.findall(r"serialNumber: (\d+)", text)}


def dot_refuses(a, cert, key):
    """Under TLS 1.3 the server judges the client's certificate after the
    client finished: refusal shows as an alert or a closed connection."""
    try:
        return not dot_query_with_cert(a, cert, key).answer
    except (ssl.SSLError, OSError, dns.exception.DNSException):
        return True


# ------------------------------------------------------------------ an enterprise CA

def openssl_ca(tmp, name, issuer=None):
    """A CA made with openssl: a root, or an intermediate under issuer."""
    key = new_key(tmp, name)
    cert = os.path.join(tmp, name + ".pem")
    ext = os.path.join(tmp, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints = critical, CA:TRUE\n"
                "keyUsage = critical, keyCertSign, cRLSign\n"
                "subjectKeyIdentifier = hash\n")
        if issuer:
            f.write("authorityKeyIdentifier = keyid\n")
    if issuer is None:
        run(["openssl", "req", "-x509", "-new", "-key", key, "-subj",
             "/O=Corp/CN=" + name, "-days", "30", "-extensions", "v3",
             "-config", save(tmp, name + ".cnf",
                             "[req]\ndistinguished_name=dn\n[dn]\n[v3]\n"
                             + open(ext).read()), "-out", cert])
    else:
        csr = os.path.join(tmp, name + ".csr")
        run(["openssl", "req", "-new", "-key", key, "-subj",
             "/O=Corp/CN=" + name, "-out", csr])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", issuer[0],
             "-CAkey", issuer[1], "-set_serial", str(int.from_bytes(
                 os.urandom(8), "big")), "-days", "30", "-extfile", ext,
             "-out", cert])
    return cert, key


def test_imported_enterprise_ca(nsd, make_anchord, tmp_path):
    """An intermediate under the enterprise's root signs for anchord: the
    TLS chain, /cacerts and issued certificates chain to that root, and
    client certificates from a sibling CA under the same root are not
    accepted."""
    t = str(tmp_path)
    root = openssl_ca(t, "corp-root")
    inter = openssl_ca(t, "anchord-issuing", issuer=root)
    sibling = openssl_ca(t, "other-issuing", issuer=root)
    chain = save(t, "chain.pem", open(inter[0]).read() + open(root[0]).read())
    port, dot_port = free_port(), free_port()
    a = make_anchord([upstream(nsd.port)], https=True, port=port, listen=[
        f"{{ address: {LOCALHOST}, port: {port}, kind: dns }}",
        f"{{ address: {LOCALHOST}, port: {dot_port}, kind: dot, "
        "client-certificates: require }"], config_extra=(
        f"tls:\n  ca-certificate: {chain}\n  ca-key: {inter[1]}\n"))
    a.dot_port = dot_port
    a.trust_anchor = root[0]
    assert not os.path.exists(os.path.join(a.state, "ca.key"))

    # /cacerts, fetched trusting the root alone: the issuing CA and the
    # root (RFC 7030 4.1.3)
    r = est(a, "cacerts", t)
    assert r.code == 200
    certs = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n",
                       p7_certs(r.body, t), re.S)
    assert sorted(x509(c, "-subject", "-nameopt", "oneline").strip()
                  for c in certs) == ["subject=O = Corp, CN = anchord-issuing",
                                      "subject=O = Corp, CN = corp-root"]

    key, pem = enroll(a, t, cn="corp-laptop")
    cert = save(t, "laptop.pem", pem)
    run(["openssl", "verify", "-CAfile", root[0], "-untrusted", inter[0],
         cert])
    assert dot_query_with_cert(a, cert, key).answer

    # a certificate from another CA under the same root: not ours
    other_key = new_key(t, "intruder")
    csr = os.path.join(t, "intruder.csr")
    run(["openssl", "req", "-new", "-key", other_key, "-subj",
         "/CN=corp-laptop", "-out", csr])
    intruder = os.path.join(t, "intruder.pem")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", sibling[0], "-CAkey",
         sibling[1], "-set_serial", "7", "-days", "1", "-out", intruder])
    save(t, "intruder-chain.pem", open(intruder).read() + open(sibling[0]).read())
    assert dot_refuses(a, os.path.join(t, "intruder-chain.pem"), other_key)


def test_imported_ca_must_match_its_key(nsd, make_anchord, tmp_path):
    t = str(tmp_path)
    root = openssl_ca(t, "corp-root")
    stray = new_key(t, "stray")
    a = make_anchord([upstream(nsd.port)], https=True, start=False,
                     config_extra=(f"tls:\n  ca-certificate: {root[0]}\n"
                                   f"  ca-key: {stray}\n"))
    a.start(wait=False)
    assert a.proc.wait(timeout=30) != 0
    a.proc = None
    a.log_fd.close()
    assert "is not the key of" in a.log()


def test_password_checks_are_bounded(server, tmp_path):
    """Six HTTP Basic enrollments in one HTTP/2 write: a worker runs two
    Argon2id checks at once, and tells the others to come back."""
    import h2.config
    import h2.connection
    import h2.events
    t = str(tmp_path)
    pw = save(t, "pw", "hunter2-hunter2\n")
    anchorctl(server, "est", "user", "add", "bulk", "--password-file", pw)
    csr = make_csr(t, new_key(t, "b"), cn="bulk")
    cred = base64.b64encode(b"bulk:hunter2-hunter2").decode()
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection((LOCALHOST, server.https_port)) as raw, \
            ctx.wrap_socket(raw) as s:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        for _ in range(6):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [
                (":method", "POST"), (":scheme", "https"),
                (":authority", LOCALHOST), (":path", EST + "/simpleenroll"),
                ("content-type", "application/pkcs10"),
                ("authorization", "Basic " + cred)])
            conn.send_data(sid, csr, end_stream=True)
        s.sendall(conn.data_to_send())
        status, retry = {}, {}
        while len(status) < 6:
            data = s.recv(65536)
            assert data
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    h = dict(ev.headers)
                    status[ev.stream_id] = h[":status"]
                    retry[ev.stream_id] = h.get("retry-after")
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
            s.sendall(conn.data_to_send())
    assert sorted(status.values()) == ["200"] * 2 + ["503"] * 4, status
    assert all(retry[sid] == "1" for sid, c in status.items() if c == "503")
