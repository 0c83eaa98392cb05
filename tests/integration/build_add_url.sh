#!/bin/bash
# ADD <url> over HTTPS: a redirect to plain HTTP is refused. The HTTPS server
# is the fault proxy with TLS (tests/lib/fault_proxy.py) in front of
# python3's http.server; nib trusts its CA through SSL_CERT_FILE, as Go
# programs do. As root, as a user without a subuid range and in the
# restricted-pod simulation.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES=(root nibplain pod)
CASES=("ADD https:// downloads" "ADD https:// redirected to plain HTTP is refused")
names() { for m in "${MODES[@]}"; do for c in "${CASES[@]}"; do echo "$m: $c"; done; done; }
if ! command -v python3 >/dev/null || ! command -v openssl >/dev/null || ! command -v jq >/dev/null ||
	! users_setup || ! podsim_available; then
	mapfile -t all < <(names)
	skip_cases "needs root, setpriv, unshare, python3, openssl and jq" "${all[@]}"
	finish
	exit
fi

# a plain web server, and the HTTPS proxy in front of it
W=$T/www
mkdir -p "$W/files" "$T/tls"
echo payload >"$W/files/data.txt"
echo plain-body >"$W/files/redir.txt"
WPORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$W" "$WPORT" >/dev/null 2>&1 &
at_exit "kill $!"
_reg_wait "http://127.0.0.1:$WPORT/files/data.txt" || fail "web server"
_reg_tls_material "$T/tls" || fail "TLS material"
chmod -R a+rX "$T/tls"
PROXY_TLS_CERT=$T/tls/server.pem PROXY_TLS_KEY=$T/tls/server.key proxy_start "127.0.0.1:$WPORT" ||
	fail "TLS proxy"
printf 'GET /files/redir redirect-to http://127.0.0.1:%s\n' "$WPORT" >"$PROXY_DIR/rules"
H=https://$PROXY

nib_as() { # ARGS...
	case $mode in
	root) run env SSL_CERT_FILE="$T/tls/ca.pem" timeout 120 "$NIB" "$@" ;;
	nibplain) run as_user nibplain env SSL_CERT_FILE="$T/tls/ca.pem" timeout 120 "$T/bin/nib" "$@" ;;
	pod) run podsim env SSL_CERT_FILE="$T/tls/ca.pem" timeout 120 "$T/bin/nib" "$@" ;;
	esac
}

ctx() { # NAME LINE...: a context with a Containerfile of these lines
	local c=$T/ctx-$mode-$1
	shift
	mkdir -p "$c"
	{
		echo "FROM scratch"
		printf '%s\n' "$@"
	} >"$c/Containerfile"
	chmod -R a+rwX "$c"
	echo "$c"
}

for mode in "${MODES[@]}"; do
	case $mode in
	root) S=$T/store-root ;;
	nibplain) S=$(user_dir nibplain store-plain) ;;
	pod) S=$(podsim_dir store-pod) ;;
	esac

	t "$mode: ${CASES[0]}"
	c=$(ctx ok "ADD $H/files/data.txt /data.txt")
	nib_as --root "$S" build -q -o "type=local,dest=$c/out" -t "localhost/add-$mode" "$c"
	assert_status 0
	assert_eq "$(cat "$c/out/data.txt" 2>/dev/null)" payload

	t "$mode: ${CASES[1]}"
	c=$(ctx redir "ADD $H/files/redir.txt /redir.txt")
	: >"$PROXY_DIR/log"
	nib_as --root "$S" build -q -t "localhost/redir-$mode" "$c"
	assert_status 1
	assert_match "$err" "ADD $H/files/redir.txt: redirect from HTTPS to plain HTTP \\(127\\.0\\.0\\.1:$WPORT\\) refused"
	assert_match "$(cat "$PROXY_DIR/log")" "GET /files/redir.txt"
	nib_as --root "$S" inspect "localhost/redir-$mode"
	assert_status 1
done
finish
