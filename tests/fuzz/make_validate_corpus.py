#!/usr/bin/python3
"""Make the seed corpus of fuzz_validate: answers from zones signed by one
fixed key, captured from a real NSD. Run from the top directory:

    tests/fuzz/make_validate_corpus.py KEYBASE

KEYBASE is an ldns-keygen key for signed.test. (its .key file's DNSKEY is
the one fuzz_validate.c embeds; the signatures are valid from now until
2038, and the target judges at a fixed time inside that span). Two zones
are made: signed.test. with NSEC and, as nsec3.test., the same names with
NSEC3 signed by a key of that name made alongside."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, "tests/integration")
import dns.message                               # noqa: E402
import dns.query                                 # noqa: E402
from harness import Nsd                          # noqa: E402

ZONE = """$ORIGIN {o}
$TTL 300
@ IN SOA ns hostmaster 1 3600 600 604800 30
@ IN NS ns
ns IN A 127.0.0.53
www IN A 127.0.0.20
alias IN CNAME www
*.wild IN A 127.0.0.21
a.b.deep IN TXT "deep"
sub IN NS ns.sub
ns.sub IN A 127.0.0.54
"""

QUESTIONS = [("www", "A"), ("alias", "A"), ("x.wild", "A"),
             ("nothere", "A"), ("www", "TXT"), ("b.deep", "A"), ("", "DNSKEY"),
             ("sub", "DS"), ("x.sub", "A")]


def main():
    key = sys.argv[1]
    out = "tests/fuzz/corpus/fuzz_validate"
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp()
    zones = []
    for origin, extra in (("signed.test.", []), ("nsec3.test.", ["-n", "-t",
                                                                  "0"])):
        path = os.path.join(work, origin + "zone")
        with open(path, "w") as f:
            f.write(ZONE.format(o=origin))
        keys = [os.path.abspath(key)]
        if origin != "signed.test.":
            keys = [subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256",
                                    "-k", origin], cwd=work, text=True,
                                   capture_output=True).stdout.strip()]
        subprocess.run(["ldns-signzone", "-e", "20380101000000", "-o",
                        origin] + extra + [path] + keys, cwd=work,
                       check=True)
        zones.append((origin, path + ".signed"))
    nsd = Nsd(os.path.join(work, "nsd"), zones=zones).start()
    try:
        for origin, _ in zones:
            for label, rdtype in QUESTIONS:
                name = (label + "." if label else "") + origin
                q = dns.message.make_query(name, rdtype, want_dnssec=True)
                r = dns.query.udp(q, "127.0.0.1", port=nsd.port, timeout=3)
                fname = f"{origin.split('.')[0]}-{label or 'apex'}-{rdtype}"
                with open(os.path.join(out, fname), "wb") as f:
                    f.write(r.to_wire())
    finally:
        nsd.stop()


if __name__ == "__main__":
    main()
