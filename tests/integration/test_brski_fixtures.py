"""Self-check of the BRSKI fixtures (brski_pki.py, masa.py), no anchord.

A pledge request and a registrar request are made and signed with the
openssl command, POSTed to the MASA, and the voucher is checked with
openssl alone, as a pledge would; then each misbehaviour knob.
"""
import base64
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

import brski_pki
import masa as masa_mod

SERIAL = "PLG-0001"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("brski")
    pki = brski_pki.make(str(d))
    m = masa_mod.Masa(pki).start()
    idevid = pki.idevid(SERIAL, masa_url=m.url)
    rogue = pki.idevid("PLG-ROGUE", issuer=pki.other_mfg_ca, masa_url=m.url)
    yield pki, m, idevid, rogue, str(d)
    m.stop()


@pytest.fixture
def masa(world):
    m = world[1]
    m.misbehave, m.delay = None, 0.0
    return m


def der_of(cert):
    return subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                          check=True, stdout=subprocess.PIPE).stdout


def b64(data):
    return base64.b64encode(data).decode()


def pledge_request(pki, idevid, serial=SERIAL, nonce=b"\x01\x02\x03\x04"):
    doc = {"ietf-voucher-request:voucher": {
        "created-on": masa_mod.now_rfc3339(), "assertion": "proximity",
        "serial-number": serial, "nonce": b64(nonce),
        "proximity-registrar-cert": b64(der_of(pki.registrar.cert))}}
    return masa_mod.cms_sign(json.dumps(doc).encode(), idevid.cert,
                             idevid.key)


def registrar_request(pki, prior, serial=SERIAL):
    doc = {"ietf-voucher-request:voucher": {
        "created-on": masa_mod.now_rfc3339(), "assertion": "proximity",
        "serial-number": serial, "nonce": "AQIDBA==",
        "prior-signed-voucher-request": b64(prior)}}
    return masa_mod.cms_sign(json.dumps(doc).encode(), pki.registrar.cert,
                             pki.registrar.key, certfile=pki.domain_ca.cert)


def post(pki, m, body, ctype=masa_mod.MEDIA_TYPE, timeout=5):
    ctx = ssl.create_default_context(cafile=pki.masa_ca.cert)
    req = urllib.request.Request(m.url + masa_mod.PATH, data=body,
                                 method="POST",
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def pledge_verifies(pki, voucher, workdir):
    """The voucher as the pledge sees it: openssl against the MASA anchor."""
    path = os.path.join(workdir, "voucher.cms")
    with open(path, "wb") as f:
        f.write(voucher)
    r = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in",
                        path, "-CAfile", pki.masa_ca.cert, "-purpose", "any"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    printed = subprocess.run(["openssl", "cms", "-cmsout", "-print",
                              "-inform", "DER", "-in", path],
                             stdout=subprocess.PIPE, check=True).stdout
    assert b"(" + masa_mod.VOUCHER_OID.encode() + b")" in printed
    return json.loads(r.stdout) if r.returncode == 0 else None


def test_voucher_is_issued(world, masa):
    pki, _, idevid, _, d = world
    body = registrar_request(pki, pledge_request(pki, idevid))
    status, ctype, voucher = post(pki, masa, body)
    assert status == 200, voucher
    assert ctype == masa_mod.MEDIA_TYPE
    doc = pledge_verifies(pki, voucher, d)
    assert doc is not None
    v = doc["ietf-voucher:voucher"]
    assert v["assertion"] == "logged"
    assert v["serial-number"] == SERIAL
    assert v["nonce"] == b64(b"\x01\x02\x03\x04")
    assert base64.b64decode(v["pinned-domain-cert"]) == der_of(pki.domain_ca.cert)
    assert v["idevid-issuer"]
    rec = masa.requests[-1]
    assert rec["status"] == 200 and rec["pledge_request"]["serial-number"] == SERIAL


def test_wrong_masa_voucher_fails_at_the_pledge(world, masa):
    pki, _, idevid, _, d = world
    masa.misbehave = "wrong-masa"
    status, _, voucher = post(pki, masa, registrar_request(
        pki, pledge_request(pki, idevid)))
    assert status == 200
    assert pledge_verifies(pki, voucher, d) is None


def test_other_domain_is_pinned(world, masa):
    pki, _, idevid, _, d = world
    masa.misbehave = "other-domain"
    status, _, voucher = post(pki, masa, registrar_request(
        pki, pledge_request(pki, idevid)))
    assert status == 200
    v = pledge_verifies(pki, voucher, d)["ietf-voucher:voucher"]
    assert base64.b64decode(v["pinned-domain-cert"]) == \
        der_of(pki.other_domain_ca.cert)


def test_refusal_and_delay(world, masa):
    pki, _, idevid, _, _ = world
    masa.misbehave, masa.delay = "refuse", 0.3
    status, ctype, body = post(pki, masa, registrar_request(
        pki, pledge_request(pki, idevid)))
    assert status == 403 and b"refuses" in body
    assert ctype == "text/plain"


@pytest.mark.parametrize("case", ["ctype", "garbage", "rogue", "serial",
                                  "no-eku"])
def test_bad_requests_get_400(world, masa, case):
    pki, _, idevid, rogue, _ = world
    ctype = masa_mod.MEDIA_TYPE
    if case == "ctype":
        body, ctype = registrar_request(pki, pledge_request(pki, idevid)), \
            "application/json"
    elif case == "garbage":
        body = b"\x30\x03\x02\x01\x01"
    elif case == "rogue":
        body = registrar_request(pki, pledge_request(pki, rogue, "PLG-ROGUE"),
                                 "PLG-ROGUE")
    elif case == "serial":
        body = registrar_request(pki, pledge_request(pki, idevid, "PLG-9999"),
                                 "PLG-9999")
    else:
        # signed by the pledge instead of a registrar: no id-kp-cmcRA
        doc = {"ietf-voucher-request:voucher": {"serial-number": SERIAL}}
        body = masa_mod.cms_sign(json.dumps(doc).encode(), idevid.cert,
                                 idevid.key, certfile=pki.mfg_ca.cert)
    status, ctype_out, reason = post(pki, masa, body, ctype)
    assert status == 400, reason
    assert ctype_out == "text/plain" and reason.strip()
    assert masa.requests[-1]["status"] == 400
