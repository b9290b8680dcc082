#!/bin/bash
# httpenvs.sh - envs published over HTTP: `venvctl publish DIR`, a real HTTP server on
# 127.0.0.1 serving DIR, and `venvfs --remote URL` mounting them read-only, fetching
# files on first use. Checks: import and pip list through the remote mount; writes
# refused; a file read once is served from the cache with the server stopped, and a
# remount with the server stopped serves the cached snapshot; a tampered object, a
# missing one (404), a truncated body and a stalled one (timeout) each give EIO with the
# reason in the daemon's log, and the mount stays up; a republish is picked up by a
# running mount; --pin serves the pinned snapshot and refuses a manifest that is not
# published or does not match its id; bad URLs, a cache of another URL and a server
# with an untrusted certificate are refused, and --cacert trusts it, over HTTP/1.1
# (Python's server) and HTTP/2 (nginx); the manifest names the interpreters and a
# host without one, or with another Python X.Y at its path, is told; a cache on a full disk gives EIO and says so; fsck of a
# cache counts what is not fetched yet and finds a corrupt object, which is fetched
# again after --repair;
# publishing again copies only new objects.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
VV_TEST_TIMEOUT=${VV_TEST_TIMEOUT:-600} # about 100 s; four times that under load
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
PUB=$VV_TMP/pub
CACHE=$VV_TMP/cache
FAULTS=$VV_TMP/faults
HLOG=$VV_TMP/http.log
vv_mkwheels "$W"

# ---- a store with an env: a package and a few data files -------------------------------
vv_mount
check mkdir "$MNT/web"
check "$MNT/web/bin/pip" install -q --no-index --find-links "$W" demoapp==1.0
for f in tamper missing trunc stall later; do
	printf 'file %s of the published env\n' "$f" >"$MNT/web/$f.txt"
done
vv_commit web
sums() { # sums DIR: the SHA-256 of every file below DIR but the two the test damages
	# and the one a republish adds
	(cd "$1" && find . -type f ! -name tamper.txt ! -name missing.txt ! -name added.txt \
		-print0 | sort -z | xargs -0 sha256sum)
}
sums "$MNT/web" >"$VV_TMP/sums.src"
vv_umount

# ---- publish -----------------------------------------------------------------------------
ID1=$(vv_ctl publish "$PUB" 2>"$VV_TMP/pub.err") || fail "publish: $(cat "$VV_TMP/pub.err")"
[[ $ID1 =~ ^[0-9a-f]{64}$ ]] || fail "publish printed '$ID1', not a manifest id"
assert_eq "$(cat "$PUB/HEAD")" "venvfs-manifest $ID1" "HEAD names the manifest"
[[ -f $PUB/objects/${ID1:0:2}/${ID1:2} ]] || fail "the manifest is not an object of $PUB"
assert_eq "$(vv_sha256 "$PUB/objects/${ID1:0:2}/${ID1:2}")" "$ID1" "manifest named by its hash"
assert_contains "$(cat "$VV_TMP/pub.err")" "published 1 env" "publish summary"
nobj=$(find "$PUB/objects" -type f | wc -l)
# every object of PUB is named by its hash
bad=$(find "$PUB/objects" -type f | while read -r p; do
	h=${p#"$PUB/objects/"}
	[[ $(vv_sha256 "$p") == "${h/\//}" ]] || echo "$p"
done)
[[ -z $bad ]] || fail "objects not named by their hash: $bad"
# publishing the same again adds nothing and names the same manifest
ID1b=$(vv_ctl publish "$PUB" 2>"$VV_TMP/pub.err")
assert_eq "$ID1b" "$ID1" "republishing the same envs"
assert_contains "$(cat "$VV_TMP/pub.err")" " 0 new" "republish copies nothing"
assert_eq "$(find "$PUB/objects" -type f | wc -l)" "$nobj" "objects after republish"
# bad input
check_fail vv_ctl publish --env nosuch "$VV_TMP/pub2" 2>"$VV_TMP/err"
assert_contains "$(cat "$VV_TMP/err")" "nosuch" "publishing a missing env names it"
check_fail vv_ctl publish 2>"$VV_TMP/err"
assert_contains "$(cat "$VV_TMP/err")" "no directory given" "publish without DIR"

# ---- the server ------------------------------------------------------------------------
start_server() { # on the port of the first start again: the URL stays the same
	local port=0
	[[ ! -s $VV_TMP/port ]] || port=$(cat "$VV_TMP/port")
	rm -f "$VV_TMP/port"
	vv_bg python3 "$VV_LIB_DIR/httpserve.py" "$PUB" "$VV_TMP/port" "$FAULTS" "$HLOG" "$port"
	SERVER=$VV_BG_PID
	vv_wait_for 10 test -s "$VV_TMP/port" || fail "the HTTP server did not start"
	URL=http://127.0.0.1:$(cat "$VV_TMP/port")
}
stop_server() {
	kill "$SERVER" && wait "$SERVER" 2>/dev/null || true
}
start_server
obj_url() { # path of the object holding file $1's bytes
	local h
	h=$(vv_sha256 "$1")
	printf '/objects/%s/%s' "${h:0:2}" "${h:2}"
}
SRC_STORE=$STORE

# ---- mount it ----------------------------------------------------------------------------
export VV_REMOTE_URL=$URL/
vv_mount --cache "$CACHE" --refresh 1 --timeout 3
assert_eq "$(ls "$MNT")" "web" "envs of the remote mount"
out=$("$MNT/web/bin/demo")
assert_eq "$out" "demoapp 1.0 demolib 2.0" "console script through the remote mount"
out=$("$MNT/web/bin/python" -c 'import demoapp, sys; print(demoapp.__file__.startswith(sys.prefix))')
assert_eq "$out" "True" "import from the remote env"
check "$MNT/web/bin/pip" list >"$VV_TMP/list"
assert_contains "$(cat "$VV_TMP/list")" "demolib" "pip list on the remote mount"
check_fail touch "$MNT/web/new.txt" 2>"$VV_TMP/err"
assert_contains "$(cat "$VV_TMP/err")" "Read-only file system" "writes refused"
check_fail mkdir "$MNT/other" 2>"$VV_TMP/err"
assert_contains "$(cat "$VV_TMP/err")" "Read-only file system" "new envs refused"
# fetched files are in the cache, verified, and fetched once
fetches() { grep -c '^GET /objects/.* 200$' "$HLOG"; }
before=$(fetches)
"$MNT/web/bin/python" -c 'import demoapp' || fail "second import"
assert_eq "$(fetches)" "$before" "a second import fetches nothing"

# ---- failures: EIO to the reader, the reason in the log, the mount stays up ------------
eio() { # eio FILE WHAT REASON: reading FILE fails with EIO and the log says REASON
	local rc=0
	cat "$1" >/dev/null 2>"$VV_TMP/err" || rc=$?
	((rc != 0)) || fail "$2: reading $1 succeeded"
	assert_contains "$(cat "$VV_TMP/err")" "Input/output error" "$2: error"
	vv_wait_for 5 grep -q "$3" "$VV_LOG" || fail "$2: the log does not say '$3'"
}
src() { printf 'file %s of the published env\n' "$1" >"$VV_TMP/want"; obj_url "$VV_TMP/want"; }
# All faults are set before any of these files is read: the mount fetches a directory's
# files in one batch, so the first read tries them all.
T=$(src tamper) # a tampered object: other bytes under the same name
rm -f "$PUB$T" # a new file: objects may be hard links to the store's
printf 'evil bytes\n' >"$PUB$T"
M=$(src missing) # not published
rm -f "$PUB$M"
# a body cut short, and one that stalls past --timeout
printf 'truncate %s\nstall %s 20\n' "$(src trunc)" "$(src stall)" >"$FAULTS"
t0=$SECONDS
eio "$MNT/web/tamper.txt" "tampered object" "does not match its name"
((SECONDS - t0 < 15)) || fail "a stalled transfer took $((SECONDS - t0)) s to fail (--timeout 3)"
eio "$MNT/web/missing.txt" "missing object" "HTTP 404"
eio "$MNT/web/trunc.txt" "truncated body" "truncated"
eio "$MNT/web/stall.txt" "stalled body" "timed out"
assert_eq "$(cat "$MNT/web/later.txt")" "file later of the published env" \
	"a good file fetched in the same batch"
: >"$FAULTS"
# none of them reached the cache; the mount still answers, and a healed object reads
for f in "$T" "$M"; do
	[[ ! -e $CACHE$f ]] || fail "a bad object reached the cache: $f"
done
sleep 2.1 # a failed fetch is answered from memory for 2 s (remote.h)
assert_eq "$(cat "$MNT/web/trunc.txt")" "file trunc of the published env" "retry after a fault"

# ---- the server stops: what was read is served from the cache ----------------------------
stop_server
out=$("$MNT/web/bin/demo")
assert_eq "$out" "demoapp 1.0 demolib 2.0" "console script with the server stopped"
vv_umount
vv_mount --cache "$CACHE" --refresh 0 --timeout 3
out=$("$MNT/web/bin/demo")
assert_eq "$out" "demoapp 1.0 demolib 2.0" "remount with the server stopped"
assert_contains "$(cat "$VV_LOG")" "serving the snapshot in the cache" "stale snapshot logged"
vv_umount

# ---- refusals -------------------------------------------------------------------------------
fail_mount() { # fail_mount ARGS...: venvfs refuses; its message in $VV_TMP/err
	local rc=0
	timeout 30 "$VENVFS" -f "$@" "$VV_TMP/mnt2" >"$VV_TMP/err" 2>&1 || rc=$?
	((rc != 0)) || fail "venvfs $* mounted"
	! vv_is_mounted "$VV_TMP/mnt2" || fail "venvfs $* left a mount"
}
mkdir -p "$VV_TMP/mnt2"
fail_mount --remote "http://127.0.0.1:1/other" --cache "$CACHE"
assert_contains "$(cat "$VV_TMP/err")" "is the cache of" "a cache of another URL"
fail_mount --remote "ftp://127.0.0.1/x" --cache "$VV_TMP/c2"
assert_contains "$(cat "$VV_TMP/err")" "not an http:// or https:// URL" "bad scheme"
fail_mount --remote "http://127.0.0.1:1/" --cache "$VV_TMP/c3" --timeout 2
assert_contains "$(cat "$VV_TMP/err")" "cannot reach the server" "server down, no cache"
# ---- HTTPS: a certificate the system does not trust is refused; --cacert trusts it -------
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 \
	-addext subjectAltName=IP:127.0.0.1 \
	-keyout "$VV_TMP/key.pem" -out "$VV_TMP/cert.pem" 2>/dev/null ||
	fail "openssl could not make a test certificate"
HTTPSERVE_TLS=$VV_TMP/cert.pem:$VV_TMP/key.pem vv_bg python3 "$VV_LIB_DIR/httpserve.py" \
	"$PUB" "$VV_TMP/tlsport" "$FAULTS" "$VV_TMP/tls.log"
vv_wait_for 10 test -s "$VV_TMP/tlsport" || fail "the HTTPS server did not start"
TLS_URL=https://127.0.0.1:$(cat "$VV_TMP/tlsport")/
fail_mount --remote "$TLS_URL" --cache "$VV_TMP/c4"
assert_contains "$(cat "$VV_TMP/err")" "TLS: " "an untrusted certificate"
fail_mount --remote "$TLS_URL" --cache "$VV_TMP/c4" --cacert "$VV_TMP/nosuch.pem"
assert_contains "$(cat "$VV_TMP/err")" "--cacert '$VV_TMP/nosuch.pem': No such file" \
	"a missing --cacert file"
# trusted, named relative to the directory venvfs starts in (the daemon leaves it)
VV_REMOTE_URL=$TLS_URL
pushd "$VV_TMP" >/dev/null || fail "cd $VV_TMP"
vv_mount --cache "$VV_TMP/c4" --cacert cert.pem --refresh 0
popd >/dev/null || fail "cd back"
assert_eq "$("$MNT/web/bin/demo")" "demoapp 1.0 demolib 2.0" "HTTPS with --cacert"
vv_umount
kill "$VV_BG_PID"

# HTTP/2: nginx over TLS offers h2, and the mount takes it
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [[ -x $NGINX ]]; then
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
	N=$VV_TMP/nginx
	mkdir -p "$N"
	user=
	((EUID != 0)) || user="user root;"
	cat >"$N/nginx.conf" <<-CONF
		$user daemon off; worker_processes 1; pid $N/pid; error_log $N/error.log;
		events { worker_connections 64; }
		http {
		  access_log $N/access.log; default_type application/octet-stream;
		  client_body_temp_path $N; proxy_temp_path $N; fastcgi_temp_path $N;
		  uwsgi_temp_path $N; scgi_temp_path $N;
		  server {
		    listen 127.0.0.1:$port ssl http2; root $PUB;
		    ssl_certificate $VV_TMP/cert.pem; ssl_certificate_key $VV_TMP/key.pem;
		  }
		}
	CONF
	vv_bg "$NGINX" -e "$N/error.log" -p "$N" -c "$N/nginx.conf"
	NGINX_PID=$VV_BG_PID
	vv_wait_for 10 test -s "$N/pid" || fail "nginx did not start: $(cat "$N/error.log")"
	VV_REMOTE_URL=https://127.0.0.1:$port/
	vv_mount --cache "$VV_TMP/c5" --cacert "$VV_TMP/cert.pem" --refresh 0
	sums "$MNT/web" >"$VV_TMP/sums.h2"
	cmp -s "$VV_TMP/sums.src" "$VV_TMP/sums.h2" ||
		fail "the env over HTTP/2 differs: $(diff "$VV_TMP/sums.src" "$VV_TMP/sums.h2" | head -5)"
	vv_umount
	kill "$NGINX_PID"
	n2=$(grep -c '"GET /objects/[^ ]* HTTP/2.0" 200 ' "$N/access.log" || true)
	n1=$(grep -c 'HTTP/1' "$N/access.log" || true)
	((n2 > 0 && n1 == 0)) || fail "objects over HTTP/2: $n2, over HTTP/1: $n1"
elif [[ ${CI:-} == true ]]; then
	fail "nginx is not installed (.ci/run installs nginx-light): the HTTP/2 case cannot run"
else
	echo "note: nginx is not installed; the HTTP/2 case is skipped" >&2
fi
VV_REMOTE_URL=$URL/

# ---- a republish is picked up by a running mount ------------------------------------------
start_server
vv_mount --cache "$CACHE" --refresh 1 --timeout 3
STORE=$SRC_STORE
unset VV_REMOTE_URL
(
	MNT=$VV_TMP/srcmnt VV_PID= VV_LOG=$VV_TMP/src.log
	vv_mount
	check mkdir "$MNT/api"
	echo 'API = 1' >"$MNT/api/apimod.py"
	echo 'a file added to web' >"$MNT/web/added.txt"
	vv_commit api web
	vv_umount
)
ID2=$(vv_ctl publish "$PUB" 2>/dev/null)
[[ $ID2 != "$ID1" ]] || fail "a new env did not change the manifest"
vv_wait_for 15 test -d "$MNT/api" || fail "the running mount did not pick up the republish"
assert_eq "$(ls "$MNT")" "api
web" "envs after the republish"
assert_eq "$(cat "$MNT/api/apimod.py")" "API = 1" "a file of the republished env"
vv_wait_for 15 test -f "$MNT/web/added.txt" || fail "web's new root did not show"
assert_eq "$(cat "$MNT/web/added.txt")" "a file added to web" "a changed env's new file"
assert_eq "$("$MNT/web/bin/demo")" "demoapp 1.0 demolib 2.0" "the changed env still runs"
vv_umount

# ---- fsck of the cache: what was not fetched is not damage; a corrupt object is ---------
out=$("$VENVCTL" --store "$CACHE" fsck) || fail "fsck of a cache: $out"
assert_contains "$out" ": 0 problems" "fsck of a cache"
[[ $out =~ "a cache of $URL"/?": "[1-9][0-9]*" objects its envs name not fetched yet" ]] ||
	fail "fsck of a cache does not count what was not fetched: $out"
L=$CACHE$(src later)
chmod u+w "$L"
printf 'file LATER of the published env\n' >"$L" # same size, other bytes
rc=0
out=$("$VENVCTL" --store "$CACHE" fsck) || rc=$?
assert_eq "$rc" 1 "fsck of a cache with a corrupt object"
assert_contains "$out" "corrupt object" "fsck of a cache with a corrupt object"
rc=0
out=$("$VENVCTL" --store "$CACHE" fsck --repair --no-bundled) || rc=$?
assert_eq "$rc" 3 "fsck --repair of a cache: the corrupt object moved aside, all repaired ($out)"
export VV_REMOTE_URL=$URL/
vv_mount --cache "$CACHE" --refresh 0
assert_eq "$(cat "$MNT/web/later.txt")" "file later of the published env" \
	"a file whose cached object was corrupt is fetched again"
vv_umount
check "$VENVCTL" --store "$CACHE" fsck -q

# ---- --pin -------------------------------------------------------------------------------
export VV_REMOTE_URL=$URL/
vv_mount --cache "$VV_TMP/pincache" --pin "$ID1"
assert_eq "$(ls "$MNT")" "web" "the pinned snapshot"
vv_umount
fail_mount --remote "$URL/" --cache "$VV_TMP/pin2" --pin "$(printf x | sha256sum | cut -c1-64)"
assert_contains "$(cat "$VV_TMP/err")" "HTTP 404" "a pin that is not published"
# a manifest whose bytes do not match the pinned id
cp "$PUB/objects/${ID2:0:2}/${ID2:2}" "$VV_TMP/m2"
rm -f "$PUB/objects/${ID1:0:2}/${ID1:2}"
cp "$VV_TMP/m2" "$PUB/objects/${ID1:0:2}/${ID1:2}"
fail_mount --remote "$URL/" --cache "$VV_TMP/pin3" --pin "$ID1"
assert_contains "$(cat "$VV_TMP/err")" "does not match its name" "a manifest not matching the pin"
fail_mount --remote "$URL/" --cache "$VV_TMP/pin4" --pin "abc"
assert_contains "$(cat "$VV_TMP/err")" "not a manifest id" "a malformed pin"

# ---- interpreters: the manifest names them; a host without one is told, or with another X.Y
M1=$(cat "$PUB/objects/${ID2:0:2}/${ID2:2}")
py=$(sed -n 's/^python = //p' "$SRC_STORE/envs/web")
ver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
assert_contains "$M1" "python $ver $py" "the manifest names the interpreter and its version"
# the same snapshot, its interpreter moved to a path this host lacks: a manifest object
# made by hand (its text with the path replaced, lengths fixed) and a HEAD naming it
python3 - "$PUB/objects/${ID2:0:2}/${ID2:2}" "$py" "/nonexistent/bin/python$ver" \
	>"$VV_TMP/m3" <<'PYEOF'
import sys
data, old, new = open(sys.argv[1], "rb").read(), sys.argv[2].encode(), sys.argv[3].encode()
out, pos = [], 0
magic = b"venvfs-manifest 1\n"
assert data.startswith(magic)
out.append(magic)
pos = len(magic)
while pos < len(data):
    nl = data.index(b"\n", pos)
    line = data[pos:nl]
    pos = nl + 1
    if line.startswith(b"python "):
        out.append(line.replace(old, new) + b"\n")
        continue
    name, ln = line[4:].rsplit(b" ", 1)
    text = data[pos:pos + int(ln)].replace(old, new)
    pos += int(ln)
    out.append(b"env %s %d\n" % (name, len(text)) + text)
sys.stdout.buffer.write(b"".join(out))
PYEOF
ID3=$(vv_sha256 "$VV_TMP/m3")
mkdir -p "$PUB/objects/${ID3:0:2}"
cp "$VV_TMP/m3" "$PUB/objects/${ID3:0:2}/${ID3:2}"
cp "$PUB/HEAD" "$VV_TMP/HEAD.saved"
printf 'venvfs-manifest %s\n' "$ID3" >"$PUB/HEAD"
vv_mount --cache "$VV_TMP/nopy" --refresh 0
assert_contains "$(cat "$VV_LOG")" "envs need Python $ver at '/nonexistent/bin/python$ver', which this host does not have" \
	"a missing interpreter is logged"
assert_eq "$(cat "$MNT/web/later.txt")" "file later of the published env" \
	"files of an env whose interpreter is missing"
vv_umount
# the same snapshot naming another version at the interpreter's path
python3 - "$PUB/objects/${ID2:0:2}/${ID2:2}" "python $ver $py" "python 3.99.0 $py" \
	>"$VV_TMP/m4" <<'PYEOF2'
import sys
data = open(sys.argv[1], "rb").read()
old, new = ("\n%s\n" % sys.argv[2]).encode(), ("\n%s\n" % sys.argv[3]).encode()
assert old in data
sys.stdout.buffer.write(data.replace(old, new, 1))
PYEOF2
ID4=$(vv_sha256 "$VV_TMP/m4")
mkdir -p "$PUB/objects/${ID4:0:2}"
cp "$VV_TMP/m4" "$PUB/objects/${ID4:0:2}/${ID4:2}"
printf 'venvfs-manifest %s\n' "$ID4" >"$PUB/HEAD"
vv_mount --cache "$VV_TMP/otherpy" --refresh 0
xy=${ver%.*}
assert_contains "$(cat "$VV_LOG")" "envs need Python 3.99.0 at '$py', which is Python $xy on this host" \
	"an interpreter of another version is logged"
vv_umount
cp "$VV_TMP/HEAD.saved" "$PUB/HEAD"

# ---- the cache bound: every file read through a 1 MiB cache ------------------------------
srcbytes=$(du -sb "$PUB/objects" | cut -f1)
((srcbytes > 4 * 1048576)) || fail "the published env is too small ($srcbytes bytes) to test the bound"
vv_mount --cache "$VV_TMP/small" --cache-size 1M --refresh 0
sums "$MNT/web" >"$VV_TMP/sums.remote"
cmp -s "$VV_TMP/sums.src" "$VV_TMP/sums.remote" ||
	fail "files read through the remote mount differ from the source env:
$(diff "$VV_TMP/sums.src" "$VV_TMP/sums.remote" | head -20 || true)"
used=$(find "$VV_TMP/small/objects" -type f -printf '%b\n' | awk '{s += $1 * 512} END {print s + 0}')
((used <= 1048576)) || fail "the cache holds $used bytes of objects over its 1 MiB bound"
out=$("$MNT/web/bin/demo")
assert_eq "$out" "demoapp 1.0 demolib 2.0" "console script after evictions"
vv_umount
# ---- a cache on a full disk: EIO and the reason, the mount stays up ----------------------
if [[ $(id -u) == 0 ]] && mkdir -p "$VV_TMP/full" && mount -t tmpfs -o size=4M tmpfs "$VV_TMP/full"; then
	vv_mount --cache "$VV_TMP/full/cache" --cache-size 1G --refresh 0
	# the files over 48 KiB (pip's 52 hold 5.5 MB; not every file: each failed batch
	# costs new connections)
	(cd "$MNT/web" && find . -type f -size +48k | sort | xargs cat) >/dev/null \
		2>"$VV_TMP/full.err" || true
	assert_contains "$(cat "$VV_TMP/full.err")" "Input/output error" "reads on a full cache disk"
	assert_contains "$(cat "$VV_LOG")" "No space left on device" "a full cache disk is logged"
	assert_contains "$(ls "$MNT/web")" "bin" "the mount answers with its cache disk full"
	vv_umount
	umount "$VV_TMP/full"
elif [[ ${CI:-} == true ]]; then
	fail "cannot mount a tmpfs for the full-disk case (CI=true)"
fi
vv_note "published $nobj objects; every file read back through HTTP matches; a 1 MiB cache \
held $used bytes after reading $srcbytes; tampered, missing, truncated and stalled bodies gave EIO"
