#!/usr/bin/env python3
"""venvfs benchmark: envs on a venvfs mount against native venvs, on one machine, in one run.

usage: tests/bench/bench.py [--build DIR] [--wheels DIR] [--python PY] [--reps N]
                            [--envs N] [--out FILE] [--only ROW]

Prints a markdown table (and writes it to --out, default docs/benchmarks.md) comparing:
  - creating an env: mkdir on the mount vs `python -m venv` (with and without pip) and
    `virtualenv` when it is installed
  - the first `python -c "import pip"` in a brand-new env
  - a warm import of a large package set
  - `pip install` of that set
  - store bytes for N envs holding the same set vs N native venvs
  - `venvctl create -r` of ~50 pinned packages already in the store vs `python -m venv`
    + `pip install --no-index --find-links -r` of the same pins (row "requirements")
--only ROW runs one row and replaces just that row (and the machine/date lines) in --out.
Wheels come from --wheels, else they are built once with the repository's sibling
`../shared/tools/make-wheel-corpus.py` (offline: it repacks installed packages).
This is a script, not a test: it measures, it does not assert.
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL_SET = ["flask", "requests", "boto3", "pydantic", "ipython", "sympy", "networkx"]
IMPORT_SET = ["flask", "requests", "boto3", "botocore.session", "pydantic", "IPython",
              "sympy", "networkx", "jinja2", "werkzeug", "urllib3"]
SMALL_SET = ["flask", "requests"]
# Roots of the pinned set for the requirements row; their dependency closure in the
# corpus is about fifty distributions.
REQ_ROOTS = ["flask", "requests", "boto3", "jsonschema", "pydantic", "sympy", "networkx",
             "cryptography", "pyyaml", "click", "regex", "orjson", "moto", "trio", "docutils",
             "wrapt", "xmltodict", "sortedcontainers", "pygments", "colorama", "responses",
             "pyparsing", "jsonpatch", "graphql-core", "python-dotenv", "cloudpickle"]
REQ_ROW = "create an env from "
REQ_NOTE = [
    "- *create an env from N stored packages*: `venvctl create NAME -r FILE` (the",
    "  whole command, process start included) when every pin was ingested before",
    "  (`venvctl create warm -r FILE --find-links DIR`, not measured); the native row",
    "  is `python -m venv` plus `pip install --no-index --find-links DIR -r FILE`, once.",
]


def run(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("stdout", subprocess.DEVNULL)
    return subprocess.run(cmd, **kw)


def timed(cmd, env=None):
    t = time.perf_counter()
    run(cmd, env=env)
    return time.perf_counter() - t


def med(xs):
    return statistics.median(xs)


def fmt_s(x):
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def du_bytes(path):
    out = subprocess.run(["du", "-sb", path], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0])


def env_vars():
    e = dict(os.environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)  # measure real use: pyc files get written
    e["PIP_NO_INDEX"] = "1"
    e["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return e


class Mount:
    def __init__(self, build, top, python):
        self.build, self.top = build, top
        self.store = os.path.join(top, "store")
        self.mnt = os.path.join(top, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        cfg = os.path.join(top, "venvfs.ini")
        with open(cfg, "w") as f:
            f.write(f"[venvfs]\npython = {python}\n")
        self.cfg = cfg
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([os.path.join(self.build, "venvfs"), "-f", "--store",
                                      self.store, "--config", self.cfg, self.mnt])
        for _ in range(300):
            if os.path.ismount(self.mnt):
                return self
            if self.proc.poll() is not None:
                raise SystemExit("venvfs exited before mounting")
            time.sleep(0.05)
        raise SystemExit("venvfs did not mount")

    def __exit__(self, *a):
        subprocess.run(["fusermount3", "-u", self.mnt])
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            subprocess.run(["fusermount3", "-uz", self.mnt])
            self.proc.kill()

    def sync(self):
        # fsync of the mount root commits every env
        fd = os.open(self.mnt, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)


def machine():
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, " \
           f"Linux {platform.release()}"


def pinned_closure(py, wheels, roots, out):
    """Write name==version pins for roots and everything they require (markers
    evaluated for py, extras not followed) that the wheel directory has; returns n."""
    code = r"""
import os, sys, zipfile
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name
d, out, roots = sys.argv[1], sys.argv[2], sys.argv[3:]
have = {}
for f in sorted(os.listdir(d)):
    if f.endswith(".whl"):
        have[canonicalize_name(f.split("-")[0])] = f
def deps(f):
    z = zipfile.ZipFile(os.path.join(d, f))
    md = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")][0]
    for line in z.read(md).decode("utf-8").splitlines():
        if not line:
            break
        if line.startswith("Requires-Dist:"):
            r = Requirement(line.split(":", 1)[1].strip())
            if not r.marker or r.marker.evaluate({"extra": ""}):
                yield canonicalize_name(r.name)
seen, todo = [], [canonicalize_name(r) for r in roots]
while todo:
    n = todo.pop()
    if n in seen or n not in have:
        continue
    seen.append(n)
    todo += list(deps(have[n]))
with open(out, "w") as fh:
    for n in sorted(seen):
        name, ver = have[n].split("-")[:2]
        fh.write("%s==%s\n" % (name, ver))
print(len(seen))
"""
    res = subprocess.run([py, "-c", code, wheels, out] + roots, check=True,
                         capture_output=True, text=True)
    return int(res.stdout.strip())


def bench_requirements(a, py, wheels, top, env):
    """venvctl create -r with every package already recorded in the store, against a
    native venv + pip install of the same pins. Returns a table row."""
    reqs = os.path.join(top, "reqs.txt")
    n = pinned_closure(py, wheels, REQ_ROOTS, reqs)
    store = os.path.join(top, "req-store")
    cfg = os.path.join(top, "req.ini")
    with open(cfg, "w") as f:
        f.write(f"[venvfs]\npython = {py}\n")
    ctl = [os.path.join(a.build, "venvctl"), "--store", store, "--config", cfg]
    # Ingest once (and seed the interpreter): not measured.
    run(ctl + ["create", "warm", "-r", reqs, "--find-links", wheels], env=env)
    t_v = [timed(ctl + ["create", f"r{i}", "-r", reqs], env) for i in range(a.reps)]
    nat = os.path.join(top, "req-native")
    t = time.perf_counter()
    run([py, "-m", "venv", nat], env=env)
    run([os.path.join(nat, "bin", "pip"), "install", "-q", "--no-index", "--find-links",
         wheels, "-r", reqs], env=env)
    t_n = time.perf_counter() - t
    return (f"{REQ_ROW}{n} stored packages (`venvctl create -r`)", med(t_v), t_n,
            "python -m venv + pip install -r")


def fmt_row(what, v, n, kind):
    if what.startswith("bytes"):
        vs, ns = f"{v / 2**20:.1f} MiB", f"{n / 2**20:.1f} MiB"
    else:
        vs, ns = fmt_s(v), fmt_s(n)
    return f"| {what} | {vs} | {ns} | {kind} | {v / n:.2f} |"


def update_row(out, row, ver, py):
    """Replace (or add) one row of an existing table, and the machine/date lines."""
    text = open(out).read().split("\n") if os.path.exists(out) else []
    line = fmt_row(*row)
    prefix = "| " + row[0][:len(REQ_ROW)]
    done = False
    for i, l in enumerate(text):
        if l.startswith("- machine: "):
            text[i] = f"- machine: {machine()}"
        elif l.startswith("- Python "):
            text[i] = f"- Python {ver} ({py}); {time.strftime('%Y-%m-%d')}"
        elif l.startswith(prefix):
            text[i] = line
            done = True
    if not done:
        last = max((i for i, l in enumerate(text) if l.startswith("|")), default=None)
        if last is None:
            raise SystemExit(f"{out} has no table to add the row to")
        text.insert(last + 1, line)
    if REQ_NOTE[0] not in text:
        while text and not text[-1]:
            text.pop()
        text += REQ_NOTE + [""]
    with open(out, "w") as f:
        f.write("\n".join(text))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--wheels")
    ap.add_argument("--python", default=shutil.which("python3"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--envs", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--only", choices=["requirements"],
                    help="run one row and update only that row in --out")
    a = ap.parse_args()

    py = subprocess.run([a.python, "-c", "import sys,os;print(os.path.realpath(sys.executable))"],
                        check=True, capture_output=True, text=True).stdout.strip()
    ver = subprocess.run([py, "-c", "import sys;print('%d.%d.%d'%sys.version_info[:3])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    top = tempfile.mkdtemp(prefix="venvfs-bench.")
    wheels = a.wheels
    if not wheels:
        wheels = os.path.join(top, "wheels")
        tool = os.path.join(os.path.dirname(ROOT), "shared", "tools", "make-wheel-corpus.py")
        if not os.path.exists(tool):
            raise SystemExit("no --wheels given and no wheel corpus tool found")
        run([py, tool, wheels])
    env = env_vars()
    if a.only == "requirements":
        try:
            row = bench_requirements(a, py, wheels, top, env)
        finally:
            shutil.rmtree(top, ignore_errors=True)
        print(fmt_row(*row))
        if a.out:
            update_row(a.out, row, ver, py)
        return
    pipargs = ["install", "-q", "--no-index", "--find-links", wheels]
    rows = []
    native = os.path.join(top, "native")
    os.makedirs(native)
    try:
        with Mount(a.build, os.path.join(top, "vfs"), py) as m:
            # 1. env creation
            t_mk = []
            for i in range(a.reps):
                t = time.perf_counter()
                os.mkdir(os.path.join(m.mnt, f"mk{i}"))
                t_mk.append(time.perf_counter() - t)
            t_venv = [timed([py, "-m", "venv", os.path.join(native, f"v{i}")], env)
                      for i in range(a.reps)]
            t_venv_np = [timed([py, "-m", "venv", "--without-pip", os.path.join(native, f"n{i}")],
                               env) for i in range(a.reps)]
            rows.append(("create an env (pip included)", med(t_mk), med(t_venv), "python -m venv"))
            rows.append(("create an env (no pip)", med(t_mk), med(t_venv_np),
                         "python -m venv --without-pip"))
            venv_tool = shutil.which("virtualenv")
            if venv_tool:
                t_ve = [timed([venv_tool, "-q", "-p", py, os.path.join(native, f"ve{i}")], env)
                        for i in range(a.reps)]
                rows.append(("create an env (pip included)", med(t_mk), med(t_ve), "virtualenv"))

            # 2. first import of pip in a brand-new env
            t_fm, t_fn = [], []
            for i in range(a.reps):
                os.mkdir(os.path.join(m.mnt, f"fp{i}"))
                t_fm.append(timed([os.path.join(m.mnt, f"fp{i}", "bin", "python"), "-c",
                                   "import pip"], env))
                run([py, "-m", "venv", os.path.join(native, f"fp{i}")], env=env)
                t_fn.append(timed([os.path.join(native, f"fp{i}", "bin", "python"), "-c",
                                   "import pip"], env))
            rows.append(("first `import pip` in a new env", med(t_fm), med(t_fn), "native venv"))

            # 3. pip install of the large set
            os.mkdir(os.path.join(m.mnt, "big"))
            run([py, "-m", "venv", os.path.join(native, "big")], env=env)
            t_pm = timed([os.path.join(m.mnt, "big", "bin", "pip")] + pipargs + INSTALL_SET, env)
            t_pn = timed([os.path.join(native, "big", "bin", "pip")] + pipargs + INSTALL_SET, env)
            rows.append((f"`pip install` {' '.join(INSTALL_SET)}", t_pm, t_pn, "native venv"))

            # 4. warm import of the set (first run warms both, then alternate)
            code = "import " + ", ".join(IMPORT_SET)
            pm = os.path.join(m.mnt, "big", "bin", "python")
            pn = os.path.join(native, "big", "bin", "python")
            timed([pm, "-c", code], env)
            timed([pn, "-c", code], env)
            t_im, t_in = [], []
            for _ in range(a.reps):
                t_im.append(timed([pm, "-c", code], env))
                t_in.append(timed([pn, "-c", code], env))
            rows.append((f"warm import of {len(IMPORT_SET)} packages", med(t_im), med(t_in),
                         "native venv"))

            # 5. store bytes for N envs with the same set
            m.sync()
            base = du_bytes(m.store)
            for i in range(a.envs):
                d = os.path.join(m.mnt, f"same{i}")
                os.mkdir(d)
                run([os.path.join(d, "bin", "pip")] + pipargs + SMALL_SET, env=env)
                nd = os.path.join(native, f"same{i}")
                run([py, "-m", "venv", nd], env=env)
                run([os.path.join(nd, "bin", "pip")] + pipargs + SMALL_SET, env=env)
            m.sync()
            grew = du_bytes(m.store) - base
            nat = sum(du_bytes(os.path.join(native, f"same{i}")) for i in range(a.envs))
            rows.append((f"bytes for {a.envs} envs with {' + '.join(SMALL_SET)}", grew, nat,
                         f"{a.envs} native venvs"))
        # 6. an env from ~50 pinned packages already in the store
        rows.append(bench_requirements(a, py, wheels, top, env))
    finally:
        shutil.rmtree(top, ignore_errors=True)

    lines = [
        "# venvfs benchmarks",
        "",
        "Produced by `tests/bench/bench.py`; every row compares venvfs with its native",
        "counterpart measured in the same run on the same machine (medians of "
        f"{a.reps} runs where repeated; `pip install` and byte counts once).",
        "",
        f"- machine: {machine()}",
        f"- Python {ver} ({py}); {time.strftime('%Y-%m-%d')}",
        "",
        "| what | venvfs | native | native is | venvfs / native |",
        "|---|---:|---:|---|---:|",
    ]
    for row in rows:
        lines.append(fmt_row(*row))
    lines += [
        "",
        "- *create* rows: `mkdir` on the mount gives an env with pip in both rows; the native",
        "  rows are `python -m venv` with and without pip (ensurepip installs pip).",
        "- *bytes*: growth of the whole store (objects, trees, env files) for the envs,",
        "  against `du -sb` of the native venvs; `.pyc` files embed their env's path, so",
        "  each env still stores its own bytecode.",
    ] + REQ_NOTE
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
