#!/bin/bash
# corpus.sh - real packages: requests and its dependencies, repacked into wheels from an
# interpreter's installed packages by tests/wheelcorpus.py, installed with pip into an env
# made by mkdir, imported, then uninstalled. Under CI=true a missing interpreter with
# requests is a failure, else a skip.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tool=$VV_LIB_DIR/../wheelcorpus.py
missing() {
	if [[ ${CI:-} == true ]]; then fail "$*"; else skip "$*"; fi
}

# an interpreter that has requests installed (the corpus repacks what is installed)
py=$(vv_python_with requests)
[[ -n $py ]] || missing "no interpreter with requests installed from a wheel to repack"

W=$VV_TMP/corpus
check "$py" "$tool" "$W" requests >/dev/null
mkdir -p "$XDG_CONFIG_HOME/venvfs"
printf '[venvfs]\npython = %s\n' "$py" >"$XDG_CONFIG_HOME/venvfs/venvfs.ini"

vv_mount
check mkdir "$MNT/web"
E=$MNT/web
check "$E/bin/pip" install -q --no-index --find-links "$W" requests
out=$("$E/bin/python" -c 'import requests, urllib3, idna, certifi, charset_normalizer
print(requests.__file__)')
assert_contains "$out" "$E/lib/" "requests imports from the env"
frozen=$("$E/bin/pip" freeze)
for p in requests urllib3 idna certifi charset-normalizer; do
	assert_contains "${frozen,,}" "${p}==" "pip freeze lists $p"
done
check "$E/bin/pip" uninstall -q -y requests urllib3 idna certifi charset-normalizer
check_fail "$E/bin/python" -c 'import requests' 2>/dev/null
site=$("$E/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for d in requests urllib3 idna certifi charset_normalizer; do
	assert_missing "$site/$d"
done
vv_umount
vv_mount
check "$E/bin/pip" --version >/dev/null
check_fail "$E/bin/python" -c 'import requests' 2>/dev/null
vv_umount
check "$VENVCTL" --store "$STORE" fsck >/dev/null
