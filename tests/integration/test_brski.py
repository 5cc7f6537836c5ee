"""anchord as a BRSKI registrar (RFC 8995): a pledge with an IDevID asks
for a voucher, anchord checks and wraps the request and asks the test MASA
(tests/integration/masa.py, openssl underneath) over HTTPS, and hands back
a voucher it checked. Signatures are checked with openssl cms on the
pledge's side.
"""
import base64
import json
import os
import subprocess
import time

import pytest

import brski_pki
import masa as masa_mod
from harness import ANCHORD, LOCALHOST, ZONE, upstream, wait_until
from test_est import anchorctl, x509
from test_iot import dot, iot_anchord
from test_policy import mud_nsd, signer, web  # noqa: F401 (fixtures)

ENROLL = os.path.join(os.path.dirname(ANCHORD), "anchor-enroll")

SERIAL = "PLG-0001"
BRSKI = "/.well-known/brski"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return brski_pki.make(str(tmp_path_factory.mktemp("brski-pki")))


@pytest.fixture
def masa(pki):
    m = masa_mod.Masa(pki).start()
    yield m
    m.stop()


def registrar(make_anchord, nsd, pki, masa_ca=None):
    a = make_anchord([upstream(nsd.port)], https=True, config_extra=f"""
tls:
  client-certificates: request
est:
  manufacturer-trust: [{pki.mfg_ca.cert}]
  masa-ca: [{masa_ca or pki.masa_ca.cert}]
""")
    anchorctl(a, "iot", "allow", "--issuer", pki.mfg_ca.cert, "--pattern",
              "PLG-*")
    return a


def der(pem_file):
    return subprocess.run(["openssl", "x509", "-in", pem_file, "-outform",
                           "DER"], check=True, capture_output=True).stdout


def b64(data):
    return base64.b64encode(data).decode()


def pledge_request(a, idevid, serial=SERIAL, nonce=b"nonce-0123456789",
                   proximity=None):
    doc = {"ietf-voucher-request:voucher": {
        "created-on": masa_mod.now_rfc3339(), "assertion": "proximity",
        "serial-number": serial, "nonce": b64(nonce),
        "proximity-registrar-cert": b64(proximity or der(
            os.path.join(a.state, "server.pem")))}}
    return masa_mod.cms_sign(json.dumps(doc).encode(), idevid.cert,
                             idevid.key)


def post(a, tmp, idevid, path, body, ctype=masa_mod.MEDIA_TYPE):
    """(status, headers, body) of a POST made with the IDevID."""
    src, hdr = os.path.join(tmp, "req"), os.path.join(tmp, "hdr")
    with open(src, "wb") as f:
        f.write(body)
    out = subprocess.run(
        ["curl", "-s", "--cacert", a.ca, "--cert", idevid.cert, "--key",
         idevid.key, "-D", hdr, "-o", "-", "--data-binary", "@" + src,
         "-H", "Content-Type: " + ctype,
         f"https://{LOCALHOST}:{a.https_port}{BRSKI}/{path}"],
        capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    with open(hdr) as f:
        lines = f.read().splitlines()
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (l.split(":", 1) for l in lines[1:] if ":" in l)}
    return status, headers, out.stdout


def pledge_verifies(voucher, anchor, tmp):
    """The pledge's check: openssl cms against its MASA anchor."""
    work = os.path.join(tmp, "verify")
    os.makedirs(work, exist_ok=True)
    content, _, _ = masa_mod.cms_verify(voucher, anchor, work)
    return json.loads(content)["ietf-voucher:voucher"]


def test_voucher_for_a_pledge(nsd, make_anchord, pki, masa, tmp_path):
    a = registrar(make_anchord, nsd, pki)
    idevid = pki.idevid(SERIAL, masa_url=masa.url)
    tmp = str(tmp_path)
    request = pledge_request(a, idevid)
    status, headers, voucher = post(a, tmp, idevid, "requestvoucher",
                                    request)
    assert status == 200, voucher
    assert headers["content-type"] == masa_mod.MEDIA_TYPE
    v = pledge_verifies(voucher, pki.masa_ca.cert, tmp)
    assert v["serial-number"] == SERIAL
    assert base64.b64decode(v["nonce"]) == b"nonce-0123456789"
    assert base64.b64decode(v["pinned-domain-cert"]) == der(a.ca)
    # what the MASA got: the registrar's request, RFC 8995 field names
    req = masa.requests[-1]["registrar_request"]
    assert req["serial-number"] == SERIAL and req["assertion"] == \
        "proximity"
    assert base64.b64decode(req["nonce"]) == b"nonce-0123456789"
    assert "idevid-issuer" in req and "created-on" in req
    assert base64.b64decode(req["prior-signed-voucher-request"]) == request
    # the registrar's CMS parses with openssl and names id-kp-cmcRA
    body = masa.requests[-1]["body"]
    printed = subprocess.run(["openssl", "cms", "-cmsout", "-print",
                              "-inform", "DER"], input=body,
                             capture_output=True, check=True).stdout.decode()
    assert "1.2.840.113549.1.9.16.1.40" in printed
    # status reports go to the audit log
    report = json.dumps({"version": 1, "status": True,
                         "reason": "voucher accepted"}).encode()
    assert post(a, tmp, idevid, "voucher_status", report,
                "application/json")[0] == 200
    bad = json.dumps({"version": 1, "status": False, "reason": "no CA",
                      "reason-context": {"step": "cacerts"}}).encode()
    assert post(a, tmp, idevid, "enrollstatus", bad,
                "application/json")[0] == 200
    assert post(a, tmp, idevid, "enrollstatus", b"{not json",
                "application/json")[0] == 400
    audit = anchorctl(a, "audit").stdout
    assert "voucher" in audit and f"device {SERIAL}" in audit
    assert "voucher accepted" in audit and "no CA" in audit, audit


def test_a_slow_masa_gets_202_then_the_voucher(nsd, make_anchord, pki,
                                               masa, tmp_path):
    a = registrar(make_anchord, nsd, pki)
    idevid = pki.idevid("PLG-0002", masa_url=masa.url)
    tmp = str(tmp_path)
    masa.delay = 3.5
    request = pledge_request(a, idevid, serial="PLG-0002")
    status, headers, _ = post(a, tmp, idevid, "requestvoucher", request)
    assert status == 202 and headers["retry-after"] == "1"

    def voucher():
        s, _, body = post(a, tmp, idevid, "requestvoucher", request)
        assert s in (200, 202), body
        return body if s == 200 else None
    assert wait_until(voucher, timeout=20)
    assert len(masa.requests) == 1      # asked once, not per retry
    assert pledge_verifies(voucher() or masa.requests[0]["response"],
                           pki.masa_ca.cert, tmp)["serial-number"] == \
        "PLG-0002"


def test_refusals_say_why(nsd, make_anchord, pki, masa, tmp_path):
    tmp = str(tmp_path)
    a = registrar(make_anchord, nsd, pki)
    idevid = pki.idevid("PLG-0003", masa_url=masa.url)
    # an untrusted manufacturer never reaches the MASA
    rogue = pki.idevid("PLG-0004", issuer=pki.other_mfg_ca,
                       masa_url=masa.url)
    s, _, body = post(a, tmp, rogue, "requestvoucher",
                      pledge_request(a, rogue, serial="PLG-0004"))
    assert s == 403 and b"trusted manufacturer" in body, body
    # a request about another device, or made for another registrar
    s, _, body = post(a, tmp, idevid, "requestvoucher",
                      pledge_request(a, idevid, serial="PLG-9999"))
    assert s == 400 and b"serial-number" in body, body
    s, _, body = post(a, tmp, idevid, "requestvoucher",
                      pledge_request(a, idevid, serial="PLG-0003",
                                     proximity=der(pki.registrar.cert)))
    assert s == 400 and b"proximity-registrar-cert" in body, body
    # signed by another key than the TLS session's IDevID
    other = pki.idevid("PLG-0005", masa_url=masa.url)
    s, _, body = post(a, tmp, idevid, "requestvoucher",
                      pledge_request(a, other, serial="PLG-0003"))
    assert s == 400, body
    assert masa.requests == []
    # the MASA refuses: its reason reaches the pledge
    masa.misbehave = "refuse"
    s, _, body = post(a, tmp, idevid, "requestvoucher",
                      pledge_request(a, idevid, serial="PLG-0003",
                                     nonce=b"n1"))
    assert s == 403 and b"this MASA refuses the registrar" in body, body
    # a voucher signed by a MASA nobody trusts, or pinning another domain
    masa.misbehave = "wrong-masa"
    s, _, body = post(a, tmp, idevid, "requestvoucher",
                      pledge_request(a, idevid, serial="PLG-0003",
                                     nonce=b"n2"))
    assert s == 502 and b"does not verify" in body, body
    masa.misbehave = "other-domain"
    s, _, body = post(a, tmp, idevid, "requestvoucher",
                      pledge_request(a, idevid, serial="PLG-0003",
                                     nonce=b"n3"))
    assert s == 502 and b"pins another domain CA" in body, body
    log = a.log()
    assert "voucher-request of PLG-0003 refused" in log
    assert "voucher-refused" in anchorctl(a, "audit").stdout
    # wrong media type, method, path
    assert post(a, tmp, idevid, "requestvoucher", b"x",
                "application/json")[0] == 415
    assert post(a, tmp, idevid, "nothing", b"x")[0] == 404


# ------------------------------------------------------------------ the pledge

def pledge_registrar(make_anchord, nsd, pki, web, signer, masa_ca):
    a = iot_anchord(make_anchord, nsd, web, signer, [pki.mfg_ca.cert],
                    est_extra=f"  masa-ca: [{', '.join(masa_ca)}]\n")
    anchorctl(a, "iot", "allow", "--issuer", pki.mfg_ca.cert, "--pattern",
              "PLG-*", "--profile", "iot")
    return a


def anchor_enroll_iot(a, idevid, anchor, state):
    return subprocess.run(
        [ENROLL, "iot", "--server", f"https://{LOCALHOST}:{a.https_port}",
         "--idevid", idevid.cert, "--key", idevid.key, "--masa-anchor",
         anchor, "--state", state, "--dot-port", str(a.dot_port)],
        capture_output=True, text=True, timeout=120)


def test_pledge_enrolls_and_is_confined_to_its_mud_file(
        mud_nsd, make_anchord, pki, masa, web, signer, tmp_path):
    url = web.publish("plug.json", signer)
    a = pledge_registrar(make_anchord, mud_nsd, pki, web, signer,
                         [pki.masa_ca.cert])
    idevid = pki.idevid("PLG-0100", masa_url=masa.url, mud_url=url)
    state = str(tmp_path / "pledge")
    out = anchor_enroll_iot(a, idevid, pki.masa_ca.cert, state)
    assert out.returncode == 0, out.stdout + out.stderr + a.log()
    assert "voucher for PLG-0100 verified" in out.stdout, out.stdout
    assert "DoT query OK" in out.stdout, out.stdout
    # the voucher it kept verifies with openssl and GnuTLS's certtool
    voucher = os.path.join(state, "voucher.cms")
    subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in",
                    voucher, "-CAfile", pki.masa_ca.cert, "-purpose", "any",
                    "-out", os.devnull], check=True, capture_output=True)
    printed = subprocess.run(["certtool", "--p7-info", "--inder", "--infile",
                              voucher], capture_output=True, text=True)
    assert printed.returncode == 0 and "1.2.840.113549.1.9.16.1.40" in \
        printed.stdout, printed.stdout + printed.stderr
    # the explicit trust anchor is the domain CA; the LDevID carries the
    # IDevID's serial and MUD URL
    assert der(os.path.join(state, "ca.pem")) == der(a.ca)
    with open(os.path.join(state, "cert.pem")) as f:
        ldevid = f.read()
    assert "serialNumber = PLG-0100" in x509(ldevid, "-subject")
    assert url in x509(ldevid, "-text")
    # so its DoT queries are confined to its MUD file
    cert, key = os.path.join(state, "cert.pem"), os.path.join(state,
                                                              "key.pem")
    assert wait_until(lambda: "127.0.0.21" in dot(a, cert, key,
                                                  "telemetry." + ZONE),
                      timeout=20), a.log()
    r = dot(a, cert, key, "other." + ZONE)
    assert "NXDOMAIN" in r and "15 (Blocked)" in r, r
    audit = anchorctl(a, "audit").stdout
    assert "voucher-status" in audit and "Voucher successfully processed" \
        in audit, audit
    assert "enroll-status" in audit and "Enrollment successful" in audit


def test_pledge_refusals_on_both_sides(mud_nsd, make_anchord, pki, masa,
                                       web, signer, tmp_path):
    # this registrar also trusts the rogue CA that signs wrong-masa
    # vouchers, so the pledge's own check is what stops them
    a = pledge_registrar(make_anchord, mud_nsd, pki, web, signer,
                         [pki.masa_ca.cert, pki.other_mfg_ca.cert])
    idevid = pki.idevid("PLG-0200", masa_url=masa.url)
    state = str(tmp_path / "pledge")
    masa.misbehave = "wrong-masa"
    out = anchor_enroll_iot(a, idevid, pki.masa_ca.cert, state)
    assert out.returncode == 1
    assert "does not verify against the MASA anchor" in out.stderr, \
        out.stderr
    assert wait_until(lambda: "does not verify against the MASA anchor" in
                      anchorctl(a, "audit").stdout)
    assert not os.path.exists(os.path.join(state, "cert.pem"))
    # a voucher pinning another domain: the registrar does not pass it on
    masa.misbehave = "other-domain"
    out = anchor_enroll_iot(a, idevid, pki.masa_ca.cert, state)
    assert out.returncode == 1
    assert "HTTP 502" in out.stderr and "pins another domain CA" in \
        out.stderr, out.stderr
    # an IDevID of a manufacturer the registrar does not trust
    masa.misbehave = None
    rogue = pki.idevid("PLG-0201", issuer=pki.other_mfg_ca,
                       masa_url=masa.url)
    out = anchor_enroll_iot(a, rogue, pki.masa_ca.cert, state)
    assert out.returncode == 1
    assert "HTTP 403" in out.stderr and "trusted manufacturer" in \
        out.stderr, out.stderr
    assert "IDevID refused" in a.log()
