#!/bin/bash
# nib serve's web page in a real browser: Debian's headless chromium driven
# over the DevTools protocol (tests/lib/browser.py). A Containerfile pasted
# and a context uploaded through the page build; the queue, the live log,
# the digest and the pull command show; a running build is cancelled from
# the page; screenshots at desktop and phone widths are checked (size,
# colours, no sideways scrolling) along with the page's accessible names.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/serve.sh"

CASES=("the page is served with its form, queue and log, every control labelled"
	"a pasted Containerfile builds; its log, digest and pull command show"
	"an uploaded context builds and its running build is cancelled from the page"
	"at a phone's width nothing scrolls sideways and the screenshot is the page"
	"a wrong token is shown as the service's message")

if ! command -v chromium >/dev/null || ! command -v docker-registry >/dev/null ||
	[ ! -x /bin/busybox ] || ! command -v jq >/dev/null; then
	skip_cases "needs chromium, docker-registry, busybox and jq" "${CASES[@]}"
	finish
	exit
fi
registry_start plain || {
	skip_cases "the registry did not start" "${CASES[@]}"
	finish
	exit
}
serve_start web --tls-verify=false --build-timeout 120 || {
	skip_cases "nib serve did not start" "${CASES[@]}"
	finish
	exit
}

browse() { # NAME STEPS-JSON: run the steps; $out is the result object
	printf '%s' "$2" >"$T/$1.json"
	run timeout 180 python3 "$NIB_SRC/tests/lib/browser.py" "$SERVE_URL" "$T" "$T/$1.json"
	[ "$status" = 0 ] || fail "browser: $out $err"
}
q() { printf '%s' "$out" | jq -r "$1"; }

t "the page is served with its form, queue and log, every control labelled"
run curl -si "$SERVE_URL/"
assert_match "$out" '^Content-Type: text/html; charset=utf-8'
browse labels '[{"viewport":[1280,900]},{"goto":"/"},
 {"eval":"[...document.querySelectorAll(\"input,textarea,select\")].filter(e => !(e.labels && e.labels.length)).map(e => e.id)","name":"unlabelled"},
 {"eval":"[...document.querySelectorAll(\"button\")].filter(b => !(b.textContent.trim() || b.getAttribute(\"aria-label\"))).length","name":"nameless_buttons"},
 {"eval":"document.documentElement.lang","name":"lang"},
 {"eval":"!!document.querySelector(\"main\") && !!document.querySelector(\"header h1\") && !!document.querySelector(\"#message[aria-live]\")","name":"landmarks"}]'
assert_eq "$(q '.unlabelled | length')" 0 "$(q .unlabelled)"
assert_eq "$(q .nameless_buttons)" 0
assert_eq "$(q .lang)" en
assert_eq "$(q .landmarks)" true

t "a pasted Containerfile builds; its log, digest and pull command show"
browse paste '[{"viewport":[1280,900]},{"goto":"/"},
 {"fill":"#containerfile","value":"FROM scratch\nLABEL made.by=web-page\n"},
 {"fill":"#tags","value":"'"$REG"'/web/app:1"},
 {"click":"#submit"},
 {"wait":"(document.querySelector(\"#d-state\")||{}).textContent === \"succeeded\"","timeout":60},
 {"wait":"document.querySelector(\"#log\").textContent.includes(\"succeeded\")","timeout":20},
 {"eval":"document.querySelector(\"#d-digest\").textContent","name":"digest"},
 {"eval":"document.querySelector(\"#d-pull\").textContent","name":"pull"},
 {"eval":"document.querySelector(\"#log\").textContent","name":"log"},
 {"eval":"document.querySelector(\"#builds\").textContent","name":"queue"},
 {"eval":"location.hash","name":"hash"},
 {"shot":"desktop"}]'
digest=$(q .digest)
assert_match "$digest" '^sha256:[0-9a-f]{64}$'
assert_eq "$(q .pull)" "podman pull $REG/web/app@$digest"
assert_match "$(q .log)" 'STEP 2/2: LABEL made.by=web-page'
id=$(q .hash | sed 's/^#build=//')
assert_match "$(q .queue)" "${id:0:12}succeeded"
api GET "/v1/builds/$id"
assert_eq "$(echo "$body" | jq -r .digest)" "$digest"
assert_eq "$(q .shots.desktop.width)x$(q .shots.desktop.height)" 1280x900
assert_eq "$(($(q .shots.desktop.colours) > 50))" 1 "a page, not a blank: $(q .shots.desktop.colours) colours"
assert_eq "$(q '.shots.desktop.top_share < 0.95')" true

t "an uploaded context builds and its running build is cancelled from the page"
mkdir -p "$T/upctx"
cp /bin/busybox "$T/upctx/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "echo started-from-upload; sleep 60"]\n' >"$T/upctx/Containerfile"
tar -C "$T/upctx" -czf "$T/upctx.tar.gz" .
browse upload '[{"viewport":[1280,900]},{"goto":"/"},
 {"fill":"#containerfile","value":""},
 {"upload":"#context","file":"'"$T/upctx.tar.gz"'"},
 {"click":"#submit"},
 {"wait":"document.querySelector(\"#log\").textContent.includes(\"started-from-upload\")","timeout":60},
 {"eval":"document.querySelector(\"#cancel\").disabled","name":"cancel_disabled_while_running"},
 {"click":"#cancel"},
 {"wait":"(document.querySelector(\"#d-state\")||{}).textContent === \"cancelled\"","timeout":30},
 {"eval":"document.querySelector(\"#cancel\").disabled","name":"cancel_disabled_after"},
 {"eval":"location.hash","name":"hash"}]'
assert_eq "$(q .cancel_disabled_while_running)" false
assert_eq "$(q .cancel_disabled_after)" true
id=$(q .hash | sed 's/^#build=//')
api GET "/v1/builds/$id"
assert_eq "$(echo "$body" | jq -r .state)" cancelled

t "at a phone's width nothing scrolls sideways and the screenshot is the page"
browse phone '[{"viewport":[390,844],"mobile":true},{"goto":"/#build='"$id"'"},
 {"wait":"(document.querySelector(\"#d-state\")||{}).textContent === \"cancelled\"","timeout":20},
 {"eval":"document.documentElement.scrollWidth","name":"scroll_width"},
 {"eval":"getComputedStyle(document.querySelector(\"main\")).gridTemplateColumns.split(\" \").length","name":"columns"},
 {"eval":"document.querySelector(\"#submit\").getBoundingClientRect().height","name":"button_height"},
 {"shot":"phone"}]'
assert_eq "$(q .scroll_width)" 390
assert_eq "$(q .columns)" 1
assert_eq "$(q '.button_height >= 44')" true "touch targets of 44 px"
assert_eq "$(q .shots.phone.width)x$(q .shots.phone.height)" 390x844
assert_eq "$(($(q .shots.phone.colours) > 50))" 1

t "a wrong token is shown as the service's message"
serve_stop TERM
printf '{"tenants":[{"name":"w","token":"web-token-0123456789ab","prefixes":["x"]}]}\n' >"$T/tenants.json"
serve_start web2 --tenants "$T/tenants.json" || fail "nib serve did not start"
browse token '[{"viewport":[1280,900]},{"goto":"/"},
 {"wait":"document.querySelector(\"#message\").textContent !== \"\"","timeout":20},
 {"eval":"document.querySelector(\"#message\").textContent","name":"message0"},
 {"fill":"#token","value":"wrong-token"},
 {"wait":"document.querySelector(\"#message\").textContent === \"unknown token\"","timeout":20},
 {"eval":"document.querySelector(\"#message\").textContent","name":"message"},
 {"fill":"#token","value":"web-token-0123456789ab"},
 {"click":"#submit"},
 {"wait":"/queued|may not/.test(document.querySelector(\"#message\").textContent)","timeout":20},
 {"eval":"document.querySelector(\"#message\").textContent","name":"message2"}]'
assert_match "$(q .message0)" '^a bearer token is needed'
assert_eq "$(q .message)" "unknown token"
assert_match "$(q .message2)" '^Build [0-9a-f]{12} queued\.$'

serve_stop TERM
finish
