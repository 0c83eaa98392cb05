#!/bin/bash
# ADD <url> over HTTPS: a redirect to plain HTTP is refused; credentials in
# the URL (https://user:pass@host/x) are sent to that origin only and appear
# nowhere nib writes (output, messages, history, the store); the download
# takes the build's registry options: --tls-verify=false, --cert-dir, and
# --retry / --retry-delay for 5xx answers; each URL is downloaded once (its
# digest for the key and the copy from one download). The HTTPS server
# is the fault proxy with TLS (tests/lib/fault_proxy.py) in front of
# python3's http.server; nib trusts its CA through SSL_CERT_FILE, as Go
# programs do. As root, as a user without a subuid range and in the
# restricted-pod simulation.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES=(root nibplain pod)
CASES=("ADD https:// downloads" "ADD https:// redirected to plain HTTP is refused"
	"ADD https://user:pass@ uses them and writes them nowhere"
	"ADD https:// with the build's --tls-verify=false and --cert-dir"
	"ADD https:// retries a 503 as --retry says")
names() { for m in "${MODES[@]}"; do for c in "${CASES[@]}"; do echo "$m: $c"; done; done; }
if ! command -v python3 >/dev/null || ! command -v openssl >/dev/null || ! command -v jq >/dev/null ||
	! users_setup || ! podsim_available; then
	mapfile -t all < <(names)
	skip_cases "needs root, setpriv, unshare, python3, openssl and jq" "${all[@]}"
	finish
	exit
fi

# a plain web server (/v2/ answers 200 for proxy_start's wait), and the
# HTTPS proxy in front of it
W=$T/www
mkdir -p "$W/files" "$W/v2" "$T/tls"
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
printf 'GET ^/files/redir redirect-to http://127.0.0.1:%s\nGET ^/files/cross redirect-to https://localhost:%s/r\n' \
	"$WPORT" "${PROXY##*:}" >"$PROXY_DIR/rules"
mkdir -p "$T/certs"
cp "$T/tls/ca.pem" "$T/certs/ca.crt"
chmod -R a+rX "$T/certs"
echo cross-origin >"$W/files/cross.txt"
CRED_USER=addsecretuser CRED_PASS='AddS3cretPW'
H=https://$PROXY

# nib_as without SSL_CERT_FILE: the CA only through nib's own options
nib_nocert() { # ARGS...
	case $mode in
	root) run timeout 120 "$NIB" "$@" ;;
	nibplain) run as_user nibplain timeout 120 "$T/bin/nib" "$@" ;;
	pod) run podsim timeout 120 "$T/bin/nib" "$@" ;;
	esac
}

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
	: >"$PROXY_DIR/log"
	nib_as --root "$S" build -q -o "type=local,dest=$c/out" -t "localhost/add-$mode" "$c"
	assert_status 0
	assert_eq "$(cat "$c/out/data.txt" 2>/dev/null)" payload
	# the download the key's digest is taken from is the one copied
	assert_eq "$(grep -c 'GET /files/data.txt' "$PROXY_DIR/log")" 1 "downloads"

	t "$mode: ${CASES[1]}"
	c=$(ctx redir "ADD $H/files/redir.txt /redir.txt")
	: >"$PROXY_DIR/log"
	nib_as --root "$S" build -q -t "localhost/redir-$mode" "$c"
	assert_status 1
	assert_match "$err" "ADD $H/files/redir.txt: redirect from HTTPS to plain HTTP \\(127\\.0\\.0\\.1:$WPORT\\) refused"
	assert_match "$(cat "$PROXY_DIR/log")" "GET /files/redir.txt"
	nib_as --root "$S" inspect "localhost/redir-$mode"
	assert_status 1

	t "$mode: ${CASES[2]}"
	U=https://$CRED_USER:$CRED_PASS@$PROXY
	c=$(ctx creds "ADD $U/files/data.txt /data.txt" "ADD $U/files/cross.txt /cross.txt")
	: >"$PROXY_DIR/log"
	nib_as --root "$S" --log-level debug build -o "type=local,dest=$c/out" -t "localhost/creds-$mode" "$c"
	assert_status 0
	assert_eq "$(cat "$c/out/data.txt" 2>/dev/null)" payload
	assert_eq "$(cat "$c/out/cross.txt" 2>/dev/null)" cross-origin
	log=$(cat "$PROXY_DIR/log")
	assert_match "$log" "GET /files/data.txt auth=yes" "the credentials were not used"
	assert_match "$log" "GET /r/files/cross.txt auth=no" "credentials went to another origin"
	assert_no_match "$out$err" "$CRED_USER|$CRED_PASS"
	assert_match "$out" "STEP 2/3: ADD https://$PROXY/files/data.txt /data.txt"
	nib_as --root "$S" --log-format json build -t "localhost/creds-$mode" "$c"
	assert_status 0
	assert_no_match "$out$err" "$CRED_USER|$CRED_PASS"
	nib_as --root "$S" inspect --json "localhost/creds-$mode"
	assert_no_match "$out" "$CRED_USER|$CRED_PASS"
	assert_match "$(jq -r '.Config.history[].created_by' <<<"$out")" "^ADD https://$PROXY/files/data.txt /data.txt # buildkit"
	assert_eq "$(grep -rlaE "$CRED_USER|$CRED_PASS" "$S" 2>/dev/null | head -n 3)" "" "the store holds them"
	c=$(ctx creds-missing "ADD $U/files/missing /m")
	nib_as --root "$S" build -q "$c"
	assert_status 1
	assert_match "$err" "ADD https://$PROXY/files/missing: HTTP status 404"
	assert_no_match "$err" "$CRED_USER|$CRED_PASS"
	c=$(ctx creds-syntax "ADD --chmod=bad $U/files/data.txt /d")
	nib_as --root "$S" build -q "$c"
	[ "$status" != 0 ] || fail "a bad --chmod was accepted"
	assert_no_match "$err" "$CRED_USER|$CRED_PASS"

	t "$mode: ${CASES[3]}"
	c=$(ctx tls "ADD $H/files/data.txt /data.txt")
	nib_nocert --root "$S" build -q --no-cache "$c"
	assert_status 1
	assert_match "$err" "ADD $H/files/data.txt: .*(certificate|SSL)"
	nib_nocert --root "$S" build -q --no-cache --tls-verify=false -o "type=local,dest=$c/out1" "$c"
	assert_status 0
	assert_eq "$(cat "$c/out1/data.txt" 2>/dev/null)" payload
	nib_nocert --root "$S" build -q --no-cache --cert-dir "$T/certs" -o "type=local,dest=$c/out2" "$c"
	assert_status 0
	assert_eq "$(cat "$c/out2/data.txt" 2>/dev/null)" payload

	t "$mode: ${CASES[4]}"
	c=$(ctx retry "ADD $H/files/data.txt /data.txt")
	# two 503 answers (rule: status CODE RETRY-AFTER TIMES, counted per
	# rule text: each mode and build writes its own, RETRY-AFTER, which
	# nib's downloads do not read, tells them apart)
	ra=$((${#mode} * 10))
	printf 'GET ^/files/data status 503 %s 2\n' "$ra" >"$PROXY_DIR/rules"
	nib_as --root "$S" build -q --no-cache --retry 1 --retry-delay 10ms "$c"
	assert_status 1
	assert_match "$err" "ADD $H/files/data.txt: HTTP status 503"
	printf 'GET ^/files/data status 503 %s 2\n' "$((ra + 1))" >"$PROXY_DIR/rules"
	: >"$PROXY_DIR/log"
	nib_as --root "$S" build -q --no-cache --retry 2 --retry-delay 10ms -o "type=local,dest=$c/out" "$c"
	assert_status 0
	assert_eq "$(cat "$c/out/data.txt" 2>/dev/null)" payload
	# two 503s and the download (the key's digest and the copy's)
	assert_eq "$(grep -c 'GET /files/data.txt' "$PROXY_DIR/log")" 3 "two retries"
	printf 'GET ^/files/redir redirect-to http://127.0.0.1:%s\nGET ^/files/cross redirect-to https://localhost:%s/r\n' \
		"$WPORT" "${PROXY##*:}" >"$PROXY_DIR/rules"
done
finish
