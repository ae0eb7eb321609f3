#!/usr/bin/env bash
# ci/trx-totals.sh — add up the test counts of every *.trx file under a directory.
#
#   ci/trx-totals.sh DIR            prints: N passed, N failed, N skipped
#   ci/trx-totals.sh --shell DIR    prints shell assignments instead:
#                                   TRX_FILES= TRX_TOTAL= TRX_EXECUTED= TRX_PASSED=
#                                   TRX_FAILED= TRX_SKIPPED= (one per line, for eval)
#
# Reads the <Counters .../> element that `dotnet test --logger trx` writes, e.g.
#   <Counters total="3" executed="2" passed="1" failed="1" error="0" timeout="0"
#             aborted="0" inconclusive="0" ... notExecuted="1" ... />
# Attributes may come in any order, with either quote style, split over lines.
#   failed  = failed + error + timeout + aborted
#   skipped = notExecuted   (e.g. NUnit's Assert.Ignore / [Ignore]), but at
#             least total - executed: the VSTest TRX logger writes skipped
#             results with outcome="NotExecuted" yet leaves the notExecuted
#             counter at 0 (seen with NUnit3TestAdapter 5.2 / Test SDK 18.11:
#             total="3" executed="2" passed="1" failed="1" notExecuted="0"
#             for one pass, one fail, one Assert.Ignore).
# A missing attribute counts as 0; a .trx without <Counters> is reported on
# stderr and counts as 0. Pure bash + sed/grep/tr/find: no python needed.
set -euo pipefail

usage() {
  echo "usage: $0 [--shell] DIR" >&2
  exit 2
}

mode=line
if [[ "${1:-}" == "--shell" ]]; then mode=shell; shift; fi
[[ $# -eq 1 ]] || usage
dir=$1

# attr NAME ELEMENT: the integer value of attribute NAME in ELEMENT, or 0.
# The leading [[:space:]] keeps e.g. "executed" from matching "notExecuted".
attr() {
  local v
  v="$(sed -nE "s/.*[[:space:]]$1[[:space:]]*=[[:space:]]*[\"']([0-9]+)[\"'].*/\1/p" <<<"$2")"
  echo "${v:-0}"
}

files=0 total=0 executed=0 passed=0 failed=0 skipped=0
if [[ -d "$dir" ]]; then
  while IFS= read -r -d '' f; do
    files=$((files + 1))
    # Join lines so an element split over several lines is still one match.
    el="$(tr '\r\n\t' '   ' <"$f" | grep -o -m1 '<Counters[[:space:]][^>]*>' || true)"
    if [[ -z "$el" ]]; then
      echo "trx-totals: no <Counters> element in $f (run aborted?); counted as 0" >&2
      continue
    fi
    total=$((total + $(attr total "$el")))
    executed=$((executed + $(attr executed "$el")))
    passed=$((passed + $(attr passed "$el")))
    failed=$((failed + $(attr failed "$el") + $(attr error "$el") + $(attr timeout "$el") + $(attr aborted "$el")))
    t=$(attr total "$el") e=$(attr executed "$el") n=$(attr notExecuted "$el")
    if ((t - e > n)); then n=$((t - e)); fi
    skipped=$((skipped + n))
  done < <(find "$dir" -type f -name '*.trx' -print0 | sort -z)
else
  echo "trx-totals: no such directory: $dir" >&2
fi
if ((files == 0)); then
  echo "trx-totals: no .trx files under $dir" >&2
fi

if [[ "$mode" == shell ]]; then
  printf 'TRX_FILES=%d\nTRX_TOTAL=%d\nTRX_EXECUTED=%d\nTRX_PASSED=%d\nTRX_FAILED=%d\nTRX_SKIPPED=%d\n' \
    "$files" "$total" "$executed" "$passed" "$failed" "$skipped"
else
  echo "$passed passed, $failed failed, $skipped skipped"
fi
