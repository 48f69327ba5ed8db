#!/usr/bin/env bash
# A guest that fails on purpose: proves that vm-run reports a failing guest.
. "$(dirname "$0")/lib.sh"
if [ -x "$MVV_HARNESS" ]; then
	exec "$MVV_HARNESS" selftest-fail
fi
echo "not ok 1 selftest_fail # failing on purpose"
echo "0 passed, 1 failed"
exit 1
