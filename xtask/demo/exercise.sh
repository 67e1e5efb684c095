#!/bin/sh
# The demo's default exercise: what `cargo xtask demo` runs while trace records the demo container,
# and again against a fresh container under the recorded seccomp profile.
# Usage: exercise.sh [CONTAINER]   (default: $TRACE_CONTAINER)
# With TRACE_DEMO_IMAGE set, it first starts CONTAINER from that image, as a test suite starts the
# containers it tests: trace, told the name beforehand, records it from its first instruction.
set -eu

c="${1:-${TRACE_CONTAINER:-}}"
if [ -z "$c" ]; then
    echo "usage: $0 CONTAINER (or set TRACE_CONTAINER)" >&2
    exit 2
fi

if [ -n "${TRACE_DEMO_IMAGE:-}" ]; then
    docker run -d --name "$c" "$TRACE_DEMO_IMAGE" >/dev/null
fi

fetch() {
    docker exec "$c" wget -qO- http://127.0.0.1/
}

# httpd may still be starting: give it up to 5 s to answer.
tries=0
until fetch >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 50 ]; then
        echo "exercise: httpd in $c does not answer" >&2
        exit 1
    fi
    sleep 0.1
done

for _ in 1 2 3; do
    page="$(fetch)"
    case "$page" in
    *"Hello from the trace demo"*) ;;
    *)
        echo "exercise: unexpected page from $c: $page" >&2
        exit 1
        ;;
    esac
done

# When trace attaches to a container that was already running (`cargo xtask demo --container` of a
# running one), it cannot see how httpd started (socket, bind, listen...): a second httpd on port
# 8080 puts that in the recording too, as trace's warning advises. Without it the profile would lack
# bind and the proof container's httpd could not start.
docker exec "$c" httpd -p 8080 -h /www
page="$(docker exec "$c" wget -qO- http://127.0.0.1:8080/)"
case "$page" in
*"Hello from the trace demo"*) ;;
*)
    echo "exercise: unexpected page from the second httpd in $c: $page" >&2
    exit 1
    ;;
esac
docker exec "$c" sh -c 'for p in $(pidof httpd); do [ "$p" = 1 ] || kill "$p"; done'

docker exec "$c" ls -l /www >/dev/null
docker exec "$c" cat /www/index.html >/dev/null
[ "$(docker exec "$c" sh -c 'echo $((6 * 7))')" = 42 ]
docker exec "$c" date >/dev/null
echo "exercise: ok ($c)"
