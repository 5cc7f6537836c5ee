#!/usr/bin/python3
"""Make the seed corpus of fuzz_voucher and the certificates it trusts.
Run from the top directory:

    tests/fuzz/make_voucher_corpus.py

A fresh BRSKI PKI (tests/integration/brski_pki.py) signs, with the openssl
command, a voucher (MASA key, with and without signed attributes), a
pledge's voucher-request (IDevID, ECDSA) and a registrar's request (RSA,
with its chain, holding the pledge's); plain JSON seeds start with '{',
which is how the target tells JSON from CMS. tests/fuzz/fuzz_voucher_certs.h
gets the DER of the manufacturer, MASA and domain CAs (the target's anchors) and
of the IDevID (its pinned signer); the keys are thrown away."""
import base64
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, "tests/integration")
import brski_pki                                 # noqa: E402
import masa                                      # noqa: E402

OUT = "tests/fuzz/corpus/fuzz_voucher"
HEADER = "tests/fuzz/fuzz_voucher_certs.h"


def der(cert):
    return subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                          check=True, stdout=subprocess.PIPE).stdout


def c_array(name, data):
    lines = ["static const uint8_t %s[] = {" % name]
    for i in range(0, len(data), 12):
        lines.append("\t" + " ".join("0x%02x," % b for b in data[i:i + 12]))
    lines.append("};")
    return "\n".join(lines) + "\n"


def sign(doc, who, noattr=False, certfile=None):
    data = json.dumps(doc).encode()
    extra = ["-noattr"] if noattr else []
    if certfile:
        extra += ["-certfile", certfile]
    return masa.openssl("cms", "-sign", "-nodetach", "-binary",
                        "-econtent_type", masa.VOUCHER_OID, "-md", "sha256",
                        "-outform", "DER", "-signer", who.cert, "-inkey",
                        who.key, *extra, data=data)


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        pki = brski_pki.make(d)
        idevid = pki.idevid("FUZZ-0001")
        reg_der = der(pki.registrar.cert)
        pledge = {"ietf-voucher-request:voucher": {
            "created-on": "2026-11-24T05:00:00Z", "assertion": "proximity",
            "serial-number": "FUZZ-0001", "nonce": "AAECAwQFBgc=",
            "proximity-registrar-cert": base64.b64encode(reg_der).decode()}}
        pledge_cms = sign(pledge, idevid)
        registrar = {"ietf-voucher-request:voucher": {
            "created-on": "2026-11-24T05:00:01Z", "assertion": "proximity",
            "serial-number": "FUZZ-0001", "nonce": "AAECAwQFBgc=",
            "idevid-issuer": "AQIDBAUGBwgJCgsMDQ4PEBESExQ=",
            "prior-signed-voucher-request":
                base64.b64encode(pledge_cms).decode()}}
        voucher = {"ietf-voucher:voucher": {
            "created-on": "2026-11-24T05:00:02Z",
            "expires-on": "2026-11-24T06:00:02+01:00",
            "last-renewal-date": "2027-11-24T05:00:02.5Z",
            "assertion": "logged", "serial-number": "FUZZ-0001",
            "idevid-issuer": "AQIDBAUGBwgJCgsMDQ4PEBESExQ=",
            "pinned-domain-cert":
                base64.b64encode(der(pki.domain_ca.cert)).decode(),
            "domain-cert-revocation-checks": False,
            "nonce": "AAECAwQFBgc="}}
        seeds = {
            "pledge-request.cms": pledge_cms,
            "pledge-request-noattr.cms": sign(pledge, idevid, noattr=True),
            "registrar-request.cms": sign(registrar, pki.registrar,
                                          certfile=pki.domain_ca.cert),
            "voucher.cms": sign(voucher, pki.masa),
            "voucher-noattr.cms": sign(voucher, pki.masa, noattr=True),
            "pledge-request.json": json.dumps(pledge).encode(),
            "registrar-request.json": json.dumps(registrar).encode(),
            "voucher.json": json.dumps(voucher).encode(),
        }
        for name, data in seeds.items():
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(data)
        with open(HEADER, "w") as f:
            f.write("/*  anchord - tests/fuzz/fuzz_voucher_certs.h: GENERATED"
                    " by\n *  tests/fuzz/make_voucher_corpus.py with the seed"
                    " corpus it signs. */\n#pragma once\n\n#include"
                    " <stdint.h>\n\n")
            f.write(c_array("fuzz_mfg_ca", der(pki.mfg_ca.cert)))
            f.write(c_array("fuzz_masa_ca", der(pki.masa_ca.cert)))
            f.write(c_array("fuzz_domain_ca", der(pki.domain_ca.cert)))
            f.write(c_array("fuzz_idevid", der(idevid.cert)))


if __name__ == "__main__":
    main()
