#!/bin/bash
# nib serve's figures (issue 15): idle RSS, submit-to-first-step, 8
# concurrent 20-step builds against one, 200 status polls/s while builds
# run (p99), 10 log followers on one build. Everything on loopback; run as
# root from the checkout after `make`:
#
#   tests/bench/serve.sh [BUILDS=8] [POLL_SECONDS=5]
#
# The 20-step Containerfile: FROM scratch, COPY of a static busybox, then
# RUN, ENV and COPY steps (no cache: every step runs). Eight tenants, so
# that the eight builds may run at once (one build per tenant's store).
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NIB=${NIB:-$SRC/build/nib}
N=${1:-8}
POLL_SECONDS=${2:-5}
W=$(mktemp -d /tmp/nib-bench-serve.XXXXXX)
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$W"' EXIT

tenants='{"tenants":['
for ((i = 0; i < N; i++)); do
	tenants+="$([ $i -gt 0 ] && echo ,){\"name\":\"t$i\",\"token\":\"bench-token-$i-0123456789\",\"prefixes\":[\"bench.example/t$i\"]}"
done
echo "$tenants]}" >"$W/tenants.json"
"$NIB" serve --listen 127.0.0.1:0 --state "$W/state" --tenants "$W/tenants.json" --max-builds "$N" \
	>"$W/out" 2>"$W/err" &
PID=$!
for ((i = 0; i < 50; i++)); do
	URL=$(sed -n 's|^nib serve: listening on \(http://[^ ]*\) .*|\1|p' "$W/out")
	[ -n "$URL" ] && break
	sleep 0.1
done
[ -n "$URL" ] || { echo "nib serve did not start: $(cat "$W/err")"; exit 1; }

mkdir -p "$W/ctx"
cp /bin/busybox "$W/ctx/busybox"
{
	echo "FROM scratch"
	echo "COPY busybox /bin/busybox"
	for ((s = 3; s <= 20; s++)); do
		case $((s % 3)) in
		0) echo "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo step $s > /f$s\"]" ;;
		1) echo "ENV STEP$s=$s" ;;
		2) echo "COPY Containerfile /c$s" ;;
		esac
	done
} >"$W/ctx/Containerfile"
tar -C "$W/ctx" -cf "$W/ctx.tar" .

submit() { # TENANT -> build ID
	curl -s -H "Authorization: Bearer bench-token-$1-0123456789" -H 'Content-Type: application/x-tar' \
		-H 'Nib-Build-Spec: {"noCache":true}' --data-binary @"$W/ctx.tar" "$URL/v1/builds" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
wait_done() { # TENANT ID
	curl -s -N -H "Authorization: Bearer bench-token-$1-0123456789" "$URL/v1/builds/$2/log?follow=true" >/dev/null
}
get() { # TENANT ID
	curl -s -H "Authorization: Bearer bench-token-$1-0123456789" "$URL/v1/builds/$2"
}
rss() { awk '/^VmRSS/ { print $2 / 1024 }' "/proc/$PID/status"; }

sleep 0.5
echo "idle RSS after start:           $(rss) MB"

# warm every tenant's store (its first build makes it), so that one build
# and the eight are compared like for like; then submit-to-first-step
for ((i = 0; i < N; i++)); do ids[$i]=$(submit "$i"); done
for ((i = 0; i < N; i++)); do wait_done "$i" "${ids[$i]}"; done
id=$(submit 0)
wait_done 0 "$id"
first=$(curl -s -H "Authorization: Bearer bench-token-0-0123456789" "$URL/v1/builds/$id/log?format=json" |
	python3 -c 'import sys,json
for l in sys.stdin:
    e = json.loads(l)
    if e.get("event") == "step_start": print(e["time"]); break')
created=$(get 0 "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["created"])')
python3 - "$created" "$first" <<'PY'
import sys, datetime
f = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
print("submit to first step:          %.1f ms" % ((f(sys.argv[2]) - f(sys.argv[1])).total_seconds() * 1000))
PY
state=$(get 0 "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
[ "$state" = succeeded ] || echo "the build $id $state: $(get 0 "$id")"

t0=$(date +%s.%N)
id=$(submit 0)
wait_done 0 "$id"
one=$(echo "$(date +%s.%N) - $t0" | bc)
printf 'one 20-step build:             %.2f s\n' "$one"

t0=$(date +%s.%N)
# eight clients submit at once, as eight developers would
ids=()
for ((i = 0; i < N; i++)); do submit "$i" >"$W/id$i" & done
wait $(jobs -p | grep -vx "$PID")
for ((i = 0; i < N; i++)); do ids+=("$(cat "$W/id$i")"); done
# 200 status polls a second while they run
python3 - "$URL" "${ids[0]}" "$POLL_SECONDS" >"$W/polls" <<'PY' &
import http.client, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1]); bid = sys.argv[2]; secs = float(sys.argv[3])
c = http.client.HTTPConnection(u.hostname, u.port)
lat = []; start = time.time(); n = 0
while time.time() - start < secs:
    t = time.time()
    c.request("GET", "/v1/builds/" + bid, headers={"Authorization": "Bearer bench-token-0-0123456789"})
    r = c.getresponse(); r.read()
    assert r.status == 200
    lat.append((time.time() - t) * 1000); n += 1
    nxt = start + n / 200.0
    if nxt > time.time(): time.sleep(nxt - time.time())
lat.sort()
print("status polls:                  %d in %.1f s (%.0f/s), p50 %.2f ms, p99 %.2f ms" % (
    n, time.time() - start, n / (time.time() - start), lat[len(lat) // 2], lat[int(len(lat) * 0.99)]))
PY
POLLER=$!
waiters=()
for ((i = 0; i < N; i++)); do
	wait_done "$i" "${ids[$i]}" &
	waiters+=($!)
done
wait "${waiters[@]}"
all=$(echo "$(date +%s.%N) - $t0" | bc)
wait $POLLER
printf '%d concurrent 20-step builds:  %.2f s (%.2f x one)\n' "$N" "$all" "$(echo "$all / $one" | bc -l)"
ok=0
for ((i = 0; i < N; i++)); do
	s=$(get "$i" "${ids[$i]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
	[ "$s" = succeeded ] && ok=$((ok + 1))
done
echo "  succeeded: $ok of $N"
cat "$W/polls"

# 10 followers on one build
id=$(submit 1)
t0=$(date +%s.%N)
followers=()
for ((f = 0; f < 10; f++)); do
	curl -s -N -H "Authorization: Bearer bench-token-1-0123456789" "$URL/v1/builds/$id/log?follow=true" >"$W/follow$f" &
	followers+=($!)
done
wait "${followers[@]}"
fl=$(echo "$(date +%s.%N) - $t0" | bc)
same=$(md5sum "$W"/follow* | awk '{print $1}' | sort -u | wc -l)
printf '10 log followers on one build: %.2f s, %d distinct copies of the log (%d lines)\n' "$fl" "$same" "$(wc -l <"$W/follow0")"
echo "RSS after the runs:            $(rss) MB"
