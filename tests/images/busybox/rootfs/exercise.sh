#!/bin/sh
# The exercise the real-system tests run in trace-test/busybox:local (via `docker exec` while
# tracing, then as the entrypoint of a fresh container under the generated profile). Each step makes
# system calls the tests look for in the recording: uname, sync, chmod, unlink, getdents64.
# It must never call mkdir or rmdir: the tests prove those are denied afterwards.
set -e
echo hello > /tmp/greeting
test "$(cat /tmp/greeting)" = hello
chmod 600 /tmp/greeting
uname -a > /dev/null
sync
ls / > /dev/null
rm /tmp/greeting
echo exercise-ok
