#!/usr/bin/env python3
"""gen_wheel_corpus.py - regenerate the seed corpus of fuzz_wheel in corpus/wheel/.

A few tiny wheels, valid and hostile, plus raw RECORD texts for the CSV parser. Output
is deterministic (fixed member dates), so rerunning leaves the committed files as they
are. Usage: python3 gen_wheel_corpus.py [OUTDIR]
"""
import base64
import hashlib
import io
import os
import stat
import sys
import zipfile

DATE = (2023, 2, 19, 14, 18, 0)


def b64(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel(members, name="demo", version="1.0", record=True, tweak=None, extra=()):
    """members: list of (path, bytes, st_mode). tweak(path, row) may change RECORD rows."""
    di = f"{name}-{version}.dist-info"
    members = list(members)
    members.append((f"{di}/METADATA",
                    f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode(), 0))
    members.append((f"{di}/WHEEL",
                    b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n", 0))
    rows = []
    for path, data, _ in members:
        row = f"{path},sha256={b64(data)},{len(data)}"
        if tweak:
            row = tweak(path, row)
        if row is not None:
            rows.append(row)
    rows.append(f"{di}/RECORD,,")
    if record:
        members.append((f"{di}/RECORD", ("\n".join(rows) + "\n").encode(), 0))
    members.extend(extra)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data, mode in members:
            info = zipfile.ZipInfo(path, DATE)
            info.external_attr = (mode or (stat.S_IFREG | 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


PKG = [("demo/__init__.py", b"def main():\n    return 0\n", 0)]
EP = ("demo-1.0.dist-info/entry_points.txt",
      b"[console_scripts]\ndemo = demo:main\n[gui_scripts]\ndemo-gui = demo:main [x]\n", 0)
DATA = [
    ("demo-1.0.data/scripts/run", b"#!python\nprint(1)\n", stat.S_IFREG | 0o755),
    ("demo-1.0.data/purelib/extra.py", b"", 0),
    ("demo-1.0.data/headers/demo.h", b"int x;\n", 0),
    ("demo-1.0.data/data/share/demo.txt", b"x\n", 0),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "wheel")
    os.makedirs(out, exist_ok=True)
    inputs = {
        "valid-minimal.whl": wheel(PKG),
        "valid-full.whl": wheel(PKG + [EP] + DATA),
        "invalid-dotdot.whl": wheel(PKG + [("demo/../../x", b"x", 0)]),
        "invalid-absolute.whl": wheel(PKG + [("/tmp/x", b"x", 0)]),
        "invalid-symlink.whl": wheel(PKG + [("demo/l", b"/etc", stat.S_IFLNK | 0o777)]),
        "invalid-hash.whl": wheel(PKG, tweak=lambda p, r: f"{p},sha256={b64(b'other')},26"
                                  if p == "demo/__init__.py" else r),
        "invalid-unlisted.whl": wheel(PKG, tweak=lambda p, r: None
                                      if p == "demo/__init__.py" else r),
        "invalid-two-distinfo.whl": wheel(PKG, extra=[("x-1.dist-info/METADATA", b"", 0)]),
        "invalid-no-record.whl": wheel(PKG, record=False),
        "invalid-entry-point.whl": wheel(PKG + [(EP[0], b"[console_scripts]\n../x = a:b\n", 0)]),
        "record-quoted.csv": b'a,sha256=x,1\r\n"b,""c""",,\n\n"multi\nline",,\nlast,,',
        "record-bad.csv": b'a,b\n"unterminated,,\n',
    }
    v = inputs["valid-full.whl"]
    inputs["invalid-truncated.whl"] = v[: len(v) // 2]
    for name, data in inputs.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
