"""Signed zones for the DNSSEC tests, made the way an operator makes them:
keys from ldns-keygen, signatures from ldns-signzone, then broken on
purpose where a test needs a broken zone.

signed.test. is the island of security (its KSK's DS is the only trust
anchor the tests configure, so the root is never involved). Below it:

  www, alias (CNAME), *.wild, a.b.deep    secure data, NSEC
  tampered, tampered2                     an RRSIG with a flipped byte
  child.    DS, NSEC3 (0 iterations)      a secure delegation (Ed25519)
  sub.child. DS                           two secure cuts below the anchor
  unsigned. no DS                         an insecure delegation
  expired.  DS, signatures expired        bogus: Signature Expired
  nokey.    DS, its DNSKEY RRset removed  bogus: DNSKEY Missing
  algo.     DS of an unknown algorithm    insecure: Unsupported Algorithm
  soon.     DS, signatures expire soon    secure, cached no longer

Every address is 127.x; NSD serves all the zones.
"""
import os
import subprocess
import time

PARENT = "signed.test."


def run(cmd, cwd):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd}: {out.stderr}")
    return out.stdout.strip()


def keygen(cwd, zone, alg, ksk):
    args = ["ldns-keygen", "-a", alg] + (["-k"] if ksk else []) + [zone]
    return run(args, cwd)


def ds_of(cwd, base):
    """The DS record ldns-keygen wrote for a KSK, as zone-file text."""
    with open(os.path.join(cwd, base + ".ds")) as f:
        return f.read().strip()


def sign(cwd, zonefile, keys, origin, extra=()):
    out = zonefile + ".signed"
    run(["ldns-signzone", "-f", out, "-o", origin] + list(extra) +
        [zonefile] + keys, cwd)
    return os.path.join(cwd, out)


def write(cwd, name, text):
    path = os.path.join(cwd, name)
    with open(path, "w") as f:
        f.write(text)
    return name


def zone_head(origin, ns_addr):
    return f"""$ORIGIN {origin}
$TTL 300
@ IN SOA ns hostmaster 1 3600 600 604800 30
@ IN NS ns
ns IN A {ns_addr}
"""


def tamper(path, owner, rtype):
    """Flip a character in the middle of the signature of owner/rtype."""
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        fields = line.split()
        if (len(fields) > 5 and fields[0] == owner and fields[3] == "RRSIG"
                and fields[4] == rtype):
            sig = fields[-1]
            mid = len(sig) // 2
            flipped = sig[:mid] + ("A" if sig[mid] != "A" else "B") + \
                sig[mid + 1:]
            lines[i] = line.replace(sig, flipped)
            break
    else:
        raise RuntimeError(f"no RRSIG {rtype} for {owner} in {path}")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def drop_dnskeys(path):
    """Remove the DNSKEY RRset and its signatures from a signed zone."""
    with open(path) as f:
        lines = f.read().split("\n")
    keep = [l for l in lines
            if not (len(l.split()) > 4 and (l.split()[3] == "DNSKEY" or
                    (l.split()[3] == "RRSIG" and l.split()[4] == "DNSKEY")))]
    with open(path, "w") as f:
        f.write("\n".join(keep))


class SignedZones:
    """Build every zone in workdir. zones: (name, path) pairs for Nsd;
    anchor_file: the trust anchor for anchord; delv_anchor_file: the same
    in delv's syntax."""

    def __init__(self, workdir, parent_extra=""):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.zones = []
        self.children = {}
        child_ds = []
        for label, build in (("child", self._child), ("expired", self._expired),
                             ("nokey", self._nokey), ("soon", self._soon),
                             ("unsigned", self._unsigned),
                             ("algo", self._algo)):
            origin = f"{label}.{PARENT}"
            path, ds = build(origin)
            self.zones.append((origin, path))
            child_ds.append((label, ds))
        self._parent(child_ds, parent_extra)

    # -------------------------------------------------------------- children

    def _keys(self, origin, alg="ECDSAP256SHA256"):
        ksk = keygen(self.dir, origin, alg, True)
        zsk = keygen(self.dir, origin, alg, False)
        return ksk, zsk

    def _grandchild(self, origin):
        ksk, zsk = self._keys(origin)
        name = write(self.dir, origin + "zone", zone_head(origin, "127.0.0.52") +
                     "www IN A 127.0.0.36\n")
        path = sign(self.dir, name, [ksk, zsk], origin)
        self.zones.append((origin, path))
        return ds_of(self.dir, ksk)

    def _child(self, origin):
        ksk, zsk = self._keys(origin, "ED25519")
        sub_ds = self._grandchild("sub." + origin)
        name = write(self.dir, origin + "zone", zone_head(origin, "127.0.0.55") +
                     "www IN A 127.0.0.30\ntxt IN TXT \"child\"\n" +
                     "sub IN NS ns.sub\nns.sub IN A 127.0.0.51\n" +
                     sub_ds + "\n")
        path = sign(self.dir, name, [ksk, zsk], origin,
                    ["-n", "-t", "0"])
        return path, ds_of(self.dir, ksk)

    def _expired(self, origin):
        ksk, zsk = self._keys(origin)
        name = write(self.dir, origin + "zone", zone_head(origin, "127.0.0.56") +
                     "www IN A 127.0.0.32\n")
        path = sign(self.dir, name, [ksk, zsk], origin,
                    ["-i", "20200101000000", "-e", "20200201000000"])
        return path, ds_of(self.dir, ksk)

    def _nokey(self, origin):
        ksk, zsk = self._keys(origin)
        name = write(self.dir, origin + "zone", zone_head(origin, "127.0.0.57") +
                     "www IN A 127.0.0.33\n")
        path = sign(self.dir, name, [ksk, zsk], origin)
        drop_dnskeys(path)
        return path, ds_of(self.dir, ksk)

    def _soon(self, origin):
        ksk, zsk = self._keys(origin)
        name = write(self.dir, origin + "zone", zone_head(origin, "127.0.0.58") +
                     "www 3600 IN A 127.0.0.35\n")
        self.soon_expiry = int(time.time()) + 600
        path = sign(self.dir, name, [ksk, zsk], origin,
                    ["-e", str(self.soon_expiry)])
        return path, ds_of(self.dir, ksk)

    def _unsigned(self, origin):
        name = write(self.dir, origin + "zone", zone_head(origin, "127.0.0.54") +
                     "www IN A 127.0.0.31\n")
        return os.path.join(self.dir, name), None

    def _algo(self, origin):
        name = write(self.dir, origin + "zone", zone_head(origin, "127.0.0.59") +
                     "www IN A 127.0.0.34\n")
        # A DS for algorithm 253 (private): no validator can check it, so
        # the zone counts as unsigned (RFC 4035 5.2).
        ds = f"{origin} IN DS 4242 253 2 " + "ab" * 32
        return os.path.join(self.dir, name), ds

    # -------------------------------------------------------------- parent

    def _parent(self, child_ds, extra):
        ksk, zsk = self._keys(PARENT)
        text = zone_head(PARENT, "127.0.0.53") + """www IN A 127.0.0.20
www IN AAAA ::1
alias IN CNAME www
*.wild IN A 127.0.0.21
tampered IN A 127.0.0.22
tampered2 IN A 127.0.0.23
a.b.deep IN TXT "deep"
"""
        for i, (label, ds) in enumerate(child_ds):
            text += f"{label} IN NS ns.{label}\n"
            text += f"ns.{label} IN A 127.0.0.{60 + i}\n"
            if ds:
                text += ds + "\n"
        text += extra
        name = write(self.dir, PARENT + "zone", text)
        path = sign(self.dir, name, [ksk, zsk], PARENT)
        tamper(path, "tampered." + PARENT, "A")
        tamper(path, "tampered2." + PARENT, "A")
        self.zones.insert(0, (PARENT, path))
        self.anchor = ds_of(self.dir, ksk)
        self.anchor_file = os.path.join(self.dir, "anchors.key")
        with open(self.anchor_file, "w") as f:
            f.write("; the island of security of the tests\n" + self.anchor +
                    "\n")
        fields = self.anchor.split()
        tag, alg, dtype, digest = fields[-4:]
        self.delv_anchor_file = os.path.join(self.dir, "delv-anchors.conf")
        with open(self.delv_anchor_file, "w") as f:
            f.write(f'trust-anchors {{\n\t"{PARENT}" static-ds {tag} {alg} '
                    f'{dtype} "{digest}";\n}};\n')
