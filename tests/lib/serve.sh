# nib serve fixtures for tests. Source after tests/lib.sh (and users.sh
# when SERVE_AS is set).
#
#   serve_setup [COMMAND...]     root, a static busybox, docker-registry, skopeo,
#       jq and each COMMAND, the test users, a plain registry ($REG) holding
#       the busybox base as $REG/base/busybox:latest; else every case of
#       "${CASES[@]}" skipped with the reason, and the test ends
#   serve_start NAME [ARGS...]   start `nib serve` on a free loopback port with
#       the state folder $T/NAME (kept across restarts of the same NAME);
#       as user $SERVE_AS when set (through as_user), in the restricted-pod
#       simulation with the seccomp profile $SERVE_POD when that is set
#       (podsim.sh), else as the caller.
#       Sets SERVE_URL, SERVE_PID (nib's), SERVE_JOB (the shell job to wait
#       for), SERVE_STATE, SERVE_LOG (its stderr).
#       Stopped at exit.
#   serve_stop [SIGNAL]          signal the service (default TERM), wait for it;
#       sets SERVE_STATUS
#   api METHOD PATH [CURL ARGS...]  one request to the service with $TOKEN
#       (when set) as bearer token; sets $code (HTTP status) and $body
#   wait_build ID [SECONDS]      wait until build ID has ended; prints its state
#   tar_of DIR                   a tar of DIR's content on stdout
#   https_files_start DIR        serve DIR over HTTPS on loopback
#       (tests/lib/https_files.py, a certificate of its own: a service with
#       --tls-verify=false fetches from it); sets HTTPS_FILES_URL. Needs
#       registry.sh.

# serve_setup [COMMAND...]: what a service test needs (root for the test
# users, a static busybox, docker-registry, skopeo, jq and each COMMAND), a
# plain registry on loopback with the busybox base as $REG/base/busybox:latest;
# else every case of "${CASES[@]}" is skipped with the reason and the test ends.
serve_setup() {
	local c missing=""
	[ "$(id -u)" = 0 ] || missing="root"
	have_static_busybox || missing="$missing a static busybox"
	for c in docker-registry skopeo jq "$@"; do
		command -v "$c" >/dev/null || missing="$missing $c"
	done
	if [ -n "$missing" ]; then
		skip_cases "needs ${missing# }" "${CASES[@]}"
		finish
		exit
	fi
	if ! users_setup || ! registry_start plain; then
		skip_cases "the test users or the registry could not be set up" "${CASES[@]}"
		finish
		exit
	fi
	make_busybox_layout "$T/fixture" bb
	skopeo copy --quiet --dest-tls-verify=false oci:"$T/fixture":bb docker://"$REG"/base/busybox:latest
}

serve_start() { # NAME ARGS...
	local name=$1 i
	shift
	SERVE_STATE=$T/$name
	SERVE_LOG=$T/$name.log
	mkdir -p "$SERVE_STATE"
	[ -n "${SERVE_AS:-}" ] && chown "$SERVE_AS:" "$SERVE_STATE"
	: >"$T/$name.out"
	chmod 0666 "$T/$name.out"
	rm -f "$T/$name.pid"
	if [ -n "${SERVE_POD:-}" ]; then
		chown "$PODSIM_UID:$PODSIM_GID" "$SERVE_STATE" "$T/$name.out"
		PODSIM_SECCOMP=$SERVE_POD podsim "$T/bin/nib" serve --listen 127.0.0.1:0 \
			--state "$SERVE_STATE" "$@" >"$T/$name.out" 2>"$SERVE_LOG" &
		SERVE_JOB=$!
		for ((i = 0; i < 50; i++)); do
			SERVE_PID=$(pgrep -u "$PODSIM_UID" -f -- "serve --listen 127.0.0.1:0 --state $SERVE_STATE( |$)" | head -1)
			[ -n "$SERVE_PID" ] && break
			sleep 0.1
		done
	elif [ -n "${SERVE_AS:-}" ]; then
		# the shell as_user runs writes nib's own PID, then becomes nib
		: >"$T/$name.pid"
		chmod 0666 "$T/$name.pid"
		as_user "$SERVE_AS" sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$T/$name.pid" \
			"$T/bin/nib" serve --listen 127.0.0.1:0 --state "$SERVE_STATE" "$@" \
			>"$T/$name.out" 2>"$SERVE_LOG" &
		SERVE_JOB=$!
		for ((i = 0; i < 50; i++)); do
			SERVE_PID=$(cat "$T/$name.pid")
			[ -n "$SERVE_PID" ] && break
			sleep 0.1
		done
	else
		"$NIB" serve --listen 127.0.0.1:0 --state "$SERVE_STATE" "$@" \
			>"$T/$name.out" 2>"$SERVE_LOG" &
		SERVE_JOB=$!
		SERVE_PID=$SERVE_JOB
	fi
	at_exit "kill -KILL $SERVE_PID"
	for ((i = 0; i < 100; i++)); do
		SERVE_URL=$(sed -n 's|^nib serve: listening on \(http://[^ ]*\) .*|\1|p' "$T/$name.out")
		[ -n "$SERVE_URL" ] && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "nib serve did not start: $(cat "$SERVE_LOG")" >&2
	return 1
}

serve_stop() { # [SIGNAL]
	kill -"${1:-TERM}" "$SERVE_PID" 2>/dev/null
	wait "$SERVE_JOB" 2>/dev/null
	SERVE_STATUS=$?
}

api() { # METHOD PATH [CURL ARGS...]
	local m=$1 p=$2 f
	shift 2
	f=$(mktemp "$T/.api.XXXXXX")
	code=$(curl -s -o "$f" -w '%{http_code}' -X "$m" ${TOKEN:+-H "Authorization: Bearer $TOKEN"} \
		"$@" "$SERVE_URL$p")
	body=$(cat "$f")
	rm -f "$f"
}

wait_build() { # ID [SECONDS]
	local id=$1 limit=${2:-120} i s
	for ((i = 0; i < limit * 5; i++)); do
		api GET "/v1/builds/$id"
		s=$(printf '%s' "$body" | jq -r .state 2>/dev/null)
		case $s in succeeded | failed | cancelled | interrupted)
			echo "$s"
			return 0
			;;
		esac
		sleep 0.2
	done
	echo "timeout:$s"
}

tar_of() { # DIR
	tar -C "$1" --owner=0 --group=0 --numeric-owner -cf - .
}

https_files_start() { # DIR
	local port i
	mkdir -p "$T/https-files-tls"
	_reg_tls_material "$T/https-files-tls" || return 1
	port=$(free_port)
	python3 "$NIB_SRC/tests/lib/https_files.py" "$port" "$1" "$T/https-files-tls/server.pem" \
		"$T/https-files-tls/server.key" >"$T/https-files.log" 2>&1 &
	at_exit "kill $!"
	for ((i = 0; i < 50; i++)); do
		grep -q listening "$T/https-files.log" && break
		sleep 0.1
	done
	HTTPS_FILES_URL=https://127.0.0.1:$port
	curl -skf -o /dev/null "$HTTPS_FILES_URL/"
}
