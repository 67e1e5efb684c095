#!/bin/sh
# The VM tier's exercise of the demo container: what trace records while it runs, and what must
# pass again under the generated profiles. Shorter than the demo's own exercise, since under
# emulation every `docker exec` costs about a second, but of the same kinds: a page served by
# httpd, and applets run by the shell reading a file.
# Usage: exercise.sh CONTAINER. With TRACE_DEMO_IMAGE set, it first starts CONTAINER from that
# image, as a test suite starts the containers it tests.
set -eu

c="$1"
if [ -n "${TRACE_DEMO_IMAGE:-}" ]; then
    docker run -d --name "$c" "$TRACE_DEMO_IMAGE" >/dev/null
fi

# httpd may still be starting: give it 50 tries.
tries=0
until page=$(docker exec "$c" wget -qO- http://127.0.0.1/ 2>/dev/null); do
    tries=$((tries + 1))
    if [ "$tries" -ge 50 ]; then
        echo "exercise: httpd in $c does not answer" >&2
        exit 1
    fi
    sleep 0.2
done
case "$page" in
*"Hello from the trace demo"*) ;;
*)
    echo "exercise: unexpected page from $c: $page" >&2
    exit 1
    ;;
esac
lines=$(docker exec "$c" sh -c 'cat /www/index.html | wc -l')
if [ "$lines" -lt 1 ]; then
    echo "exercise: /www/index.html in $c is empty" >&2
    exit 1
fi
echo "exercise: ok ($c)"
