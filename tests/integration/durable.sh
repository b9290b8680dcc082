#!/bin/bash
# durable.sh - what close(2) and fsync(2) promise through the mount, checked with kill -9
# of the daemon, and what fsync costs the store:
#
#   1. close: a ~1 MiB file copied in (the writer has exited) and the daemon killed at
#      once has exactly its bytes after the remount (20 rounds, new files and overwrites).
#   2. rename: new content written to cfg.tmp, closed, renamed over cfg and the daemon
#      killed at once (cp, mv, kill; or one process doing all three): after the remount
#      cfg holds the NEW bytes (never empty, never the old ones), and cfg.tmp is gone
#      (20 rounds).
#   3. random moments: a writer replaces f0..f7 by temp file + rename in a loop and logs
#      each content after its rename returned; the daemon is killed 50-500 ms into it:
#      every logged file has its last logged content (or the one being written at the
#      kill), never an empty, partial or older one (8 rounds).
#   4. fsync: 100 x (write 4 KiB + fsync) on one fd of an 8 MiB file grows the store by
#      at most 32 MiB (not one copy of the file per fsync); then 20 more fsyncs and a kill
#      while the fd is still open: the remounted file holds what was fsynced.
#   5. sqlite: a WAL database (synchronous=FULL) in an env takes 600 one-row commits
#      within 3x the time of the same run on the host disk (tried twice before it fails),
#      then 100 more with a second connection reading meanwhile; the store grows by at
#      most 64 MiB, and every row is there after a remount.
#   6. sparse: a 64 GiB file with one byte of data grows the store by at most 64 MiB; the
#      daemon exits within 30 s of the unmount while it would still be hashing; after a
#      remount it has its size and byte, and removing it stops the hashing.
#   7. power loss (simulated): files written and not fsynced when the machine stops may
#      lose what was not on disk, never as a half file under an old name. The daemon is
#      killed, then the journal's boot records are made to name another boot and the
#      stages of unclosed and renamed-over files are cut to half, as a lost page cache
#      would leave them. After the remount: a temp file renamed over cfg leaves cfg
#      with its OLD content and no cfg.tmp; a file being rewritten in place keeps its
#      old content; a closed file whose stage still hashes to its seal has its new
#      content; a closed file whose stage was damaged is not made; a file fsynced while
#      open has what was fsynced; the daemon names each file it did not trust.
#
# Each part that can grow the store without bound on a bad build stops at 200 MiB of
# growth, so the test's disk use stays under about 300 MB. Everything lives in the test's
# temp dir (store, mount, the host-disk sqlite run) and goes with it.
#
# VV_DURABLE_PARTS selects parts (default "1 2 3 4 5 6 7"); VV_DURABLE_ROUNDS sets the rounds
# of parts 1 and 2 (default 20), VV_DURABLE_RANDOM_ROUNDS those of part 3 (default 8).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
VV_TEST_TIMEOUT=${VV_TEST_TIMEOUT:-840}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PARTS=${VV_DURABLE_PARTS:-1 2 3 4 5 6 7}
ROUNDS=${VV_DURABLE_ROUNDS:-20}
RANDOM_ROUNDS=${VV_DURABLE_RANDOM_ROUNDS:-8}
[[ $ROUNDS =~ ^[0-9]+$ && $RANDOM_ROUNDS =~ ^[0-9]+$ ]] ||
	fail "VV_DURABLE_ROUNDS and VV_DURABLE_RANDOM_ROUNDS must be numbers"
python3 -c 'import sqlite3' 2>/dev/null || fail "python3 has no sqlite3 module"

# A bad build stores a whole copy of the file per fsync; past this growth a part stops.
ABORT_KIB=$((200 * 1024))
T0=$SECONDS

want_part() { [[ " $PARTS " == *" $1 "* ]]; }

# Disk use of the store in KiB (as du counts it).
store_kib() { du -sk "$STORE" | cut -f1; }

# new_content FILE BYTES: BYTES of random data (a different file every call).
new_content() { head -c "$2" /dev/urandom >"$1"; }

# expect_content PATH SHA256 BYTES WHAT [OLD_SHA256]: PATH holds exactly the expected
# bytes; otherwise fail saying what it holds instead (missing, empty, old, other).
expect_content() {
	local path=$1 want=$2 bytes=$3 what=$4 old=${5:-} name size got
	name=${path#"$MNT/"}
	[[ -e $path ]] || fail "$what: $name is missing (expected $bytes bytes)"
	size=$(stat -c %s "$path")
	got=$(vv_sha256 "$path")
	[[ $got == "$want" ]] && return 0
	((size != 0)) || fail "$what: $name was 0 bytes (expected $bytes bytes)"
	[[ -z $old || $got != "$old" ]] ||
		fail "$what: $name has its OLD content ($size bytes), not the new $bytes bytes"
	fail "$what: $name has other content: $size bytes, sha256 $got (expected $bytes bytes, sha256 $want)"
}

# crash: kill -9 the daemon now, clean the dead mount up and mount again.
crash() {
	vv_kill_daemon KILL
	vv_mount
}

# Bytes in regular files of the store outside objects/ (env files, journals, history,
# temp and stage files): after a clean unmount nothing of a file's content is left there.
outside_objects_kib() {
	find "$STORE" -path "$STORE/objects" -prune -o -type f -printf '%k\n' |
		awk '{ s += $1 } END { printf "%d", s }'
}
check_no_leftovers() { # WHAT
	local kib
	kib=$(outside_objects_kib)
	if ((kib > 1024)); then
		find "$STORE" -path "$STORE/objects" -prune -o -type f -printf '%k KiB %p\n' |
			sort -rn | head -n 10 >&2
		fail "$1: $kib KiB in files outside objects/ after a clean unmount (largest above)"
	fi
}

# ---- helper programs (run from the temp dir, never from the mount) -------------------

STORE_PY=$VV_TMP/storesize.py
cat >"$STORE_PY" <<'EOF'
import os


def store_kib(top):
    """Disk use of the tree under top in KiB, hard links counted once (like du -sk)."""
    seen, blocks = set(), 0
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                blocks += st.st_blocks
    return blocks // 2
EOF

# put.py SRC DST NEWNAME PID: write SRC's bytes to DST (open, write, close), rename DST
# to NEWNAME and kill -9 PID (the daemon), at once, in one process.
PUT=$VV_TMP/put.py
cat >"$PUT" <<'EOF'
import os, signal, sys

with open(sys.argv[1], "rb") as f:
    data = f.read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
view = memoryview(data)
while view:
    view = view[os.write(fd, view):]
os.close(fd)
os.rename(sys.argv[2], sys.argv[3])
os.kill(int(sys.argv[4]), signal.SIGKILL)
EOF

# randwriter.py DIR LOG NFILES ROUND: replace DIR/f0..f{NFILES-1} by temp file + rename in
# a loop until the mount goes away (or 6 MiB were written: then it waits to be killed).
# LOG (outside the mount) gets "intent NAME SHA" before a write starts and "done NAME SHA"
# after its rename returned.
RANDWRITER=$VV_TMP/randwriter.py
cat >"$RANDWRITER" <<'EOF'
import hashlib, os, random, sys, time

d, log, nfiles, rnd = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lfd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def note(line):
    os.write(lfd, (line + "\n").encode())


note("start %d" % rnd)
seq, end, total = 0, time.monotonic() + 50, 0
try:
    while time.monotonic() < end:
        if total > 6 << 20:  # bounds the store's growth; wait for the kill
            note("capped %d" % rnd)
            time.sleep(end - time.monotonic())
            break
        name = "f%d" % random.randrange(nfiles)
        data = b"%s round %d seq %d\n" % (name.encode(), rnd, seq) + \
            os.urandom(random.randint(1, 8 << 10))
        total += len(data)
        sha = hashlib.sha256(data).hexdigest()
        note("intent %s %s" % (name, sha))
        tmp = os.path.join(d, name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(d, name))
        note("done %s %s" % (name, sha))
        seq += 1
except OSError as e:  # the daemon was killed under us
    print("writer round %d: stopped after %d files: %s" % (rnd, seq, e), file=sys.stderr)
EOF

# randcheck.py DIR LOG WHAT: every name the log completed holds its last completed
# content or one written after it (in flight at the kill); appends "state NAME SHA" for
# what is there now, the base of the next round.
RANDCHECK=$VV_TMP/randcheck.py
cat >"$RANDCHECK" <<'EOF'
import hashlib, os, sys

d, log, what = sys.argv[1:]
allowed, pending, history = {}, {}, {}
with open(log) as f:
    for lineno, line in enumerate(f, 1):
        parts = line.split()
        if len(parts) != 3 or parts[0] not in ("intent", "done", "state"):
            continue  # start, capped
        kind, name, sha = parts
        history.setdefault(sha, (kind, lineno))
        if kind == "intent":
            pending.setdefault(name, []).append(sha)
        else:  # done, state
            allowed[name] = {sha}
            pending[name] = []
bad, checked, states = [], 0, []
for name in sorted(set(allowed) | set(pending)):
    path = os.path.join(d, name)
    ok = allowed.get(name, set()) | set(pending.get(name, []))
    if not os.path.exists(path):
        if name in allowed:
            bad.append("%s is missing (its write had completed)" % name)
        continue
    with open(path, "rb") as f:
        data = f.read()
    sha = hashlib.sha256(data).hexdigest()
    checked += 1
    if sha in ok:
        states.append("state %s %s" % (name, sha))
        continue
    if not data:
        bad.append("%s was 0 bytes" % name)
    elif sha in history:
        bad.append("%s has an OLDER content (%d bytes, logged at line %d): a completed "
                   "write was lost" % (name, len(data), history[sha][1]))
    else:
        bad.append("%s has content never written whole (%d bytes, starts %r)"
                   % (name, len(data), data[:40]))
if bad:
    for b in bad:
        print("%s: %s" % (what, b))
    sys.exit(1)
with open(log, "a") as f:
    f.write("".join(s + "\n" for s in states))
print(checked)
EOF

# fsyncloop.py PATH SRC N MODE STORE BASE_KIB ABORT_KIB SHA_OUT [READY]: open PATH (whose
# content is SRC) once, N times write 4 KiB (even: overwrite inside, odd: append) and
# fsync; stop with status 3 once the store grew by more than ABORT_KIB. Writes the sha256
# of the content to SHA_OUT. MODE close: close and exit; hold: create READY and keep the
# fd open until killed.
FSYNCLOOP=$VV_TMP/fsyncloop.py
cat >"$FSYNCLOOP" <<'EOF'
import hashlib, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storesize import store_kib

path, src, n, mode, store, base, limit, out = sys.argv[1:9]
n, base, limit = int(n), int(base), int(limit)
with open(src, "rb") as f:
    content = bytearray(f.read())
fd = os.open(path, os.O_RDWR)
t0, spent = time.monotonic(), 0.0
for i in range(n):
    data = os.urandom(4096)
    off = (i * 69632) % (len(content) - 4096) if i % 2 == 0 else len(content)
    if os.pwrite(fd, data, off) != len(data):
        sys.exit("short write at fsync %d" % (i + 1))
    content[off:off + len(data)] = data
    f0 = time.monotonic()
    os.fsync(fd)
    spent += time.monotonic() - f0
    grown = store_kib(store) - base
    if grown > limit:
        print("the store grew by %d MiB after %d fsyncs of the %d MiB file (stopped at %d MiB)"
              % (grown >> 10, i + 1, len(content) >> 20, limit >> 10))
        sys.exit(3)
print("%d fsyncs in %.2f s (fsync alone %.2f s, %.1f ms each)"
      % (n, time.monotonic() - t0, spent, spent * 1000 / max(n, 1)), file=sys.stderr)
with open(out, "w") as f:
    f.write(hashlib.sha256(content).hexdigest() + " %d\n" % len(content))
with open(src, "wb") as f:  # the new content is the next run's starting point
    f.write(content)
if mode == "close":
    os.close(fd)
else:
    open(sys.argv[9], "w").close()
    time.sleep(300)
EOF

# sqlwal.py DB FIRST N STORE BASE_KIB ABORT_KIB [reader]: N one-row transactions (ids
# FIRST..) on one connection of a WAL database with synchronous=FULL; prints the time of
# the commit loop in ms. STORE "-": no store check; else stop (status 3) once the store
# grew by more than ABORT_KIB (the checks are not timed). "reader": a second connection
# in a thread counts the rows meanwhile and must never see the count go down.
SQLWAL=$VV_TMP/sqlwal.py
cat >"$SQLWAL" <<'EOF'
import hashlib, os, sqlite3, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storesize import store_kib

db, first, n, store, base, limit = sys.argv[1:7]
first, n, base, limit = int(first), int(n), int(base), int(limit)
reader = len(sys.argv) > 7 and sys.argv[7] == "reader"


def payload(i):
    return "row %d %s" % (i, hashlib.sha256(b"%d" % i).hexdigest() * 3)


con = sqlite3.connect(db, isolation_level=None, timeout=30)
mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
if mode != "wal":
    sys.exit("journal_mode is %r, not wal" % mode)
con.execute("PRAGMA synchronous=FULL")
con.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")

stop, seen, errors = threading.Event(), [], []


def read_loop():
    try:
        rc = sqlite3.connect(db, isolation_level=None, timeout=30)
        last = -1
        while not stop.is_set():
            c = rc.execute("SELECT count(*) FROM t").fetchone()[0]
            if c < last:
                errors.append("the reader saw %d rows after %d" % (c, last))
            last = c
            seen.append(c)
            time.sleep(0.002)
        rc.close()
    except Exception as e:
        errors.append("reader: %r" % e)


th = threading.Thread(target=read_loop) if reader else None
if th:
    th.start()
t0, unt = time.monotonic(), 0.0
for k, i in enumerate(range(first, first + n)):
    con.execute("BEGIN")
    con.execute("INSERT INTO t (id, payload) VALUES (?, ?)", (i, payload(i)))
    con.execute("COMMIT")
    if store != "-" and k % 10 == 9:
        c0 = time.monotonic()
        grown = store_kib(store) - base
        unt += time.monotonic() - c0
        if grown > limit:
            stop.set()
            print("the store grew by %d MiB after %d sqlite commits (stopped at %d MiB)"
                  % (grown >> 10, k + 1, limit >> 10))
            sys.exit(3)
elapsed = time.monotonic() - t0 - unt
stop.set()
if th:
    th.join()
    if errors:
        sys.exit("; ".join(errors[:3]))
    if not seen:
        sys.exit("the reader never read")
con.close()
print("%d" % (elapsed * 1000))
EOF

# sqlverify.py DB N: the database is intact and holds exactly rows 0..N-1.
SQLVERIFY=$VV_TMP/sqlverify.py
cat >"$SQLVERIFY" <<'EOF'
import hashlib, sqlite3, sys

db, n = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db, isolation_level=None)
ic = con.execute("PRAGMA integrity_check").fetchone()[0]
if ic != "ok":
    sys.exit("integrity_check: %s" % ic)
rows = con.execute("SELECT id, payload FROM t ORDER BY id").fetchall()
if len(rows) != n:
    sys.exit("%d rows, expected %d" % (len(rows), n))
for want, (i, p) in enumerate(rows):
    if i != want or p != "row %d %s" % (i, hashlib.sha256(b"%d" % i).hexdigest() * 3):
        sys.exit("row %d is wrong: id %d, payload %r" % (want, i, p[:40]))
con.close()
EOF

# ---- setup: one env, committed --------------------------------------------------------

E=$MNT/d
SRC=$VV_TMP/src.bin
vv_mount
check mkdir "$E"
check mkdir "$E/rand"
vv_umount
vv_mount

# ---- 1. kill -9 right after close -----------------------------------------------------

if want_part 1; then
	declare -A have=() # name -> "sha bytes" of what was verified last
	for ((round = 1; round <= ROUNDS; round++)); do
		bytes=$((1048576 + round * 4099))
		new_content "$SRC" "$bytes"
		want=$(vv_sha256 "$SRC")
		if ((round % 2)); then # a new file; the previous new one is removed
			name=new-$round
			check rm -f "$E"/new-*
		else # an existing file overwritten in place (cp truncates it)
			name=blob
		fi
		check timeout 60 cp "$SRC" "$E/$name"
		crash
		expect_content "$E/$name" "$want" "$bytes" "close round $round"
		((round % 2 == 0 || round < 3)) || assert_missing "$E/new-$((round - 2))"
		have[$name]="$want $bytes"
		if [[ $name != blob && -n ${have[blob]:-} ]]; then # the last blob is still intact
			read -r w b <<<"${have[blob]}"
			expect_content "$E/blob" "$w" "$b" "close round $round (blob of an earlier round)"
		fi
	done
	vv_note "ok: close: $ROUNDS rounds of kill -9 right after close kept every file"
fi

# ---- 2. temp file + rename, then kill -9 ----------------------------------------------

if want_part 2; then
	bytes=$((1024 * 1024))
	new_content "$SRC" "$bytes"
	old=$(vv_sha256 "$SRC")
	check timeout 60 cp "$SRC" "$E/cfg"
	vv_umount # cfg is committed
	vv_mount
	expect_content "$E/cfg" "$old" "$bytes" "rename: the first cfg"
	for ((round = 1; round <= ROUNDS; round++)); do
		bytes=$((1024 * 1024 + round * 1031))
		new_content "$SRC" "$bytes"
		new=$(vv_sha256 "$SRC")
		if ((round % 2)); then # two programs, then the kill
			check timeout 60 cp "$SRC" "$E/cfg.tmp"
			check timeout 60 mv -f "$E/cfg.tmp" "$E/cfg"
		else # one process writes, closes, renames and kills, with no pause between
			# (bash reports the daemon's death on stderr while this runs: not to the log)
			rc=0
			{ timeout 60 python3 "$PUT" "$SRC" "$E/cfg.tmp" "$E/cfg" "$VV_PID" \
				2>"$VV_TMP/put.err"; } 2>/dev/null || rc=$?
			((rc == 0)) || fail "rename round $round: put.py failed (exit $rc): $(cat "$VV_TMP/put.err")"
		fi
		crash # (kills the daemon unless put.py did)
		[[ ! -e $E/cfg.tmp ]] || fail "rename round $round: cfg.tmp is back after the remount"
		expect_content "$E/cfg" "$new" "$bytes" "rename round $round" "$old"
		old=$new
	done
	vv_note "ok: rename: $ROUNDS rounds of write cfg.tmp, mv over cfg, kill -9: cfg always new"
fi

# ---- 3. kill -9 at a random moment of a temp+rename writer ---------------------------

if want_part 3; then
	RLOG=$VV_TMP/random.log
	: >"$RLOG"
	writer_stopped() { ! kill -0 "$1" 2>/dev/null || grep -qx "capped $2" "$RLOG"; }
	for ((round = 1; round <= RANDOM_ROUNDS; round++)); do
		# (no timeout(1) around it: its own limit is 50 s, and a kill must reach python)
		vv_bg python3 "$RANDWRITER" "$E/rand" "$RLOG" 8 "$round" 2>>"$VV_TMP/writer.log"
		wpid=$VV_BG_PID
		vv_wait_for 30 grep -qx "start $round" "$RLOG" ||
			fail "random round $round: the writer did not start"
		ms=$((50 + RANDOM % 451))
		sleep "$(printf '0.%03d' "$ms")"
		crash
		# It stops by itself once the mount is gone; at its cap it writes nothing more and
		# waits to be killed.
		vv_wait_for 10 writer_stopped "$wpid" "$round" ||
			fail "random round $round: the writer did not stop after the kill"
		kill -KILL "$wpid" 2>/dev/null || true
		wait "$wpid" 2>/dev/null || true
		done_now=$(awk -v r="$round" '$1 == "start" { on = ($2 == r) } on && $1 == "done"' \
			"$RLOG" | wc -l)
		out=$(timeout 120 python3 "$RANDCHECK" "$E/rand" "$RLOG" "random round $round") ||
			fail "$out"
		capped=
		! grep -qx "capped $round" "$RLOG" || capped=" (the writer had reached its 6 MiB cap)"
		vv_note "random round $round: killed after ${ms} ms, $done_now renames done$capped; $out files verified"
	done
	total=$(grep -c '^done ' "$RLOG" || true)
	((total >= RANDOM_ROUNDS)) ||
		fail "random: the writer completed only $total renames in $RANDOM_ROUNDS rounds: $(tail -n 3 "$VV_TMP/writer.log")"
	vv_note "ok: random: $RANDOM_ROUNDS kills at random moments lost none of $total completed writes"
fi

if want_part 1 || want_part 2 || want_part 3; then
	out=$(vv_ctl fsck 2>&1) || fail "fsck after the crash rounds: $out"
	vv_umount
	check_no_leftovers "after the crash rounds"
	out=$(vv_ctl fsck 2>&1) || fail "fsck after the crash rounds (unmounted): $out"
	vv_note "store after the crash parts: $(store_kib) KiB"
	vv_mount
fi

# ---- 4. fsync of an open file does not store a copy of it each time ------------------

if want_part 4; then
	bytes=$((8 * 1024 * 1024))
	new_content "$SRC" "$bytes"
	check timeout 60 cp "$SRC" "$E/big.bin"
	vv_umount # the 8 MiB file is committed before the measurement starts
	before=$(store_kib)
	vv_mount
	rc=0
	out=$(timeout 300 python3 "$FSYNCLOOP" "$E/big.bin" "$SRC" 100 close "$STORE" "$before" \
		"$ABORT_KIB" "$VV_TMP/fsync.sha" 2>"$VV_TMP/fsync.err") || rc=$?
	cat "$VV_TMP/fsync.err" >&2
	((rc != 3)) || fail "fsync: $out"
	((rc == 0)) || fail "fsync: the fsync loop failed (exit $rc): $out $(cat "$VV_TMP/fsync.err")"
	vv_umount
	after=$(store_kib)
	grown=$((after - before))
	vv_note "fsync: the store grew by $((grown / 1024)) MiB ($grown KiB) for 100 fsyncs of an 8 MiB file"
	((grown <= 32 * 1024)) ||
		fail "fsync: the store grew by $((grown / 1024)) MiB for 100 fsyncs of an 8 MiB file (limit 32 MiB)"
	vv_mount
	read -r want bytes <"$VV_TMP/fsync.sha"
	expect_content "$E/big.bin" "$want" "$bytes" "fsync: after 100 fsyncs, close and a remount"
	vv_note "ok: fsync: 100 fsyncs grew the store by $((grown / 1024)) MiB"

	# fsynced but never closed: the kill finds the fd open, no RELEASE ever comes.
	old=$want
	vv_umount
	before=$(store_kib)
	vv_mount
	ready=$VV_TMP/fsync.ready
	vv_bg python3 "$FSYNCLOOP" "$E/big.bin" "$SRC" 20 hold "$STORE" "$before" \
		"$ABORT_KIB" "$VV_TMP/fsync2.sha" "$ready" >"$VV_TMP/fsync2.out" 2>&1
	hpid=$VV_BG_PID
	start=$SECONDS
	until [[ -e $ready ]]; do
		((SECONDS - start < 300)) || fail "fsync+kill: 20 fsyncs took more than 300 s"
		kill -0 "$hpid" 2>/dev/null || {
			rc=0
			wait "$hpid" || rc=$?
			fail "fsync+kill: the fsync loop ended (exit $rc): $(cat "$VV_TMP/fsync2.out")"
		}
		sleep 0.1
	done
	crash # the writer still holds the fd
	kill -KILL "$hpid" 2>/dev/null || true
	wait "$hpid" 2>/dev/null || true
	read -r want bytes <"$VV_TMP/fsync2.sha"
	expect_content "$E/big.bin" "$want" "$bytes" "fsync+kill: 20 fsyncs, kill -9 with the fd open" \
		"$old"
	vv_umount
	grown=$(($(store_kib) - before))
	((grown <= 32 * 1024)) ||
		fail "fsync+kill: the store grew by $((grown / 1024)) MiB for 20 fsyncs and a recovery (limit 32 MiB)"
	vv_mount
	vv_note "ok: fsync+kill: what was fsynced survived kill -9 with the fd open (store +$((grown / 1024)) MiB)"
	check rm -f "$E/big.bin"
fi

# ---- 5. sqlite in WAL mode -----------------------------------------------------------

if want_part 5; then
	N=600
	NATIVE=$VV_TMP/native
	mkdir -p "$NATIVE"
	check mkdir "$E/db"
	vv_umount
	before=$(store_kib)
	vv_mount
	# sqlite_run DB N: N timed commits into a new DB through the mount; the ms in RUN_MS.
	sqlite_run() {
		local rc=0
		RUN_MS=$(timeout 300 python3 "$SQLWAL" "$1" 0 "$2" "$STORE" "$before" "$ABORT_KIB" \
			2>"$VV_TMP/sqlite.err") || rc=$?
		cat "$VV_TMP/sqlite.err" >&2
		((rc != 3)) || fail "sqlite: $RUN_MS"
		((rc == 0)) ||
			fail "sqlite: $2 commits through the mount failed (exit $rc): $RUN_MS $(cat "$VV_TMP/sqlite.err")"
	}
	# The same commits on the host disk, in the same temp dir (the store's filesystem),
	# then through the mount. A run over the limit is tried once more (new databases),
	# since a busy machine can slow one run down; the better ratio counts.
	mount_ms=0 native_ms=0
	for attempt in 1 2; do
		nat=$(timeout 300 python3 "$SQLWAL" "$NATIVE/run$attempt.db" 0 "$N" - 0 0) ||
			fail "sqlite: the run on the host disk failed: $nat"
		sqlite_run "$E/db/run$attempt.db" "$N"
		ratio=$(awk -v m="$RUN_MS" -v n="$nat" 'BEGIN { printf "%.2f", m / (n > 0 ? n : 1) }')
		vv_note "sqlite: $N WAL commits (synchronous=FULL): mount ${RUN_MS} ms, host disk ${nat} ms, ratio ${ratio}x (target 2x)"
		if ((attempt == 1 || RUN_MS * native_ms < mount_ms * nat)); then
			mount_ms=$RUN_MS native_ms=$nat
		fi
		# The goal is 2x the host disk; the assertion allows 3x so that a loaded 2-core
		# CI machine does not make it flaky.
		((mount_ms > 3 * native_ms && attempt == 1)) || break
		vv_note "sqlite: over 3x; running both once more"
	done
	ratio=$(awk -v m="$mount_ms" -v n="$native_ms" 'BEGIN { printf "%.2f", m / (n > 0 ? n : 1) }')
	# A second connection reading meanwhile (not timed).
	out=$(timeout 300 python3 "$SQLWAL" "$E/db/run1.db" "$N" 100 "$STORE" "$before" \
		"$ABORT_KIB" reader 2>&1) || fail "sqlite: 100 commits with a reader thread: $out"
	commits=$((attempt * N + 100))
	vv_umount
	grown=$(($(store_kib) - before))
	vv_note "sqlite: the store grew by $((grown / 1024)) MiB ($grown KiB) for $commits commits"
	((grown <= 64 * 1024)) ||
		fail "sqlite: the store grew by $((grown / 1024)) MiB for $commits commits (limit 64 MiB)"
	vv_mount
	out=$(timeout 120 python3 "$SQLVERIFY" "$E/db/run1.db" $((N + 100)) 2>&1) ||
		fail "sqlite: run1.db after a remount: $out"
	if ((attempt == 2)); then
		out=$(timeout 120 python3 "$SQLVERIFY" "$E/db/run2.db" "$N" 2>&1) ||
			fail "sqlite: run2.db after a remount: $out"
	fi
	((mount_ms <= 3 * native_ms)) ||
		fail "sqlite: $N commits took ${mount_ms} ms through the mount, ${ratio}x the ${native_ms} ms on the host disk (limit 3x)"
	vv_note "ok: sqlite: ${ratio}x the host disk, store +$((grown / 1024)) MiB, all rows there after a remount"
fi

# ---- 6. a 64 GiB sparse file with one byte of data ---------------------------------------
# Holes stay holes in the stage (the store grows by a few KiB, not 64 GiB); hashing 64 GiB
# of zeros (half a minute or more) never holds up an unmount: the daemon exits within
# seconds and leaves the stage, named in the journal, to the next mount; removing the
# file stops the hashing at once.
if want_part 6; then
	before=$(store_kib)
	check truncate -s 64G "$E/sparse.bin"
	printf x >>"$E/sparse.bin" || fail "sparse: appending one byte failed"
	sleep 1 # the close's release is being handled: hashing has started
	grown=$(($(store_kib) - before))
	((grown <= 64 * 1024)) || fail "sparse: a 64 GiB file with 1 byte grew the store by $((grown / 1024)) MiB"
	start=$SECONDS
	VV_UMOUNT_TIMEOUT=30 vv_umount
	vv_note "sparse: store +${grown} KiB; the daemon exited $((SECONDS - start)) s after the unmount"
	vv_mount
	assert_eq "$(stat -c %s "$E/sparse.bin")" $(((64 << 30) + 1)) "sparse: size after a remount"
	assert_eq "$(tail -c 1 "$E/sparse.bin")" "x" "sparse: last byte after a remount"
	sleep 1 # the mount's publisher is hashing it now; removing it stops that
	check rm "$E/sparse.bin"
	start=$SECONDS
	VV_UMOUNT_TIMEOUT=30 vv_umount
	grown=$(($(store_kib) - before))
	((grown <= 64 * 1024)) || fail "sparse: the store grew by $((grown / 1024)) MiB"
	vv_note "ok: sparse: store +${grown} KiB, unmounts within $((SECONDS - start)) s while hashing"
	vv_mount
fi

# ---- 7. power loss, simulated --------------------------------------------------------

# stage_of PATH: the stage journal/d's last `w` record names for PATH (relative to the env).
stage_of() {
	local rec
	rec=$(grep -a -E "^w [0-7]+ [0-9a-f]{16} ${#1}:$1\$" "$STORE/journal/d" | tail -n 1)
	[[ -n $rec ]] || fail "power loss: journal/d has no w record for $1"
	cut -d' ' -f3 <<<"$rec"
}

# cut_half STAGE: what a lost page cache leaves of it (its first half).
cut_half() {
	local f=$STORE/stage/$1
	[[ -f $f ]] || fail "power loss: stage $1 is missing"
	check truncate -s $(($(stat -c %s "$f") / 2)) "$f"
}

# power_try T: one simulated power loss over files named *T; 1 if a timed commit of the
# daemon came before the kill (the journal no longer names the stages: try again).
power_try() {
	local t=$1 bytes=$((256 * 1024)) holder old_cfg old_inplace kept db_sha f
	new_content "$SRC" "$bytes"
	old_cfg=$(vv_sha256 "$SRC")
	check cp "$SRC" "$E/cfg$t"
	new_content "$SRC" "$bytes"
	old_inplace=$(vv_sha256 "$SRC")
	check cp "$SRC" "$E/inplace$t"
	vv_umount # both committed
	vv_mount
	# a writer rewrites inplace in place and keeps it open; it fsyncs db while open
	new_content "$SRC" "$bytes"
	rm -f "$VV_TMP/holder.ready"
	python3 - "$E/inplace$t" "$E/db$t" "$SRC" "$VV_TMP/holder.ready" <<'PYEOF' &
import os, sys, time
inplace, db, src, ready = sys.argv[1:]
data = open(src, "rb").read()
f = os.open(inplace, os.O_WRONLY)
os.pwrite(f, data, 0)
g = os.open(db, os.O_WRONLY | os.O_CREAT, 0o644)
os.pwrite(g, data, 0)
os.fsync(g)
open(ready, "w").close()
time.sleep(60)
PYEOF
	holder=$!
	db_sha=$(head -c $((bytes / 2)) "$SRC" | sha256sum | cut -d' ' -f1)
	vv_wait_for 30 test -e "$VV_TMP/holder.ready" || fail "power loss: the writer did not start"
	# written and renamed over cfg, never fsynced; closed, never fsynced (one of these
	# two stays intact, one is damaged below)
	new_content "$SRC" "$bytes"
	kept=$(vv_sha256 "$SRC")
	cp "$SRC" "$E/kept$t" && cp "$SRC" "$E/damaged$t" && cp "$SRC" "$E/cfg$t.tmp" &&
		mv -f "$E/cfg$t.tmp" "$E/cfg$t" || fail "power loss: writing the files failed"
	sleep 0.3 # the releases are handled: kept and damaged are sealed
	vv_kill_daemon KILL
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	for f in "cfg$t.tmp" "inplace$t" "kept$t" "damaged$t" "db$t"; do
		grep -a -q -E "^w [0-7]+ [0-9a-f]{16} ${#f}:$f\$" "$STORE/journal/d" || {
			vv_note "power loss: a commit came before the kill (try $t); again"
			vv_mount
			return 1
		}
	done
	# the machine "restarts": what this journal says was written in an earlier boot
	grep -a -q "^b " "$STORE/journal/d" || fail "power loss: journal/d has no boot record"
	check sed -i -E 's/^b [0-9a-f-]{36}$/b 00000000-0000-4000-8000-000000000000/' \
		"$STORE/journal/d"
	cut_half "$(stage_of "cfg$t.tmp")"
	cut_half "$(stage_of "inplace$t")"
	printf 'X' | dd of="$STORE/stage/$(stage_of "damaged$t")" bs=1 seek=100 conv=notrunc \
		status=none || fail "power loss: cannot damage the stage of damaged$t"
	cut_half "$(stage_of "db$t")" # fsynced: trusted as it is, even cut
	vv_mount
	expect_content "$E/cfg$t" "$old_cfg" "$bytes" "power loss: cfg (renamed over, not fsynced)"
	assert_missing "$E/cfg$t.tmp"
	expect_content "$E/inplace$t" "$old_inplace" "$bytes" \
		"power loss: inplace (rewritten, not closed)"
	expect_content "$E/kept$t" "$kept" "$bytes" "power loss: kept (closed, stage intact)"
	assert_missing "$E/damaged$t"
	expect_content "$E/db$t" "$db_sha" $((bytes / 2)) "power loss: db (fsynced)"
	# (cfg: where cfg.tmp was renamed to, keeping its old content)
	for f in "cfg$t" "inplace$t" "damaged$t"; do
		grep -q "'$f' was being written when the machine stopped" "$VV_LOG" ||
			fail "power loss: the daemon did not say it left $f out"
	done
	return 0
}

if want_part 7; then
	for ((t = 1; ; t++)); do
		((t <= 5)) || fail "power loss: a commit came before the kill 5 times"
		! power_try "$t" || break
	done
	vv_note "ok: power loss: no half file under an old name; closed and fsynced content kept"
fi

vv_umount
check vv_ctl fsck >/dev/null
vv_note "ok: parts $PARTS passed in $((SECONDS - T0)) s"
