#!/usr/bin/env python3
"""mkwheel.py - build small pure-Python wheels for the integration tests.

The wheels are real PEP 427 wheels that pip installs: METADATA, WHEEL, entry_points.txt
with console scripts, optional .data/scripts, and a RECORD whose hashes are
sha256=<urlsafe base64 without padding>. Output is deterministic (fixed zip timestamps,
sorted members, seeded payloads), so building the same wheel twice gives the same bytes.

    mkwheel.py OUTDIR NAME VERSION [options]

    --dep REQ               Requires-Dist (repeatable), e.g. --dep 'demolib>=1.0'
    --script NAME=MOD:FUNC  console script (repeatable); FUNC is generated in MOD if
                            the module's content does not define it
    --data-script NAME      a "#!python" script under NAME-VERSION.data/scripts/
    --module-content TEXT   extra source appended to PKG/__init__.py
    --file PATH=TEXT        extra file inside the wheel (repeatable), relative to
                            site-packages, e.g. --file demolib/data.txt=hello
    --payload-size N        add PKG/payload.bin: N bytes of deterministic pseudo-random
                            (incompressible) data, for dedup measurements
    --modules N             add N extra small modules PKG/mod_I.py

Prints the path of the wheel written. The import package is NAME with '-' and '.'
replaced by '_'; PKG/__init__.py defines __version__ and, for every console script, a
function printing "NAME VERSION".
"""

import argparse
import base64
import hashlib
import os
import re
import sys
import zipfile

DATE = (2020, 1, 1, 0, 0, 0)


def normalize(name):
    """Wheel filename / dist-info form of a distribution name."""
    return re.sub(r"[-_.]+", "_", name)


def b64hash(data):
    digest = hashlib.sha256(data).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def payload(seed, size):
    """size bytes that do not compress, the same for the same seed."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(("%s:%d" % (seed, counter)).encode()).digest()
        counter += 1
    return bytes(out[:size])


def build(args):
    name, version = args.name, args.version
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", name):
        sys.exit("mkwheel: bad distribution name %r" % name)
    pkg = normalize(name).lower()
    dist = normalize(name)
    distinfo = "%s-%s.dist-info" % (dist, version)
    files = {}

    init = ['"""%s %s, built by mkwheel.py for the venvfs tests."""\n' % (name, version),
            '__version__ = "%s"\n' % version]
    scripts = []
    for spec in args.script:
        m = re.fullmatch(r"([A-Za-z0-9._-]+)=([A-Za-z0-9_.]+):([A-Za-z0-9_]+)", spec)
        if not m:
            sys.exit("mkwheel: bad --script %r (want NAME=MODULE:FUNC)" % spec)
        scripts.append(m.groups())
    content = "".join(args.module_content)
    if content:
        init.append("\n" + content + ("\n" if not content.endswith("\n") else ""))
    defined = set(re.findall(r"^def ([A-Za-z0-9_]+)\(", content, re.M))
    for _, mod, func in scripts:
        if mod.split(".")[0] != pkg:
            sys.exit("mkwheel: --script module %r is not in package %r" % (mod, pkg))
        if mod == pkg and func not in defined:
            init.append("\n\ndef %s():\n    print(%r, __version__)\n    return 0\n"
                        % (func, name))
            defined.add(func)
    files["%s/__init__.py" % pkg] = "".join(init).encode()

    for i in range(args.modules):
        files["%s/mod_%d.py" % (pkg, i)] = (
            "# module %d of %s %s\nVALUE = %d\n\ndef value():\n    return VALUE\n"
            % (i, name, version, i)).encode()
    if args.payload_size:
        files["%s/payload.bin" % pkg] = payload("%s-%s" % (name, version), args.payload_size)
    for spec in args.file:
        path, sep, text = spec.partition("=")
        if not sep or not path or path.startswith("/") or ".." in path.split("/"):
            sys.exit("mkwheel: bad --file %r (want RELPATH=TEXT)" % spec)
        files[path] = text.encode()
    for sname in args.data_script:
        files["%s-%s.data/scripts/%s" % (dist, version, sname)] = (
            "#!python\nimport %s\nprint(%r, %s.__version__)\n" % (pkg, sname, pkg)).encode()

    meta = ["Metadata-Version: 2.1", "Name: %s" % name, "Version: %s" % version,
            "Summary: test package %s" % name]
    meta += ["Requires-Dist: %s" % d for d in args.dep]
    files[distinfo + "/METADATA"] = ("\n".join(meta) + "\n").encode()
    files[distinfo + "/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: mkwheel.py\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n").encode()
    files[distinfo + "/top_level.txt"] = (pkg + "\n").encode()
    if scripts:
        ep = "[console_scripts]\n" + "".join(
            "%s = %s:%s\n" % (s, mod, func) for s, mod, func in scripts)
        files[distinfo + "/entry_points.txt"] = ep.encode()

    record_name = distinfo + "/RECORD"
    record = []
    for path in sorted(files):
        data = files[path]
        record.append("%s,sha256=%s,%d" % (path, b64hash(data), len(data)))
    record.append("%s,," % record_name)
    files[record_name] = ("\n".join(record) + "\n").encode()

    os.makedirs(args.outdir, exist_ok=True)
    out = os.path.join(args.outdir, "%s-%s-py3-none-any.whl" % (dist, version))
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        # RECORD last, the way wheel builders write it.
        for path in sorted(files, key=lambda p: (p == record_name, p)):
            info = zipfile.ZipInfo(path, DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = "/scripts/" in path
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            zf.writestr(info, files[path])
    os.replace(tmp, out)
    print(out)


def main():
    ap = argparse.ArgumentParser(description="build a small pure-Python test wheel")
    ap.add_argument("outdir")
    ap.add_argument("name")
    ap.add_argument("version")
    ap.add_argument("--dep", action="append", default=[])
    ap.add_argument("--script", action="append", default=[])
    ap.add_argument("--data-script", action="append", default=[])
    ap.add_argument("--module-content", action="append", default=[])
    ap.add_argument("--file", action="append", default=[])
    ap.add_argument("--payload-size", type=int, default=0)
    ap.add_argument("--modules", type=int, default=0)
    build(ap.parse_args())


if __name__ == "__main__":
    main()
