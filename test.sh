#!/usr/bin/env bash
# test.sh — the one command that runs every test of CachedHttp.
#
#   ./test.sh                      build (Release) and run all test projects
#   ./test.sh --filter Name~Redis  extra arguments go to `dotnet test`
#
# Steps:
#   1. ./ci/servers.sh start: Redis (6390), a 3-node Redis Cluster (7101-7103)
#      and dynalite (4567), then load the CACHEDHTTP_* variables from its env
#      file. If a server cannot be started: with CI=true this fails; otherwise
#      a warning is printed and tests that need that server report Ignored.
#   2. dotnet build CachedHttp.sln -c Release
#   3. dotnet test --no-build with a TRX logger into $CACHEDHTTP_TEST_RESULTS
#      (default ./TestResults, emptied first).
#   4. Add up every .trx (ci/trx-totals.sh) and print, as the very last line:
#        N passed, N failed, N skipped
#
# Exit status: non-zero when the build or `dotnet test` failed, when any test
# failed, or when no test was executed at all.
#
# Environment:
#   CI=true                   a server that cannot start is an error
#   CACHEDHTTP_TEST_RESULTS   where the .trx files go (default ./TestResults)
#   CACHEDHTTP_SERVERS_DIR    servers' data, logs and env file
#                             (default /tmp/cachedhttp-servers)
#   CACHEDHTTP_KEEP_SERVERS   if set, servers this script started keep running
#                             afterwards (servers that were already running
#                             before it are never stopped)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

RESULTS="${CACHEDHTTP_TEST_RESULTS:-./TestResults}"
export CACHEDHTTP_SERVERS_DIR="${CACHEDHTTP_SERVERS_DIR:-/tmp/cachedhttp-servers}"
ENV_FILE="$CACHEDHTTP_SERVERS_DIR/env"

say() { echo "test.sh: $*"; }

# ---- results directory (emptied first) -------------------------------------
if [[ -z "$RESULTS" || "$RESULTS" == "/" ]]; then
  say "refusing to use '$RESULTS' as the results directory"
  exit 2
fi
rm -rf -- "$RESULTS"
mkdir -p -- "$RESULTS"

# ---- servers ---------------------------------------------------------------
# Stop the servers at the end only if this script started them (and
# CACHEDHTTP_KEEP_SERVERS is unset). Runs before the totals line is printed,
# and again from the EXIT trap (a no-op by then) for early exits.
started_servers=0
stop_servers() {
  if ((started_servers)) && [[ -z "${CACHEDHTTP_KEEP_SERVERS:-}" ]]; then
    started_servers=0
    bash ci/servers.sh stop >>"$RESULTS/servers-stop.log" 2>&1 || true
  fi
}
trap stop_servers EXIT

if bash ci/servers.sh status >/dev/null 2>&1; then
  say "reusing the test servers that are already running"
else
  started_servers=1
fi
if ! bash ci/servers.sh start; then
  if [[ "${CI:-}" == "true" ]]; then
    say "error: the test servers could not be started (see above); failing because CI=true"
    exit 1
  fi
  say "warning: some test servers could not be started (see above);"
  say "warning: the tests that need them will be reported as Ignored (skipped)"
fi
if [[ -f "$ENV_FILE" ]]; then
  set -a
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  set +a
fi

# ---- build -----------------------------------------------------------------
build_rc=0
dotnet build CachedHttp.sln -c Release || build_rc=$?
if ((build_rc != 0)); then
  say "error: dotnet build failed (exit $build_rc)"
  exit "$build_rc"
fi

# ---- test ------------------------------------------------------------------
test_rc=0
dotnet test CachedHttp.sln -c Release --no-build --logger "trx" --results-directory "$RESULTS" "$@" \
  || test_rc=$?

# ---- totals ----------------------------------------------------------------
TRX_EXECUTED=0 TRX_PASSED=0 TRX_FAILED=0 TRX_SKIPPED=0
eval "$(bash ci/trx-totals.sh --shell "$RESULTS")"

stop_servers

status=0
if ((test_rc != 0)); then
  say "dotnet test exited with status $test_rc"
  status=$test_rc
fi
if ((TRX_FAILED > 0 && status == 0)); then
  status=1
fi
if ((TRX_EXECUTED == 0)); then
  echo "no tests were executed"
  ((status != 0)) || status=1
fi
echo "$TRX_PASSED passed, $TRX_FAILED failed, $TRX_SKIPPED skipped"
exit "$status"
