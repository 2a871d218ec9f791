#!/usr/bin/env bash
# `make test`: every phase in turn, each timed, with a table of the times at
# the end, green or red. A failed phase does not stop the later ones that do
# not need it (lint's failure still runs the tests), so one red run says all
# it can; the image's failure skips e2e. The status is the first failure's.
set -uo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
declare -a names=() times=() results=()
status=0
logs=$(mktemp -d)

phase() {
  local name=$1; shift
  local start=$SECONDS result=ok
  echo "=== $name ==="
  "$@" 2>&1 | tee "$logs/$name.log"
  if [ "${PIPESTATUS[0]}" -ne 0 ]; then
    result=FAILED
    [ "$status" -ne 0 ] || status=1
  fi
  names+=("$name"); times+=($((SECONDS - start))); results+=("$result")
  [ "$result" = ok ]
}

summary() {
  echo
  echo "=== make test: phases ==="
  local i
  for i in "${!names[@]}"; do
    printf '%-12s %6d s  %s\n' "${names[$i]}" "${times[$i]}" "${results[$i]}"
  done
  printf '%-12s %6d s\n' total "$SECONDS"
  # Free disk at the end beside the start's: a late "No space left" says how short it was.
  echo "disk free: $disk_at_start at the start, $(disk_free) at the end"
  # pytest's closing lines of every phase, added up: the run's count.
  local passed failed
  passed=$(cat "$logs"/*.log 2>/dev/null | grep -E '^=+ .* in [0-9.]+s' \
    | grep -oE '[0-9]+ passed' | awk '{n += $1} END {print n + 0}')
  failed=$(cat "$logs"/*.log 2>/dev/null | grep -E '^=+ .* in [0-9.]+s' \
    | grep -oE '[0-9]+ (failed|errors?)' | awk '{n += $1} END {print n + 0}')
  rm -rf "$logs"
  echo "tests: $passed passed, $failed failed"
}
disk_free() { df -h --output=avail "${TMPDIR:-/var/tmp}" . | tail -n +2 | xargs; }
disk_at_start=$(disk_free)
echo "disk free (\${TMPDIR:-/var/tmp}, the repo): $disk_at_start"
trap summary EXIT

phase setup "$MAKE" --no-print-directory setup || exit 1
phase dev "$MAKE" --no-print-directory dev || exit 1
image_ok=1
phase image "$MAKE" --no-print-directory image || image_ok=0
# Before the test image, so that the check's second build and the test
# image's are never on the disk at once (docs/image.md#disk-room).
if [ "$image_ok" = 1 ]; then
  phase repro "$MAKE" --no-print-directory repro-check
fi
phase image-test "$MAKE" --no-print-directory image-test || image_ok=0
phase lint "$MAKE" --no-print-directory lint
phase unit "$MAKE" --no-print-directory unit
phase integration "$MAKE" --no-print-directory integration
phase security "$MAKE" --no-print-directory security
if [ "$image_ok" = 1 ]; then
  # What is left of CI's 90 minutes (less 2 for the end, and 15 for the
  # longest test, which may start just before the budget runs out).
  export NOOS_E2E_BUDGET_S=${NOOS_E2E_BUDGET_S:-$(( (90 - 2 - 15) * 60 - SECONDS ))}
  echo "e2e: tests start within the next $NOOS_E2E_BUDGET_S s, or fail at once"
  phase e2e "$MAKE" --no-print-directory e2e
else
  names+=(e2e); times+=(0); results+=("skipped: no image")
fi
exit "$status"
