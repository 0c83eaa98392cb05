#!/bin/bash
# nib serve's limits and durability, the service running as the ordinary
# user nibplain (no subuid range): build time, log size, memory (rlimit or
# cgroup), queue length; kill -9 keeps finished builds, marks the running
# one interrupted and runs the queued ones after a restart; SIGTERM drains.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/serve.sh"

CASES=("a build past its time limit fails with the reason; the service stays up"
	"a build whose log passes its limit fails with the reason"
	"a build past its memory limit fails"
	"a full queue is 429"
	"kill -9: the finished build is kept, the running one interrupted, the queued one runs"
	"SIGTERM drains: readiness and submissions are refused, the running build finishes"
	"SIGTERM past the drain timeout: the build is interrupted, queued ones wait"
	"a build fails when the state folder's disk has less free than --min-free-disk")

serve_setup
export SERVE_AS=nibplain

submit() { # CONTAINERFILE-LINES...: submit an inline Containerfile; sets $id
	local cf="FROM $REG/base/busybox:latest" l
	for l in "$@"; do cf+="\\n$l"; done
	api POST /v1/builds -H 'Content-Type: application/json' -d "{\"containerfile\":\"$cf\\n\"}"
	id=$(printf '%s' "$body" | jq -r .id)
}

wait_running() { # ID TEXT: until the build's log shows TEXT
	local i
	for ((i = 0; i < 150; i++)); do
		api GET "/v1/builds/$1/log"
		printf '%s' "$body" | grep -q -- "$2" && return 0
		sleep 0.2
	done
	return 1
}

serve_start limits --tls-verify=false --build-timeout 4 --max-log-size 64k --memory-max 256M \
	--max-builds 1 --max-queue 1 || {
	skip_cases "nib serve did not start" "${CASES[@]}"
	finish
	exit
}

t "a build past its time limit fails with the reason; the service stays up"
start=$(date +%s)
submit "RUN sleep 60"
assert_eq "$(wait_build "$id" 40)" failed
api GET "/v1/builds/$id"
assert_eq "$(echo "$body" | jq -r .error)" "the build ran longer than its limit of 4 s"
assert_eq "$(($(date +%s) - start < 25))" 1 "stopped soon after its limit"
api GET /healthz
assert_eq "$code" 200

t "a build whose log passes its limit fails with the reason"
submit "RUN i=0; while [ \$i -lt 4000 ]; do echo line \$i of a log that goes on and on; i=\$((i+1)); done"
assert_eq "$(wait_build "$id" 40)" failed
api GET "/v1/builds/$id"
assert_eq "$(echo "$body" | jq -r .error)" "the log passed its limit of 65536 bytes"
assert_eq "$(($(stat -c %s "$SERVE_STATE/builds/$id/log") < 65536 + 4096))" 1 "the log stopped at its limit"

t "a build past its memory limit fails"
submit "RUN dd if=/dev/zero of=/dev/null bs=400M count=1 && echo allocated"
assert_eq "$(wait_build "$id" 60)" failed
api GET "/v1/builds/$id/log"
assert_no_match "$body" '^allocated'
assert_match "$body" 'memory'
submit "RUN dd if=/dev/zero of=/dev/null bs=100M count=1 && echo allocated"
assert_eq "$(wait_build "$id" 60)" succeeded "100M is within the limit"

t "a full queue is 429"
submit "RUN sleep 3"
first=$id
wait_running "$first" "STEP 2/2" || fail "the first build did not start"
submit "RUN true"
assert_eq "$code" 201
second=$id
submit "RUN true"
assert_eq "$code" 429
assert_match "$body" 'the queue is full'
assert_eq "$(wait_build "$second" 60)" succeeded
serve_stop TERM

t "kill -9: the finished build is kept, the running one interrupted, the queued one runs"
serve_start dur --tls-verify=false --max-builds 1 || fail "nib serve did not start"
submit "RUN echo done"
done_id=$id
assert_eq "$(wait_build "$done_id")" succeeded
api GET "/v1/builds/$done_id"
done_digest=$(echo "$body" | jq -r .digest)
submit "RUN echo going-to-sleep; sleep 120"
run_id=$id
submit "RUN echo after-restart"
queued_id=$id
wait_running "$run_id" going-to-sleep || fail "the long build did not start"
api GET "/v1/builds/$queued_id"
assert_eq "$(echo "$body" | jq -r .state)" queued
serve_stop KILL
sleep 0.5
assert_eq "$(pgrep -u nibplain -f 'sleep 120' | wc -l)" 0 "the build's processes went with the service"
serve_start dur --tls-verify=false --max-builds 1 || fail "nib serve did not restart"
assert_match "$(cat "$SERVE_LOG")" '1 builds were running when the service stopped'
api GET "/v1/builds/$run_id"
assert_eq "$(echo "$body" | jq -r .state)" interrupted
assert_match "$(echo "$body" | jq -r .error)" 'service stopped'
api GET "/v1/builds/$done_id"
assert_eq "$(echo "$body" | jq -r .state)" succeeded
assert_eq "$(echo "$body" | jq -r .digest)" "$done_digest"
assert_eq "$(wait_build "$queued_id")" succeeded
assert_no_file "$SERVE_STATE/builds/$run_id/work"
assert_eq "$(sqlite3 "$SERVE_STATE/nib-serve.db" 'PRAGMA integrity_check')" ok

t "SIGTERM drains: readiness and submissions are refused, the running build finishes"
submit "RUN echo draining; sleep 3; echo drained"
drain_id=$id
wait_running "$drain_id" '^draining' || fail "the build did not start"
kill -TERM "$SERVE_PID"
sleep 0.5
api GET /readyz
assert_eq "$code" 503
submit "RUN true"
assert_eq "$code" 503
assert_match "$body" 'shutting down'
api GET "/v1/builds/$drain_id/log?follow=true"
assert_match "$body" '^drained$'
serve_stop TERM
assert_eq "$SERVE_STATUS" 0
serve_start dur --tls-verify=false --max-builds 1 || fail "nib serve did not restart"
api GET "/v1/builds/$drain_id"
assert_eq "$(echo "$body" | jq -r .state)" succeeded

t "SIGTERM past the drain timeout: the build is interrupted, queued ones wait"
serve_stop TERM
serve_start dur --tls-verify=false --max-builds 1 --drain-timeout 1 || fail "nib serve did not restart"
submit "RUN echo long; sleep 120"
long_id=$id
submit "RUN echo later"
later_id=$id
wait_running "$long_id" '^long' || fail "the build did not start"
start=$(date +%s)
serve_stop TERM
assert_eq "$SERVE_STATUS" 0
assert_eq "$(($(date +%s) - start < 20))" 1 "stopped within the drain timeout and the kill grace"
assert_eq "$(sqlite3 "$SERVE_STATE/nib-serve.db" "SELECT state FROM builds WHERE id='$long_id'")" interrupted
assert_eq "$(sqlite3 "$SERVE_STATE/nib-serve.db" "SELECT state FROM builds WHERE id='$later_id'")" queued

t "a build fails when the state folder's disk has less free than --min-free-disk"
serve_start disk --tls-verify=false --min-free-disk 1000000G || fail "nib serve did not start"
submit "RUN sleep 30"
assert_eq "$(wait_build "$id" 30)" failed
api GET "/v1/builds/$id"
assert_eq "$(echo "$body" | jq -r .error)" "the service's disk has less than 1073741824000000 bytes free"
serve_stop TERM

finish
