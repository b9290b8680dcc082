#!/usr/bin/env python3
"""structure.py - checks that the code keeps the shape docs/design.md draws.

Reads two things: the #include lines of core/, fs/ and tools/, and, when given the
built core library, the symbols each of its objects defines and uses (nm), which are
the calls and data references that really link. From them:

  1. no circle of core files calling each other (a strongly connected group of more
     than one object file in the symbol graph, or of more than one module in the
     include graph, where a module is NAME.c with NAME.h);
  2. at most MAX_UP calls from a lower layer to a higher one (the layers are core/'s
     folders in LAYERS order; fs/ and tools/ sit above all of them, and core/ never
     includes a FUSE header);
  3. no C file longer than MAX_LINES lines;
  4. envs/NAME is written in one place: only core/env/txn.c touches the envs/
     directory with a call that changes it, and its replace function has one call site.

usage: structure.py SOURCE_ROOT [CORE_LIBRARY.a]
Prints what it found; exits 1 when a rule is broken.
"""
import os
import re
import subprocess
import sys

LAYERS = ["util", "store", "python", "pkg", "env", "live", "ops"]
MAX_UP = 2
MAX_LINES = 1000
TXN = "core/env/txn.c"
REPLACE_FN = "envfile_replace"

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# calls that change a directory entry, with the envs/ directory fd as their target
ENV_WRITE = re.compile(
    r"\b(renameat2?|linkat|unlinkat|symlinkat|mkdirat)\s*\([^;]*envfd|"
    r"\bopenat\s*\([^;]*envfd[^;]*O_(CREAT|WRONLY|RDWR|TRUNC)", re.S)


def sources(root):
    out = []
    for top in ("core", "fs", "tools"):
        for d, _, fs in os.walk(os.path.join(root, top)):
            for f in fs:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def layer_of(path):
    """Index in LAYERS, len(LAYERS) for fs/ and tools/, None for anything else."""
    parts = path.split("/")
    if parts[0] == "core" and len(parts) > 2 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    if parts[0] in ("fs", "tools"):
        return len(LAYERS)
    return None


def sccs(nodes, edges):
    """Tarjan's strongly connected components; yields the groups of more than one."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        work = [(v, iter(sorted(edges.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    grp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        grp.append(w)
                        if w == node:
                            break
                    if len(grp) > 1:
                        out.append(sorted(grp))
                continue
            if nxt not in index:
                index[nxt] = low[nxt] = counter[0]
                counter[0] += 1
                stack.append(nxt)
                on.add(nxt)
                work.append((nxt, iter(sorted(edges.get(nxt, ())))))
            elif nxt in on:
                low[node] = min(low[node], index[nxt])

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def include_graph(root, files):
    """Module (path without extension) -> modules whose headers it includes."""
    have = {f for f in files if f.startswith("core/")}
    edges, fuse = {}, []
    for f in files:
        text = open(os.path.join(root, f), encoding="utf-8", errors="replace").read()
        mod = f[:-2]
        for inc in INCLUDE.findall(text):
            target = "core/" + inc
            if target in have and target[:-2] != mod:
                edges.setdefault(mod, set()).add(target[:-2])
        if f.startswith("core/") and re.search(r"#\s*include\s*<fuse", text):
            fuse.append(f)
    return edges, fuse


def symbol_graph(lib):
    """Object file -> object files defining a symbol it uses (nm of the archive)."""
    out = subprocess.run(["nm", "-A", lib], check=True, capture_output=True, text=True).stdout
    defs, uses = {}, {}
    for line in out.splitlines():
        # archive.a:member.o:         U symbol   /   archive.a:member.o:0000 T symbol
        m = re.match(r"^[^:]+:([^:]+):\s*(?:[0-9a-fA-F]+)?\s+([A-Za-z])\s+(\S+)$", line)
        if not m:
            continue
        obj, kind, sym = m.groups()
        if kind == "U":
            uses.setdefault(obj, set()).add(sym)
        elif kind.isupper():
            defs[sym] = obj
    edges = {}
    for obj, syms in uses.items():
        for s in syms:
            if s in defs and defs[s] != obj:
                edges.setdefault(obj, set()).add(defs[s])
    return edges


def obj_to_src(obj, files):
    """meson names objects core_store_odb.c.o: map back to core/store/odb.c."""
    base = os.path.basename(obj)
    base = base[:-2] if base.endswith(".o") else base
    for f in files:
        if f.endswith(".c") and f.replace("/", "_") == base:
            return f
    return base


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    root = sys.argv[1]
    files = sources(root)
    bad = 0

    # 1 and 2: the include graph
    inc, fuse = include_graph(root, files)
    for f in fuse:
        print(f"FAIL {f} includes a FUSE header (core/ never does)")
        bad += 1
    nodes = {f[:-2] for f in files}
    for grp in sccs(nodes, inc):
        print("FAIL include circle: " + " <-> ".join(grp))
        bad += 1
    up = []
    for a, bs in sorted(inc.items()):
        for b in sorted(bs):
            la, lb = layer_of(a + ".c"), layer_of(b + ".c")
            if la is not None and lb is not None and lb > la:
                up.append(f"{a} includes {b}")

    # 1 and 2: the symbol graph (real calls)
    if len(sys.argv) == 3:
        sym = symbol_graph(sys.argv[2])
        named = {obj_to_src(a, files): {obj_to_src(b, files) for b in bs}
                 for a, bs in sym.items()}
        allnodes = set(named) | {b for bs in named.values() for b in bs}
        for grp in sccs(allnodes, named):
            print("FAIL call circle: " + " <-> ".join(grp))
            bad += 1
        for a, bs in sorted(named.items()):
            for b in sorted(bs):
                la, lb = layer_of(a), layer_of(b)
                if la is not None and lb is not None and lb > la:
                    up.append(f"{a} calls {b}")
    for u in up:
        print("up: " + u)
    if len(up) > MAX_UP:
        print(f"FAIL {len(up)} references from a lower layer to a higher one "
              f"(at most {MAX_UP})")
        bad += 1

    # 3: file length
    for f in files:
        if f.endswith(".c"):
            n = sum(1 for _ in open(os.path.join(root, f), encoding="utf-8",
                                    errors="replace"))
            if n > MAX_LINES:
                print(f"FAIL {f}: {n} lines (at most {MAX_LINES})")
                bad += 1

    # 4: one place writes envs/NAME
    for f in files:
        if not f.endswith(".c"):
            continue
        text = open(os.path.join(root, f), encoding="utf-8", errors="replace").read()
        if f != TXN and ENV_WRITE.search(text):
            print(f"FAIL {f} changes the envs/ directory (only {TXN} may)")
            bad += 1
        if f == TXN:
            calls = len(re.findall(r"\b" + REPLACE_FN + r"\s*\(", text)) - 1
            if calls != 1:
                print(f"FAIL {TXN}: {REPLACE_FN} has {calls} call sites (one commit "
                      "point: exactly 1)")
                bad += 1
    if not os.path.exists(os.path.join(root, TXN)):
        print(f"FAIL {TXN} is missing")
        bad += 1

    print(f"structure: {len(files)} files, {len(up)} upward references, "
          f"{bad} problem{'s' if bad != 1 else ''}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
