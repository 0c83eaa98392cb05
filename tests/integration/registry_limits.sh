#!/bin/bash
# Every input from a registry, a URL, a credential helper or an auth file is
# bounded in time and size, with a one-line error naming it: a token
# endpoint, manifest or blob trickling one byte a second (the stall timeout
# never fires) ends at the request's deadline (NIB_REGISTRY_TIMEOUT); a
# credential helper that never exits, or answers without end, is killed
# (NIB_CREDENTIAL_HELPER_TIMEOUT); an auth file that is a FIFO, an endless
# pipe or huge is refused (NIB_AUTHFILE_READ_TIMEOUT, 4 MiB); ADD <url>
# stops at NIB_ADD_MAX_SIZE, with or without a Content-Length; a base
# image's config.Env, config.OnBuild and config.User are bounded. Builds as
# root, as a subuid user (nibsub) and in the restricted-pod simulation.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null ||
	! have_static_busybox || ! users_setup || ! podsim_available; then
	skip_cases "needs root, setpriv, unshare, docker-registry, skopeo and a static busybox" \
		"registry and input limits"
	finish
	exit
fi

make_image "$T/img" v1 1 limits
registry_start plain || fail "docker-registry did not start"
skopeo_push "$T/img:v1" lim/img:v1
proxy_start "$REG" || fail "proxy did not start"
rules() { printf '%s\n' "$@" >"$PROXY_DIR/rules"; : >"$PROXY_DIR/log"; }
n=0
fresh() { n=$((n + 1)); R=$T/root$n; }
# run CMD, and fail unless it ended within SECONDS
timed() { # SECONDS CMD...
	local limit=$1 start end
	shift
	start=$(date +%s)
	run "$@"
	end=$(date +%s)
	[ $((end - start)) -le "$limit" ] || fail "took $((end - start)) s, more than $limit"
}

t "a manifest trickling one byte a second ends at the request's deadline"
fresh
rules "GET /manifests/ trickle 10 1"
timed 20 env NIB_REGISTRY_TIMEOUT=3 "$NIB" --root "$R" pull -q --tls-verify=false "$PROXY/lim/img:v1"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "$PROXY/lim/img:v1.*not done within 3 s \(NIB_REGISTRY_TIMEOUT=3"

t "a blob trickling one byte a second ends at the request's deadline; nothing half-stored"
fresh
rules "GET /blobs/ trickle 10"
timed 30 env NIB_REGISTRY_TIMEOUT=3 "$NIB" --root "$R" pull -q --tls-verify=false "$PROXY/lim/img:v1"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "blob sha256:[0-9a-f]+.*not done within [0-9]+ s \(NIB_REGISTRY_TIMEOUT=3, plus 1 s per 64 KiB"
assert_eq "$(ls -A "$R/blobs/sha256" 2>/dev/null | grep -c '^\.')" 0 "temp files left"

t "a token endpoint trickling one byte a second ends at the request's deadline"
registry_start token || fail "token registry"
skopeo_push "$T/img:v1" public/img:v1 --dest-creds "$REG_USER:$REG_PASS"
echo trickle >"$TOKEN_DIR/mode"
fresh
timed 20 env NIB_REGISTRY_TIMEOUT=3 "$NIB" --root "$R" pull -q --tls-verify=false "$REG/public/img:v1"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "token endpoint .*not done within 3 s"
rm -f "$TOKEN_DIR/mode"
# credentials are looked up when a registry asks for them
registry_start basic || fail "docker-registry did not start"
skopeo_push "$T/img:v1" lim/img:v1 --dest-creds "$REG_USER:$REG_PASS"

# credential helpers in a folder on PATH
HB=$T/helpers
mkdir -p "$HB"
printf '#!/bin/sh\necho $$ >"$T/pid-hang"\nexec sleep 600\n' >"$HB/docker-credential-hang"
printf '#!/bin/sh\necho $$ >"$T/pid-flood"\ncat >/dev/null\nexec yes x\n' >"$HB/docker-credential-flood"
printf '#!/bin/sh\necho $$ >"$T/pid-linger"\ncat >/dev/null\necho "{\\"Username\\":\\"u\\",\\"Secret\\":\\"p\\"}"\nexec sleep 600 >&-\n' \
	>"$HB/docker-credential-linger"
chmod 0755 "$HB"/*
for h in hang flood linger; do
	t "a credential helper that $h""s is killed within NIB_CREDENTIAL_HELPER_TIMEOUT"
	fresh
	mkdir -p "$T/cfg-$h"
	printf '{"credHelpers":{"%s":"%s"}}\n' "$REG" "$h" >"$T/cfg-$h/config.json"
	timed 20 env PATH="$HB:$PATH" T="$T" NIB_CREDENTIAL_HELPER_TIMEOUT=2 \
		"$NIB" --root "$R" pull -q --tls-verify=false --authfile "$T/cfg-$h/config.json" "$REG/lim/img:v1"
	assert_status 1
	assert_lines "$err" 1
	case $h in
	flood) assert_match "$err" "docker-credential-flood for $REG answered more than 1048576 bytes: killed" ;;
	*) assert_match "$err" "docker-credential-$h for $REG did not finish within 2 s \(NIB_CREDENTIAL_HELPER_TIMEOUT\): killed" ;;
	esac
	kill -0 "$(cat "$T/pid-$h")" 2>/dev/null && fail "docker-credential-$h still runs"
done

t "an auth file that is a FIFO nobody writes reads as empty instead of blocking"
fresh
mkfifo "$T/fifo"
timed 20 env REGISTRY_AUTH_FILE="$T/fifo" "$NIB" --root "$R" pull -q --tls-verify=false "$REG/lim/img:v1"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "$T/fifo: not a JSON object"

t "an auth file on a pipe that never ends is given up after NIB_AUTHFILE_READ_TIMEOUT"
fresh
sleep 600 >"$T/fifo" &
holder=$!
timed 20 env REGISTRY_AUTH_FILE="$T/fifo" NIB_AUTHFILE_READ_TIMEOUT=2 "$NIB" --root "$R" pull -q \
	--tls-verify=false "$REG/lim/img:v1"
kill "$holder"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "$T/fifo: not read to its end within 2 s \(NIB_AUTHFILE_READ_TIMEOUT\)"

t "a huge auth file is refused without being read"
fresh
truncate -s 5G "$T/huge.json"
timed 10 env REGISTRY_AUTH_FILE="$T/huge.json" "$NIB" --root "$R" pull -q --tls-verify=false "$REG/lim/img:v1"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "$T/huge.json is larger than 4194304 bytes"
rm -f "$T/huge.json"

# ADD <url>: a file with a Content-Length, and an endless body without one
W=$T/www
mkdir -p "$W"
head -c 3000000 /dev/zero >"$W/big"
cat >"$T/endless.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a):
        pass
    def do_GET(self):
        self.send_response(200)
        if self.path.startswith("/endless"):
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"\0" * 65536)
            except OSError:
                pass
        else:
            data = open(sys.argv[2] + self.path, "rb").read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
WPORT=$(free_port)
python3 "$T/endless.py" "$WPORT" "$W" >/dev/null 2>&1 &
at_exit "kill $!"
_reg_wait "http://127.0.0.1:$WPORT/big" || fail "web server"

# a base whose config has more ONBUILD triggers than nib takes, and one with
# a 5000-character USER
onb=$(for i in $(seq 0 1000); do echo '"RUN true"'; done | paste -sd,)
make_busybox_layout "$T/fixture-onbuild" onbuild 2 "\"OnBuild\":[$onb]"
make_busybox_layout "$T/fixture-longuser" longuser 3 "\"User\":\"$(head -c 5000 /dev/zero | tr '\0' u)\""
chmod -R a+rX "$T"/fixture-*

as_who() { # WHO ROOT CMD...
	local who=$1 root=$2
	shift 2
	case $who in
	root) NIB_ROOT=$root "$@" ;;
	podsim) NIB_ROOT=$root podsim "$@" ;;
	*) NIB_ROOT=$root as_user "$who" "$@" ;;
	esac
}

for who in root nibsub podsim; do
	case $who in
	root) S=$T/store-root ;;
	podsim) S=$(podsim_dir store-pod) ;;
	*) S=$(user_dir "$who" "store-$who") ;;
	esac
	for what in big endless; do
		t "$who: ADD <url> of a $what body stops at NIB_ADD_MAX_SIZE; nothing stored"
		c=$T/ctx-$who-$what
		mkdir -p "$c"
		printf 'FROM scratch\nADD http://127.0.0.1:%s/%s /%s\n' "$WPORT" "$what" "$what" >"$c/Containerfile"
		chmod -R a+rX "$c"
		run as_who "$who" "$S" env NIB_ADD_MAX_SIZE=1000000 timeout 60 sh -c "\"\$NIB\" build -q -t localhost/add-$what '$c'"
		assert_status 1
		assert_lines "$err" 1
		assert_match "$err" "Containerfile:2: .*ADD http://127.0.0.1:$WPORT/$what: the download is larger than 1000000 bytes \(NIB_ADD_MAX_SIZE\)"
		run as_who "$who" "$S" sh -c "\"\$NIB\" images -q"
		assert_eq "$out" "" "images in the store"
	done

	t "$who: ADD <url> below NIB_ADD_MAX_SIZE is kept whole"
	c=$T/ctx-$who-ok
	mkdir -p "$c"
	printf 'FROM scratch\nADD http://127.0.0.1:%s/big /big\n' "$WPORT" >"$c/Containerfile"
	chmod -R a+rX "$c"
	run as_who "$who" "$S" env NIB_ADD_MAX_SIZE=3000000 sh -c "\"\$NIB\" build -q -t localhost/add-ok '$c'"
	assert_status 0

	for base in onbuild longuser; do
		field=OnBuild
		[ "$base" = longuser ] && field=User
		t "$who: a base image whose config.$field passes nib's bound is refused with one line"
		c=$T/ctx-$who-$base
		mkdir -p "$c"
		printf 'FROM localhost/%s\nRUN true\n' "$base" >"$c/Containerfile"
		chmod -R a+rX "$c"
		run as_who "$who" "$S" sh -c "skopeo copy --quiet oci:'$T/fixture-$base':$base oci:'$S':localhost/$base:latest && \"\$NIB\" build -q '$c'"
		assert_status 1
		assert_lines "$err" 1
		case $base in
		onbuild) assert_match "$err" "config.OnBuild: 1001 entries, more than 1000" ;;
		longuser) assert_match "$err" "config.User: more than 4096 bytes" ;;
		esac
	done
done

finish
