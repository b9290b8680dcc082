#!/usr/bin/env python3
"""wheelcorpus.py - repack an interpreter's installed distributions into real wheels.

The integration tests (integration/corpus.sh) and the benchmark (bench/bench.py) install
real packages with pip --no-index --find-links, on machines that may have no network.
This rebuilds those wheels, offline, from what the running interpreter has installed:
each distribution's RECORD lists its files, which go into a wheel with a fresh RECORD,
and Requires-Dist is followed (environment markers evaluated for this interpreter) so
the dependencies come along. Stdlib only, Python 3.8 or later.

usage: PYTHON tests/wheelcorpus.py OUTDIR [DIST...]

DIST is a distribution name, optionally with extras (name[extra,...]); without any, the
distributions the tests and the benchmark install. Files outside site-packages (console
scripts in ../../bin, which entry points regenerate; data files) and bytecode are left
out. Output is deterministic (sorted members, fixed timestamps and modes), and a wheel
whose file name is already in OUTDIR is kept as it is. One line per wheel written.
Exit status: 0, or 1 when a distribution (or a dependency it needs here) is not
installed or cannot be repacked, or 2 on a usage error.
"""
import argparse
import base64
import csv
import hashlib
import importlib.metadata
import io
import os
import platform
import re
import sys
import tempfile
import zipfile

# requests for integration/corpus.sh, then bench.py's INSTALL_SET (bench.py passes its
# own list, so this is only the default for running the script by hand)
DEFAULT_DISTS = ["requests", "flask", "boto3", "pydantic", "ipython", "sympy", "networkx",
                 "moto"]

# the earliest time a zip header can hold: the same bytes on every run
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# install-time files of a .dist-info that a wheel does not carry (RECORD is rewritten)
INSTALL_ONLY = {"RECORD", "RECORD.jws", "RECORD.p7s", "INSTALLER", "REQUESTED",
                "direct_url.json"}
COMPILED = (".so", ".pyd", ".dylib", ".dll")


class CorpusError(Exception):
    pass


def canonical(name):
    """PEP 503 normalized name: lowercase, runs of -_. as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


# ---- requirements and environment markers (PEP 508) ---------------------------------

REQ_RE = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?")


def parse_requirement(text):
    """(name, set of extras, marker text or None) of a Requires-Dist value."""
    spec, _, marker = text.partition(";")
    m = REQ_RE.match(spec)
    if not m:
        raise CorpusError(f"cannot parse requirement {text!r}")
    extras = {canonical(e.strip()) for e in (m.group(2) or "").split(",") if e.strip()}
    return m.group(1), extras, marker.strip() or None


VER_RE = re.compile(r"""^\s*v?(?:(\d+)!)?(\d+(?:\.\d+)*)
    (?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d*))?
    (?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d*))?
    (?:[-_.]?(dev)[-_.]?(\d*))?
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?\s*$""", re.I | re.X)
PRE_LETTER = {"a": "a", "alpha": "a", "b": "b", "beta": "b", "c": "rc", "rc": "rc",
              "pre": "rc", "preview": "rc"}


def version_key(text):
    """A PEP 440 version as a tuple that sorts as versions do (local part ignored), or
    None when text is not a version."""
    m = VER_RE.match(text)
    if not m:
        return None
    epoch, rel, pre_l, pre_n, post_dash, post_l, post_n, dev_l, dev_n = m.groups()
    release = [int(x) for x in rel.split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    post = int(post_dash) if post_dash else (int(post_n or 0) if post_l else None)
    dev = int(dev_n or 0) if dev_l else None
    if pre_l:
        pre_k = (0, PRE_LETTER[pre_l.lower()], int(pre_n or 0))
    elif post is None and dev is not None:
        pre_k = (-1,)  # 1.0.dev1 sorts before 1.0a1
    else:
        pre_k = (1,)
    post_k = (-1,) if post is None else (0, post)
    dev_k = (1,) if dev is None else (0, dev)
    return (int(epoch or 0), tuple(release), pre_k, post_k, dev_k)


def release_of(text):
    return [int(x) for x in VER_RE.match(text).group(2).split(".")]


def prefix_match(have, want):
    """have (a version) matches the release prefix want, as in `== want.*`."""
    r = release_of(have)
    r += [0] * (len(want) - len(r))
    return r[:len(want)] == want


def compare(lhs, op, rhs):
    """lhs op rhs, as a marker compares: as versions when both are, else as strings."""
    if op == "in":
        return lhs in rhs
    if op == "not in":
        return lhs not in rhs
    if op == "===":
        return lhs == rhs
    if op in ("==", "!=") and rhs.endswith(".*") and version_key(lhs) \
            and version_key(rhs[:-2]):
        return prefix_match(lhs, release_of(rhs[:-2])) == (op == "==")
    a, b = version_key(lhs), version_key(rhs)
    if a is not None and b is not None:
        if op == "~=":
            want = release_of(rhs)
            return len(want) > 1 and a >= b and prefix_match(lhs, want[:-1])
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
                ">=": a >= b}[op]
    if op == "~=":
        raise CorpusError(f"~= needs versions, not {lhs!r} and {rhs!r}")
    return {"==": lhs == rhs, "!=": lhs != rhs, "<": lhs < rhs, "<=": lhs <= rhs,
            ">": lhs > rhs, ">=": lhs >= rhs}[op]


def marker_environment():
    iv = sys.implementation.version
    impl = f"{iv.major}.{iv.minor}.{iv.micro}"
    if iv.releaselevel != "final":
        impl += {"alpha": "a", "beta": "b", "candidate": "rc"}.get(iv.releaselevel, "") + \
            str(iv.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": impl,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


# the dotted names of PEP 345, which old metadata still uses
MARKER_ALIASES = {"os.name": "os_name", "sys.platform": "sys_platform",
                  "platform.version": "platform_version",
                  "platform.machine": "platform_machine",
                  "platform.python_implementation": "platform_python_implementation",
                  "python_implementation": "platform_python_implementation"}
TOKEN_RE = re.compile(r"""\s*(?:(?P<str>'[^']*'|"[^"]*")|(?P<op>===|==|!=|<=|>=|~=|<|>)
    |(?P<paren>[()])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))""", re.X)


class Marker:
    """A PEP 508 environment marker, evaluated by recursive descent over its tokens:
    or_expr := and_expr ('or' and_expr)*; and_expr := atom ('and' atom)*;
    atom := '(' or_expr ')' | value op value."""

    def __init__(self, text):
        self.text = text
        self.tokens = []
        pos = 0
        while text[pos:].strip():
            m = TOKEN_RE.match(text, pos)
            if not m:
                raise CorpusError(f"cannot parse marker {text!r} at {text[pos:]!r}")
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()

    def evaluate(self, env):
        self.env, self.i = env, 0
        value = self.or_expr()
        if self.i != len(self.tokens):
            raise CorpusError(f"cannot parse marker {self.text!r}: trailing {self.peek()[1]!r}")
        return value

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        k, v = self.peek()
        if k is None or (kind and k != kind) or (value and v != value):
            raise CorpusError(f"cannot parse marker {self.text!r}: expected "
                              f"{value or kind} at token {self.i + 1}")
        self.i += 1
        return v

    def or_expr(self):
        value = self.and_expr()
        while self.peek() == ("word", "or"):
            self.i += 1
            value = self.and_expr() or value
        return value

    def and_expr(self):
        value = self.atom()
        while self.peek() == ("word", "and"):
            self.i += 1
            value = self.atom() and value
        return value

    def atom(self):
        if self.peek() == ("paren", "("):
            self.i += 1
            value = self.or_expr()
            self.take("paren", ")")
            return value
        (lk, lhs), op, (rk, rhs) = self.value(), self.operator(), self.value()
        if "extra" in (lk, rk):  # extra names compare normalized
            lhs, rhs = canonical(lhs), canonical(rhs)
        return compare(lhs, op, rhs)

    def value(self):
        kind, v = self.peek()
        if kind == "str":
            self.i += 1
            return "str", v[1:-1]
        if kind != "word":
            raise CorpusError(f"cannot parse marker {self.text!r}: expected a value at "
                              f"token {self.i + 1}")
        self.i += 1
        name = MARKER_ALIASES.get(v, v)
        if name not in self.env:
            raise CorpusError(f"unknown marker variable {name!r} in {self.text!r}")
        return ("extra" if name == "extra" else "var"), self.env[name]

    def operator(self):
        kind, v = self.peek()
        if kind == "op" or (kind == "word" and v == "in"):
            self.i += 1
            return v
        if kind == "word" and v == "not":
            self.i += 1
            self.take("word", "in")
            return "not in"
        raise CorpusError(f"cannot parse marker {self.text!r}: no operator at token "
                          f"{self.i + 1}")


def marker_holds(marker, extras):
    """Whether a requirement with this marker applies here, given the extras asked for."""
    if marker is None:
        return True
    for extra in sorted(extras | {""}):
        env = dict(ENVIRONMENT, extra=extra)
        if PackagingMarker is None:
            holds = Marker(marker).evaluate(env)
        else:
            try:
                holds = PackagingMarker(marker).evaluate(env)
            except Exception as e:  # InvalidMarker, UndefinedComparison, ...
                raise CorpusError(f"marker {marker!r}: {e}") from e
        if holds:
            return True
    return False


try:  # the reference implementation, when this interpreter has it
    from packaging.markers import Marker as PackagingMarker
except ImportError:
    PackagingMarker = None
ENVIRONMENT = marker_environment()


# ---- resolving --------------------------------------------------------------------

def installed():
    """canonical name -> distribution; the first on sys.path wins, as for imports."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonical(name), dist)
    return found


def resolve(requested, dists):
    """The distributions requested, with their dependencies, in a stable order."""
    todo = []
    for text in requested:
        name, extras, _ = parse_requirement(text)
        if canonical(name) not in dists:
            raise CorpusError(f"{name} is not installed for {sys.executable}")
        todo.append((name, extras, None))
    extras_done, missing = {}, []
    while todo:
        name, extras, needed_by = todo.pop(0)
        key = canonical(name)
        dist = dists.get(key)
        if dist is None:
            missing.append(f"{name} (needed by {needed_by})")
            continue
        if key in extras_done and extras <= extras_done[key]:
            continue
        extras_done[key] = extras_done.get(key, set()) | extras
        for text in dist.requires or []:
            dep, dep_extras, marker = parse_requirement(text)
            try:
                holds = marker_holds(marker, extras_done[key])
            except CorpusError as e:
                print(f"wheelcorpus: warning: {dist.metadata['Name']}: {e}; taken when "
                      "installed and not for an extra", file=sys.stderr)
                holds = "extra" not in marker and canonical(dep) in dists
            if holds:
                todo.append((dep, dep_extras, dist.metadata["Name"]))
    if missing:
        raise CorpusError("not installed for " + sys.executable + ": " +
                          ", ".join(sorted(set(missing))))
    return [dists[k] for k in sorted(extras_done)]


# ---- building -----------------------------------------------------------------------

def urlsafe_digest(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def header(text, key):
    """The values of key in an email-style header block (WHEEL), in order."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            break
        k, _, v = line.partition(":")
        if k.strip().lower() == key.lower():
            out.append(v.strip())
    return out


def compress_tags(tags):
    """Tags py2-none-any and py3-none-any as the one file-name tag py2.py3-none-any."""
    parts = [t.split("-") for t in tags]
    return "-".join(".".join(sorted(set(p[i] for p in parts))) for i in range(3))


def wheel_plan(dist):
    """(wheel file name, dist-info dir, [(member name, source path)]) for one dist."""
    name = dist.metadata["Name"]
    record = dist.read_text("RECORD")
    if record is None:
        raise CorpusError(f"{name}: no RECORD (not installed from a wheel), cannot repack")
    paths = [row[0] for row in csv.reader(io.StringIO(record)) if row and row[0]]
    infos = {p.split("/")[0] for p in paths
             if p.count("/") == 1 and p.endswith(".dist-info/METADATA")}
    if len(infos) != 1:
        raise CorpusError(f"{name}: RECORD names {len(infos) or 'no'} .dist-info "
                          "directories with a METADATA")
    info = infos.pop()
    wheel_text = dist.read_text("WHEEL") or ""
    if not wheel_text:
        raise CorpusError(f"{name}: no WHEEL file in {info}")
    members = {}
    for p in paths:
        parts = p.split("/")
        if p.startswith("/") or ".." in parts or "__pycache__" in parts or \
                p.endswith((".pyc", ".pyo")):
            continue  # outside site-packages, or bytecode
        if parts[0] == info and len(parts) == 2 and parts[1] in INSTALL_ONLY:
            continue
        src = str(dist.locate_file(p))
        if os.path.isfile(src):
            members[p] = src
    compiled = any(p.endswith(COMPILED) or ".so." in p for p in members)
    purelib = (header(wheel_text, "Root-Is-Purelib") or ["true"])[0].lower() == "true"
    tags = header(wheel_text, "Tag")
    if compiled or not purelib:
        if not tags:
            raise CorpusError(f"{name}: has compiled files but no Tag in {info}/WHEEL")
        tag = compress_tags(tags)
    elif tags and all(t.endswith("-none-any") for t in tags):
        tag = compress_tags(tags)
    else:
        tag = "py3-none-any"
    # binary distribution format: the name normalized with '_', the version without '-'
    fname = f"{re.sub(r'[-_.]+', '_', name).lower()}-{dist.version.replace('-', '_')}-{tag}.whl"
    # the .dist-info last (RECORD at the very end), as the wheel spec recommends
    order = sorted(members, key=lambda p: (p.split("/")[0] == info, p))
    return fname, info, [(p, members[p]) for p in order]


def zip_entry(zf, arcname, data, executable=False):
    zi = zipfile.ZipInfo(arcname, date_time=ZIP_TIME)
    zi.create_system = 3  # unix, so the mode below is read
    zi.external_attr = (0o100755 if executable else 0o100644) << 16
    zi.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(zi, data)


def write_wheel(path, info, members):
    """Write the wheel through a temp file, so a cut-short run leaves no partial one."""
    fd, tmp = tempfile.mkstemp(prefix=".wheelcorpus.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w") as zf:
            rows = []
            for arcname, src in members:
                with open(src, "rb") as s:
                    data = s.read()
                zip_entry(zf, arcname, data, os.stat(src).st_mode & 0o111 != 0)
                rows.append([arcname, "sha256=" + urlsafe_digest(data), str(len(data))])
            rows.append([info + "/RECORD", "", ""])
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            zip_entry(zf, info + "/RECORD", buf.getvalue().encode())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    ap = argparse.ArgumentParser(
        description="Repack this interpreter's installed distributions, with their "
        "dependencies, into wheels in OUTDIR.", epilog=__doc__.split("\n\n")[3])
    ap.add_argument("outdir", metavar="OUTDIR")
    ap.add_argument("dists", metavar="DIST", nargs="*",
                    help="name or name[extras] (default: %s)" % " ".join(DEFAULT_DISTS))
    a = ap.parse_args()
    try:
        plans = [wheel_plan(d) for d in resolve(a.dists or DEFAULT_DISTS, installed())]
        os.makedirs(a.outdir, exist_ok=True)
        for fname, info, members in plans:
            path = os.path.join(a.outdir, fname)
            if not os.path.exists(path):
                write_wheel(path, info, members)
                print(path, flush=True)
    except (CorpusError, OSError) as e:
        print(f"wheelcorpus: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
