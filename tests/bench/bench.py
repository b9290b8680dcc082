#!/usr/bin/env python3
"""venvfs benchmark suite: every performance target of venvfs, measured against its
native counterpart in the same run on the same machine.

usage: tests/bench/bench.py [--build DIR] [--wheels DIR] [--python PY] [--quick]
                            [--venvfs-opts OPTS] [--only ROW,...] [--out FILE] [--chart FILE]

One command, well under 15 minutes on a 2-core machine: it builds the wheel corpus if
--wheels is not given (tests/wheelcorpus.py repacks the install set and its dependencies
from the --python interpreter's installed packages into wheels, offline, cached under
~/.cache/venvfs-bench per interpreter version), runs every row, and writes
docs/benchmarks.md (table, targets met or not, FUSE request counts per workload, the
machine) and docs/benchmarks.svg (gnuplot, when installed).

Rows alternate venvfs and native runs (A/B, several repetitions; medians, spread as
min-max). Request counts come from the daemon itself (VENVFS_COUNT_FILE, SIGUSR1), so
a caching regression shows up as counts, not only as seconds; with them come the time
spent in the daemon's handlers (median, p99) and the daemon's CPU time, its request
work apart from its idle-priority warm threads. This is a script, not a
test: it measures, it does not fail on a missed target.
"""
import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# ~50 distributions with their dependencies (moto, boto3, IPython, sympy, ...)
INSTALL_SET = ["flask", "requests", "boto3", "pydantic", "ipython", "sympy", "networkx", "moto"]
# the same without IPython: 33 distributions
SHIM_SET = [p for p in INSTALL_SET if p != "ipython"]
# ~2,000 modules
IMPORT_SET = ["moto", "boto3", "botocore.session", "flask", "pydantic", "IPython", "sympy",
              "networkx", "requests", "jinja2", "werkzeug", "urllib3"]
LIGHT_IMPORT = "import flask, requests, jinja2"
NOTES_MARK = "<!-- written by hand: bench.py keeps everything from this line on -->"


# ---- helpers ------------------------------------------------------------------------

def run(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("stdout", subprocess.DEVNULL)
    return subprocess.run(cmd, **kw)


def out(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def timed(cmd, env=None, **kw):
    t = time.perf_counter()
    run(cmd, env=env, **kw)
    return time.perf_counter() - t


def med(xs):
    return statistics.median(xs)


def spread(xs):
    return (min(xs), max(xs)) if xs else None


def du_bytes(path):
    return int(out(["du", "-sb", path]).split()[0])


def env_vars():
    e = dict(os.environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)  # real use: bytecode gets written
    e["PIP_NO_INDEX"] = "1"
    e["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return e


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Mount:
    """A venvfs daemon in the foreground, counting its requests."""

    opts = None  # -o for every mount (--venvfs-opts)

    def __init__(self, build, top, python, store=None):
        self.build, self.top = build, top
        self.store = store or os.path.join(top, "store")
        self.mnt = os.path.join(top, "mnt")
        self.counts_file = os.path.join(top, "counts.json")
        os.makedirs(self.mnt, exist_ok=True)
        self.cfg = os.path.join(top, "venvfs.ini")
        with open(self.cfg, "w") as f:
            f.write(f"[venvfs]\npython = {python}\n")
        self.proc = None

    def __enter__(self):
        return self.up()

    def up(self):
        e = dict(os.environ, VENVFS_COUNT_FILE=self.counts_file)
        opts = ["-o", Mount.opts] if Mount.opts else []
        self.proc = subprocess.Popen([os.path.join(self.build, "venvfs"), "-f", "--store",
                                      self.store, "--config", self.cfg] + opts + [self.mnt],
                                     env=e)
        for _ in range(600):
            if os.path.ismount(self.mnt):
                return self
            if self.proc.poll() is not None:
                raise SystemExit("venvfs exited before mounting")
            time.sleep(0.05)
        raise SystemExit("venvfs did not mount")

    def __exit__(self, *a):
        self.down()

    def down(self):
        if not self.proc:
            return
        subprocess.run(["fusermount3", "-u", self.mnt])
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            subprocess.run(["fusermount3", "-uz", self.mnt])
            self.proc.kill()
        self.proc = None

    def remount(self):
        self.down()
        self.up()

    def sync(self):
        fd = os.open(self.mnt, os.O_RDONLY)  # fsync of the root commits every env
        os.fsync(fd)
        os.close(fd)

    def counts(self):
        try:
            os.unlink(self.counts_file)
        except FileNotFoundError:
            pass
        self.proc.send_signal(signal.SIGUSR1)
        for _ in range(500):
            try:
                with open(self.counts_file) as f:
                    d = json.load(f)
                self.hist = {b: n for b, n in d.pop("handler_ns", [])}
                self.cpu = self.cpu_ns()
                return d
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.01)
        raise SystemExit("venvfs did not write its request counts")

    def cpu_ns(self):
        """CPU time of the daemon's threads so far: (request work, warm threads), in ns."""
        work = warm = 0
        task = f"/proc/{self.proc.pid}/task"
        for t in os.listdir(task):
            try:
                with open(f"{task}/{t}/comm") as f:
                    comm = f.read().strip()
                with open(f"{task}/{t}/schedstat") as f:
                    ns = int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                continue
            if comm == "venvfs-warm":
                warm += ns
            else:
                work += ns
        return work, warm

    def since(self, hist0, cpu0, runs=1):
        """Since an earlier counts(): time in handlers (median, p99) and daemon CPU per run,
        as a note."""
        h = {b: n - hist0.get(b, 0) for b, n in self.hist.items() if n - hist0.get(b, 0)}
        total = sum(h.values())
        if not total:
            return ""
        pct = {}
        acc = 0
        for b in sorted(h):
            acc += h[b]
            for q in (0.5, 0.99):
                if q not in pct and acc >= q * total:
                    pct[q] = b
        work = (self.cpu[0] - cpu0[0]) / 1e9 / runs
        warm = (self.cpu[1] - cpu0[1]) / 1e9 / runs
        return (f"time in a handler median {pct[0.5] / 1000:.1f} µs, p99 {pct[0.99] / 1000:.1f} µs; "
                f"daemon CPU {work:.2f} s per run, warm threads {warm:.2f} s (idle priority)")

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")


class HttpServer:
    """A static HTTP server of dir on 127.0.0.1: nginx when installed, else Python's."""

    def __init__(self, top, d):
        import socket
        with socket.socket() as so:
            so.bind(("127.0.0.1", 0))
            port = so.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = os.path.join(top, "http-requests.log")
        open(self.log, "w").close()
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                          else None)
        if nginx:
            self.kind = "nginx"
            conf = os.path.join(top, "nginx.conf")
            tmp = os.path.join(top, "nginx-tmp")
            os.makedirs(tmp, exist_ok=True)
            user = "user root;" if os.geteuid() == 0 else ""
            with open(conf, "w") as f:
                f.write(f"""{user}
daemon off; worker_processes 2; pid {top}/nginx.pid; error_log {top}/nginx-error.log;
events {{ worker_connections 512; }}
http {{
  access_log {self.log}; sendfile on; tcp_nopush on; keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen 127.0.0.1:{port}; root {d}; }}
}}
""")
            self.proc = subprocess.Popen([nginx, "-c", conf, "-p", top],
                                         stderr=subprocess.DEVNULL)
        else:
            self.kind = "python3 -m http.server"
            self.proc = subprocess.Popen([sys.executable, "-m", "http.server", "-b",
                                          "127.0.0.1", "-d", d, str(port)],
                                         stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        import urllib.request
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url + "/HEAD").read()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the HTTP server did not start")

    def requests(self):
        with open(self.log) as f:
            return sum(1 for line in f if "GET /objects/" in line)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class RemoteMount:
    """`venvfs --remote URL` in the foreground over a cache of its own."""

    def __init__(self, build, top, url):
        self.build, self.top, self.url = build, top, url
        self.mnt = os.path.join(top, "mnt")
        self.cache = os.path.join(top, "cache")
        os.makedirs(self.mnt, exist_ok=True)
        self.proc = None

    def fresh(self):
        """Mount again over an empty cache."""
        self.down()
        shutil.rmtree(self.cache, ignore_errors=True)
        self.proc = subprocess.Popen([os.path.join(self.build, "venvfs"), "-f", "--remote",
                                      self.url, "--cache", self.cache, "--refresh", "0",
                                      self.mnt])
        for _ in range(600):
            if os.path.ismount(self.mnt):
                return
            if self.proc.poll() is not None:
                raise SystemExit("venvfs --remote exited before mounting")
            time.sleep(0.05)
        raise SystemExit("venvfs --remote did not mount")

    down = Mount.down


def delta(a, b):
    return {k: b[k] - a.get(k, 0) for k in b if b[k] - a.get(k, 0)}


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
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, Linux {platform.release()}"


# ---- rows ---------------------------------------------------------------------------

class Row:
    """One measured figure. kind 'ratio': venvfs/native against a ratio target;
    'abs': venvfs alone against an absolute limit (native shown for scale)."""

    def __init__(self, key, what, v, n, unit, target, limit, kind, native_is, sv=None,
                 sn=None, counts=None, note=""):
        self.key, self.what, self.v, self.n, self.unit = key, what, v, n, unit
        self.target, self.limit, self.kind, self.native_is = target, limit, kind, native_is
        self.sv, self.sn, self.counts, self.note = sv, sn, counts, note

    @property
    def measured(self):
        """The figure compared with the limit."""
        if self.kind == "ratio":
            return self.v / self.n if self.n else float("inf")
        return self.v

    @property
    def met(self):
        return None if self.limit is None else self.measured <= self.limit


def fmt(x, unit):
    if x is None:
        return "-"
    if unit == "s":
        return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"
    if unit == "MiB":
        return f"{x:.1f} MiB"
    if unit == "B":
        return f"{x / 2**20:.1f} MiB"
    return f"{x:g}"


class Bench:
    def __init__(self, a):
        self.a = a
        self.env = env_vars()
        self.py = a.python
        self.rows = []
        self.top = tempfile.mkdtemp(prefix="venvfs-bench.")
        self.native = os.path.join(self.top, "native")
        os.makedirs(self.native)
        self.venvctl = os.path.join(a.build, "venvctl")
        self.reqs = os.path.join(self.top, "reqs.txt")
        self.pipargs = ["install", "-q", "--no-index", "--find-links", a.wheels]
        self.reps = 3 if a.quick else 7

    def want(self, key):
        return not self.a.only or key in self.a.only

    def ctl(self, store, *args, **kw):
        return run([self.venvctl, "--store", store] + list(args), **kw)

    def add(self, row):
        self.rows.append(row)
        ok = {None: "", True: "met", False: "NOT met"}[row.met]
        log(f"{row.what}: venvfs {fmt(row.v, row.unit)}, native {fmt(row.n, row.unit)} {ok}")

    # -- pins of a set (the install set by default), from a native dry run --
    def pins(self, dists=INSTALL_SET, reqs=None):
        nv = os.path.join(self.native, "resolve")
        if not os.path.isdir(nv):
            run([self.py, "-m", "venv", nv], env=self.env)
        rep = os.path.join(self.top, "report.json")
        run([os.path.join(nv, "bin", "pip"), "install", "-q", "--dry-run", "--ignore-installed",
             "--report", rep, "--no-index", "--find-links", self.a.wheels] + dists,
            env=self.env)
        with open(rep) as f:
            inst = json.load(f)["install"]
        pins = sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in inst)
        with open(reqs or self.reqs, "w") as f:
            f.write("\n".join(pins) + "\n")
        return len(pins)

    def run_all(self):
        npkg = self.pins()
        log(f"install set: {npkg} distributions")
        self.npkg = npkg
        m = Mount(self.a.build, os.path.join(self.top, "vfs"), self.py)
        with m:
            if self.want("mkdir"):
                self.row_mkdir(m)
            if any(self.want(k) for k in ("pip", "import", "cold", "ls", "rss", "bytes",
                                          "remote")):
                self.row_pip(m)  # the big envs the next rows use
            if self.want("import"):
                self.row_import(m)
            if self.want("cold"):
                self.row_cold(m)
            if self.want("ls"):
                self.row_ls(m)
            if self.want("rss"):
                self.row_rss(m)
            if self.want("remote"):
                self.row_remote(m)
        if self.want("create-r"):
            self.row_create_r()
        if self.want("create-shim"):
            self.row_create_shim()
        if self.want("bytes"):
            self.row_bytes()
        if self.want("bytes-pip"):
            self.row_bytes_pip()
        if self.want("manyenvs"):
            self.row_manyenvs()

    # 1. mkdir of an env (pip included) vs python -m venv
    def row_mkdir(self, m):
        tv, tn = [], []
        c0 = m.counts()
        h0, u0 = m.hist, m.cpu
        for i in range(20):
            t = time.perf_counter()
            os.mkdir(os.path.join(m.mnt, f"mk{i}"))
            tv.append(time.perf_counter() - t)
        c1 = m.counts()
        note = m.since(h0, u0, 20)
        for i in range(3):
            tn.append(timed([self.py, "-m", "venv", os.path.join(self.native, f"mk{i}")],
                            self.env))
        self.add(Row("mkdir", "`mkdir` of a new env (pip included)", med(tv), med(tn), "s",
                     "≤ 1 ms median", 0.001, "abs", "python -m venv", spread(tv), spread(tn),
                     {k: v / 20 for k, v in delta(c0, c1).items()},
                     "requests per mkdir; " + note))

    # 2. pip install of the set through the mount vs into a native venv
    def row_pip(self, m):
        reps = 1 if self.a.quick else 2
        tv, tn, cnt = [], [], None
        for r in range(reps):
            # A/B in alternating order; the last pair's envs stay for the next rows
            mine = os.path.join(m.mnt, f"big{r}")
            nat = os.path.join(self.native, f"big{r}")
            os.mkdir(mine)
            run([self.py, "-m", "venv", nat], env=self.env)
            order = [("v", mine), ("n", nat)] if r % 2 == 0 else [("n", nat), ("v", mine)]
            for who, d in order:
                c0 = m.counts() if who == "v" else None
                h0, u0 = m.hist, m.cpu
                t = timed([os.path.join(d, "bin", "pip")] + self.pipargs + ["-r", self.reqs],
                          self.env)
                if who == "v":
                    tv.append(t)
                    cnt = delta(c0, m.counts())
                    note = m.since(h0, u0)
                else:
                    tn.append(t)
        self.big_v, self.big_n = mine, nat
        m.sync()
        if self.want("pip"):
            self.add(Row("pip", f"`pip install` of {self.npkg} packages", med(tv), med(tn), "s",
                         "≤ 1.2 × native", 1.2, "ratio", "native venv", spread(tv),
                         spread(tn), cnt, note=note))

    def import_cmd(self, d):
        return [os.path.join(d, "bin", "python"), "-c", "import " + ", ".join(IMPORT_SET)]

    def nmodules(self, d):
        code = ("import sys; n = len(sys.modules); import " + ", ".join(IMPORT_SET) +
                "; print(len(sys.modules) - n)")
        return int(out([os.path.join(d, "bin", "python"), "-c", code], env=self.env))

    # 3. warm import
    def row_import(self, m):
        cv, cn = self.import_cmd(self.big_v), self.import_cmd(self.big_n)
        for _ in range(2):  # the second run refreshes atimes the first run's reads staled
            timed(cv, self.env)
            timed(cn, self.env)
        tv, tn = [], []
        c0 = m.counts()
        h0, u0 = m.hist, m.cpu
        for i in range(self.reps):
            pair = [(tv, cv), (tn, cn)] if i % 2 == 0 else [(tn, cn), (tv, cv)]
            for acc, c in pair:
                acc.append(timed(c, self.env))
        c1 = m.counts()
        note = m.since(h0, u0, self.reps)
        nmod = self.nmodules(self.big_n)
        self.add(Row("import", f"warm import of {nmod} modules", med(tv), med(tn), "s",
                     "≤ 1.05 × native", 1.05, "ratio", "native venv", spread(tv), spread(tn),
                     {k: v / self.reps for k, v in delta(c0, c1).items()},
                     "requests per run; " + note))

    # 4. the same import right after mounting: the kernel's caches of the mount are cold,
    #    the store's files are in the page cache
    def row_cold(self, m):
        cv, cn = self.import_cmd(self.big_v), self.import_cmd(self.big_n)
        tv, tn, cnt = [], [], None
        for i in range(3 if self.a.quick else 5):
            m.remount()
            c0 = m.counts()
            h0, u0 = m.hist, m.cpu
            tv.append(timed(cv, self.env))
            cnt = delta(c0, m.counts())
            note = m.since(h0, u0)
            tn.append(timed(cn, self.env))
        self.add(Row("cold", "the same import right after mounting", med(tv), med(tn), "s",
                     "≤ 1.3 × native", 1.3, "ratio", "native venv (warm)", spread(tv),
                     spread(tn), cnt, note=note))

    # 5. ls -lR of a big env, warm
    def row_ls(self, m):
        nfiles = int(out(["sh", "-c", f"find '{self.big_n}' | wc -l"]))
        cv, cn = ["ls", "-lR", self.big_v], ["ls", "-lR", self.big_n]
        timed(cv)
        timed(cn)
        tv, tn = [], []
        c0 = m.counts()
        for i in range(self.reps):
            pair = [(tv, cv), (tn, cn)] if i % 2 == 0 else [(tn, cn), (tv, cv)]
            for acc, c in pair:
                acc.append(timed(c))
        c1 = m.counts()
        self.add(Row("ls", f"`ls -lR` of an env with {nfiles} files, warm", med(tv), med(tn), "s",
                     "≤ 1.5 × native", 1.5, "ratio", "native venv", spread(tv), spread(tn),
                     {k: v / self.reps for k, v in delta(c0, c1).items()}, "requests per run"))

    # 6. daemon memory with 100 envs holding the same packages, each used once
    def row_rss(self, m):
        n = 10 if self.a.quick else 100
        names = [f"same{i}" for i in range(n)]
        m.sync()
        for nm in names:
            self.ctl(m.store, "clone", os.path.basename(self.big_v), nm)
        for nm in names:  # a running mount shows envs made behind its back at once
            run([os.path.join(m.mnt, nm, "bin", "python"), "-c", LIGHT_IMPORT], env=self.env)
        rss = m.rss_mib()
        # native: the same work costs no daemon; show the kernel-side equivalent as "-"
        self.add(Row("rss", f"daemon memory, {n} envs with the same {self.npkg} packages, each "
                     "used", rss, None, "MiB", "≤ 64 MiB RSS", 64, "abs", "-",
                     note=f"after `{LIGHT_IMPORT}` in each env"))

    # 7. an env from stored packages (-r) vs pip install into a native venv
    def row_create_r(self):
        st = os.path.join(self.top, "pkgstore")
        self.ctl(st, "create", "first", "-r", self.reqs, "--find-links", self.a.wheels)
        tv = []
        for i in range(self.reps):
            tv.append(timed([self.venvctl, "--store", st, "create", f"r{i}", "-r", self.reqs]))
        tn = []
        for i in range(1 if self.a.quick else 2):
            nat = os.path.join(self.native, f"r{i}")
            t = time.perf_counter()
            run([self.py, "-m", "venv", nat], env=self.env)
            run([os.path.join(nat, "bin", "pip")] + self.pipargs + ["-r", self.reqs],
                env=self.env)
            tn.append(time.perf_counter() - t)
        # the env works: mounted, every package of the set imports and pip check is clean
        m = Mount(self.a.build, os.path.join(self.top, "pkgmnt"), self.py, store=st)
        with m:
            env = os.path.join(m.mnt, "r0")
            chk = subprocess.run([os.path.join(env, "bin", "pip"), "check"], env=self.env,
                                 capture_output=True, text=True)
            nmod = self.nmodules(env)
        ok = chk.returncode == 0
        self.add(Row("create-r", f"an env from {self.npkg} stored packages "
                     "(`venvctl create -r`)", med(tv), med(tn), "s", "≤ 50 ms", 0.05, "abs",
                     "python -m venv + pip install", spread(tv), spread(tn),
                     note=f"the env, mounted: `pip check` {'clean' if ok else 'FAILED'}, "
                     f"`import` of the set loads {nmod} modules"))
        if not ok:
            log(f"pip check failed: {chk.stdout}{chk.stderr}")

    # 8. the same from a shell where pyenv is set up: the default python3 is pyenv's shim
    #    (a bash script, ~0.1 s a run), whose choice venvctl reads from pyenv's files
    def row_create_shim(self):
        pyenv = shutil.which("pyenv") or os.path.expanduser("~/.pyenv/bin/pyenv")
        if not os.access(pyenv, os.X_OK):
            log("create-shim: pyenv is not installed, row skipped")
            return
        root = out([pyenv, "root"]).strip()
        shims = os.path.join(root, "shims")
        shim = os.path.join(shims, "python3")
        # the version whose interpreter is --python's (the corpus is built for it)
        vers = os.path.join(root, "versions")
        name = next((v for v in sorted(os.listdir(vers)) if os.path.realpath(
            os.path.join(vers, v, "bin", "python3")) == self.py), None) if os.path.isdir(
            vers) else None
        if not os.access(shim, os.X_OK) or not name:
            log(f"create-shim: no python3 shim, or {self.py} is no pyenv version: row skipped")
            return
        # the shell: pyenv's shims first on PATH, no variable `pyenv exec` sets, a project
        # directory whose .python-version names the version
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("PYENV_", "_PYENV_")) or k == "PYENV_ROOT"}
        e["PATH"] = ":".join([shims] + [d for d in os.environ.get("PATH", "").split(":")
                                        if d and d != shims and not d.startswith(vers + "/")])
        work = os.path.join(self.top, "project")
        os.makedirs(work)
        with open(os.path.join(work, ".python-version"), "w") as f:
            f.write(name + "\n")
        e["PWD"] = work
        reqs = os.path.join(self.top, "reqs-shim.txt")
        npkg = self.pins(SHIM_SET, reqs)
        st = os.path.join(self.top, "shimstore")
        cfg = os.path.join(self.top, "empty.ini")  # no `python`: python3 on PATH
        open(cfg, "w").close()
        ctl = [self.venvctl, "--store", st, "--config", cfg, "create"]
        got = out(ctl + ["first", "-r", reqs, "--find-links", self.a.wheels], env=e, cwd=work)
        # the interpreter the env got is the one running the shim gives
        ran = out([shim, "-c", "import os, sys; print(os.path.realpath(sys.executable))"],
                  env=e, cwd=work).strip()
        same = f"({ran})" in got
        if not same:
            log(f"create-shim: the env's interpreter is not {ran}: {got}")
        tv = []
        for i in range(max(self.reps, 11)):
            tv.append(timed(ctl + [f"s{i}", "-r", reqs], e, cwd=work))
        # for scale: the shim alone, as every create ran it before
        tn = [timed([shim, "-c", "pass"], e, cwd=work) for _ in range(5)]
        self.add(Row("create-shim", f"an env from {npkg} stored packages, the default python3 "
                     "a pyenv shim (`venvctl create -r`)", med(tv), med(tn), "s", "≤ 50 ms",
                     0.05, "abs", "the shim alone (`python3 -c pass`)", spread(tv), spread(tn),
                     note=f"PATH with pyenv's shims first, `.python-version` naming {name} in "
                     "the working directory; the env's interpreter "
                     f"{'is' if same else 'is NOT'} the one running the shim gives"))

    # 9. store bytes for 50 envs with the same packages
    def row_bytes(self):
        n = 10 if self.a.quick else 50
        st = os.path.join(self.top, "bytestore")
        self.ctl(st, "create", "--without-pip", "empty")
        base = du_bytes(st)
        self.ctl(st, "create", "b0", "-r", self.reqs, "--find-links", self.a.wheels)
        one = du_bytes(st) - base
        for i in range(1, n):
            self.ctl(st, "create", f"b{i}", "-r", self.reqs)
        allb = du_bytes(st) - base
        limit = 1.02 * one + 64 * 1024 * n
        nat = du_bytes(self.big_n)
        self.add(Row("bytes", f"store bytes, {n} envs with the same {self.npkg} packages", allb,
                     nat * n, "B", f"≤ 1.02 × one copy + 64 KiB per env "
                     f"({fmt(limit, 'B')})", limit, "abs", f"{n} × one native venv",
                     note=f"one copy: {fmt(one, 'B')}; native: {n} × `du -sb` of one venv "
                     "with the set installed by pip"))

    # 9b. the same for envs made by pip through a mount and then imported: their sources
    #     and bytecode are written by pip and CPython, each with the env's own mtimes
    def row_bytes_pip(self):
        n = 5 if self.a.quick else 50
        top = os.path.join(self.top, "pipbytes")
        m = Mount(self.a.build, top, self.py)
        with open(m.cfg, "a") as f:
            f.write("history-keep = 0\n")  # the store holds what the envs hold now
        env = dict(self.env)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        def held():
            # what the store holds for the envs: the roots a pip run commits on the way
            # are garbage once the next commit replaces them (the mount is idle here)
            self.ctl(m.store, "gc", "--grace", "0")
            return du_bytes(m.store)
        with m:
            os.mkdir(os.path.join(m.mnt, "seed"))  # the interpreter's skeleton, once
            m.sync()
            base = held()
            one = None
            for i in range(n):
                d = os.path.join(m.mnt, f"p{i}")
                os.mkdir(d)
                run([os.path.join(d, "bin", "pip")] + self.pipargs + ["-r", self.reqs], env=env)
                run(self.import_cmd(d), env=env)
                m.sync()
                if one is None:
                    one = held() - base
                log(f"bytes-pip: {i + 1}/{n} envs, {fmt(du_bytes(m.store) - base, 'B')}")
            allb = held() - base
        shutil.rmtree(top, ignore_errors=True)
        limit = 1.02 * one + 64 * 1024 * n
        nat = du_bytes(self.big_n) if hasattr(self, "big_n") else None
        self.add(Row("bytes-pip", f"store bytes, {n} envs pip-installed and imported "
                     "(after `venvctl gc`)", allb,
                     nat * n if nat else None, "B", f"≤ 1.02 × one env + 64 KiB per env "
                     f"({fmt(limit, 'B')})", limit, "abs",
                     f"{n} × one native venv" if nat else "-",
                     note=f"one env: {fmt(one, 'B')}, then "
                     f"{fmt((allb - one) / max(n - 1, 1), 'B')} per env"))

    # 10. 10,000 envs in one mount
    def row_manyenvs(self):
        n = 1000 if self.a.quick else 10000
        top = os.path.join(self.top, "many")
        m = Mount(self.a.build, top, self.py)
        names = [f"e{i:05d}" for i in range(n)]
        for k in range(0, n, 1000):
            self.ctl(m.store, "create", "--without-pip", *names[k:k + 1000])
        ndir = os.path.join(self.native, "many")
        for nm in names:
            os.makedirs(os.path.join(ndir, nm))
        with m:
            tcold = timed(["ls", m.mnt])
            timed(["ls", ndir])
            tv, tn = [], []
            for i in range(self.reps):
                tv.append(timed(["ls", m.mnt]))
                tn.append(timed(["ls", ndir]))
            self.add(Row("manyls", f"`ls` of a mount with {n} envs", med(tv), med(tn), "s",
                         "≤ 100 ms", 0.1, "abs", f"`ls` of a directory of {n} dirs",
                         spread(tv), spread(tn),
                         note=f"right after mounting: {fmt(tcold, 's')}"))
            tv = []
            for i in range(20):
                t = time.perf_counter()
                os.mkdir(os.path.join(m.mnt, f"new{i}"))
                tv.append(time.perf_counter() - t)
            self.add(Row("manymkdir", f"`mkdir` with {n} envs in the mount", med(tv), None, "s",
                         "≤ 1 ms median", 0.001, "abs", "-", spread(tv)))

    # 8. the big env published over loopback HTTP (`venvctl publish`, `venvfs --remote`):
    #    import with an empty cache against the local mount right after mounting, and
    #    warm against the local mount warm
    def row_remote(self, m):
        pub = os.path.join(self.top, "pub")
        name = os.path.basename(self.big_v)
        run([self.venvctl, "--store", m.store, "publish", "--env", name, pub],
            stdout=subprocess.DEVNULL)
        srv = HttpServer(self.top, pub)
        rm = RemoteMount(self.a.build, os.path.join(self.top, "remote"), srv.url)
        try:
            cr = self.import_cmd(os.path.join(rm.mnt, name))
            cl = self.import_cmd(self.big_v)
            cold_r, cold_l, warm_r, warm_l, fetched = [], [], [], [], []
            for i in range(3 if self.a.quick else 5):
                pair = [("r", cold_r), ("l", cold_l)] if i % 2 == 0 else \
                    [("l", cold_l), ("r", cold_r)]
                for who, acc in pair:
                    if who == "r":
                        rm.fresh()
                        n0 = srv.requests()
                        acc.append(timed(cr, self.env))
                        fetched.append(srv.requests() - n0)
                    else:
                        m.remount()
                        acc.append(timed(cl, self.env))
            for _ in range(2):
                timed(cr, self.env)
                timed(cl, self.env)
            for i in range(self.reps):
                pair = [(warm_r, cr), (warm_l, cl)] if i % 2 == 0 else \
                    [(warm_l, cl), (warm_r, cr)]
                for acc, c in pair:
                    acc.append(timed(c, self.env))
        finally:
            rm.down()
            srv.stop()
        note = (f"server: {srv.kind} on 127.0.0.1; HTTP requests per cold import "
                f"{med(fetched):.0f} ({min(fetched)}-{max(fetched)})")
        self.add(Row("remote-cold", "the import over loopback HTTP, empty cache",
                     med(cold_r), med(cold_l), "s", "≤ 2 × the local mount", 2.0, "ratio",
                     "the local mount right after mounting", spread(cold_r), spread(cold_l),
                     note=note))
        self.add(Row("remote-warm", "the import over loopback HTTP, warm", med(warm_r),
                     med(warm_l), "s", "≤ 1.05 × the local mount", 1.05, "ratio",
                     "the local mount, warm", spread(warm_r), spread(warm_l)))

    def cleanup(self):
        shutil.rmtree(self.top, ignore_errors=True)


# ---- output -------------------------------------------------------------------------

def write_md(path, rows, a, ver, started, elapsed, chart):
    L = [
        "# venvfs benchmarks",
        "",
        "Produced by `tests/bench/bench.py` (one command, see its `--help`). Every row",
        "measures venvfs and its native counterpart in the same run on the same machine,",
        "alternating A/B; figures are medians, ranges are min-max of the repetitions.",
        "",
        f"- machine: {machine()}",
        f"- Python {ver}; run {started} ({elapsed / 60:.1f} min"
        f"{', --quick' if a.quick else ''})",
        "",
        "| what | venvfs | native | native is | measured | target | met |",
        "|---|---:|---:|---|---:|---|:---:|",
    ]
    for r in rows:
        meas = f"{r.measured:.2f} ×" if r.kind == "ratio" else fmt(r.v, r.unit)
        met = {None: "", True: "yes", False: "**no**"}[r.met]
        L.append(f"| {r.what} | {fmt(r.v, r.unit)} | {fmt(r.n, r.unit)} | {r.native_is} | "
                 f"{meas} | {r.target} | {met} |")
    L += ["", "Ranges (min-max) and notes:", ""]
    for r in rows:
        parts = []
        if r.sv:
            parts.append(f"venvfs {fmt(r.sv[0], r.unit)}-{fmt(r.sv[1], r.unit)}")
        if r.sn:
            parts.append(f"native {fmt(r.sn[0], r.unit)}-{fmt(r.sn[1], r.unit)}")
        if r.note:
            parts.append(r.note)
        if parts:
            L.append(f"- {r.what}: {'; '.join(parts)}")
    L += ["", "## FUSE requests per workload", "",
          "Counted by the daemon (`VENVFS_COUNT_FILE`); requests libfuse answers itself "
          "are not seen.", "",
          "| workload | requests | by kind |", "|---|---:|---|"]
    for r in rows:
        if not r.counts:
            continue
        tot = sum(r.counts.values())
        kinds = ", ".join(f"{k} {v:g}" for k, v in
                          sorted(r.counts.items(), key=lambda kv: -kv[1]) if v >= 0.5)
        per = r.note.split(";")[0]
        L.append(f"| {r.what}{' (' + per + ')' if per.startswith('requests') else ''} "
                 f"| {tot:,.0f} | {kinds} |")
    if chart:
        L += ["", f"![measured figure as a fraction of its target]({os.path.basename(chart)})"]
    # the hand-written analysis below the marker survives a rerun
    kept = ""
    try:
        with open(path) as f:
            old = f.read()
        if NOTES_MARK in old:
            kept = old[old.index(NOTES_MARK):]
    except FileNotFoundError:
        pass
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n" + ("\n" + kept if kept else ""))


def write_chart(path, rows):
    """Each target row as a bar: measured / limit (1.0 is the target; below is met)."""
    gp = shutil.which("gnuplot")
    if not gp or not path:
        return None
    data = [(r.key, r.measured / r.limit) for r in rows if r.limit]
    if not data:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
        for k, v in data:
            f.write(f'"{k}" {v:.4f}\n')
        dat = f.name
    script = f"""
set terminal svg size 760,360 dynamic font "sans,11"
set output "{path}"
set title "venvfs: measured figure / target (below 1 = target met)"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set yrange [0:*]
set grid ytics
set xtics rotate by -30 offset 0,-0.3
set bmargin 5
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 2 lc rgb "#c00000"
plot "{dat}" using 2:xtic(1) title "" lc rgb "#4472c4"
"""
    subprocess.run([gp], input=script, text=True, check=True)
    os.unlink(dat)
    return path


def corpus(a, py):
    """--wheels DIR, else the install set and its dependencies repacked from py's installed
    packages by tests/wheelcorpus.py into a cache per interpreter version. The builder runs
    every time: it writes only the wheels the cache lacks, so a grown set gets completed."""
    if a.wheels:
        return a.wheels
    ver = out([py, "-c", "import sys; print('%s-%d.%d' % (sys.implementation.name, "
               "*sys.version_info[:2]))"]).strip()
    cache = os.path.join(os.path.expanduser("~"), ".cache", "venvfs-bench", "wheels-" + ver)
    log(f"wheel corpus in {cache}")
    r = subprocess.run([py, os.path.join(ROOT, "tests", "wheelcorpus.py"), cache]
                       + INSTALL_SET, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"no wheel corpus from {py} (see above): give --python an "
                         "interpreter with the install set installed, or --wheels DIR")
    if r.stdout:
        log(f"wheel corpus: {len(r.stdout.splitlines())} wheels written")
    return cache


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--wheels", help="wheel corpus (default: repacked from --python's "
                    "installed packages by tests/wheelcorpus.py, and cached)")
    ap.add_argument("--python", default=shutil.which("python3"),
                    help="interpreter of the envs (default: python3 on PATH)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and envs")
    ap.add_argument("--venvfs-opts", help="-o options for every mount (an A/B of an option, "
                    "e.g. warm=0)")
    ap.add_argument("--only", type=lambda s: s.split(","),
                    help="rows to run: mkdir,pip,import,cold,ls,rss,remote,create-r,create-shim,"
                    "bytes,bytes-pip,manyenvs")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--chart", default=os.path.join(ROOT, "docs", "benchmarks.svg"))
    a = ap.parse_args()
    a.python = out([a.python, "-c", "import sys, os; print(os.path.realpath(sys.executable))"]
                   ).strip()
    ver = out([a.python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]).strip()
    a.wheels = corpus(a, a.python)
    Mount.opts = a.venvfs_opts
    started, t0 = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.monotonic()
    b = Bench(a)
    try:
        b.run_all()
    finally:
        b.cleanup()
    chart = write_chart(a.chart, b.rows) if not a.only else None
    write_md(a.out, b.rows, a, ver, started, time.monotonic() - t0, chart)
    print(open(a.out).read())


if __name__ == "__main__":
    main()
