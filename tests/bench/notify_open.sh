#!/bin/bash
# What honouring recorded owners and modes in open(2) would cost a
# single-UID RUN step: openat plainly, trapped by seccomp user notification
# (answered CONTINUE), and with the path and the ownership record read by
# the supervisor (tests/helpers/nib-notify-bench.c). docs/security.md cites
# the figures.
#
#   tests/bench/notify_open.sh [N]
set -eu
B=${NIB_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
"$B/tests/helpers/nib-notify-bench" "${1:-100000}"
