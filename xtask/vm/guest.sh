#!/bin/sh
# The VM tier's checks, run inside a guest that `cargo xtask vm` booted: a stock distribution
# kernel with systemd, cgroup v2, Docker's systemd cgroup driver and AppArmor enforcing.
#
# Usage: guest.sh IN OUT. IN holds `trace`, `images.tar`, the demo container's `exercise.sh`
# (xtask/vm/exercise.sh) and, once the host releases the checks, `go`; OUT gets `results.tsv` (one
# `PASS|FAIL|FACT <tab> check <tab> seconds <tab> detail` line each, then `END`), the profiles
# trace wrote, and the kernel's log. Every check runs even when an earlier one failed.
set -u

in="$1"
out="$2"
results="$out/results.tsv"
trace="$in/trace"
: >"$results"
PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH

# The proof containers' names, removed at the end (a guest is thrown away, but a check that
# leaves one behind must not confuse the next).
nginx=vm-nginx
demo=vm-demo
idle=vm-idle

t0=$(date +%s)
line() {
    # One result line, with the seconds since the checks started: tabs and line breaks in the
    # detail become spaces.
    detail=$(printf '%s' "$3" | tr '\t\n' '  ' | cut -c1-2000)
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(($(date +%s) - t0))" "$detail" >>"$results"
}
pass() { line PASS "$1" "$2"; }
fail() { line FAIL "$1" "$2"; }
fact() { line FACT "$1" "$2"; }

# Denials the kernel logged so far, for one profile.
denials() {
    dmesg | grep 'apparmor="DENIED"' | grep -c "profile=\"$1\"" || true
}

# `wget` of a page until it answers (100 tries, 0.1 s apart); prints the page.
fetch() {
    tries=0
    while [ "$tries" -lt 100 ]; do
        # (busybox 1.35's wget crashes with -T: `timeout` bounds it instead.)
        if page=$(timeout 5 busybox wget -qO- "$1" 2>/dev/null); then
            printf '%s' "$page"
            return 0
        fi
        tries=$((tries + 1))
        sleep 0.1
    done
    return 1
}

ip_of() {
    docker inspect -f '{{.NetworkSettings.IPAddress}}' "$1"
}

# Stops container $1 and checks that it ends by itself with status 0: Docker kills it after 5 s
# (status 137), so status 0 means it ended before. (The time taken is shown: under emulation
# Docker's own part of a stop takes seconds.)
stops_cleanly() {
    started=$(date +%s%N)
    docker stop -t 5 "$1" >/dev/null 2>&1
    took=$((($(date +%s%N) - started) / 1000000))
    code=$(docker inspect -f '{{.State.ExitCode}}' "$1")
    if [ "$code" = 0 ]; then
        pass "$2" "docker stop: status 0 after $took ms"
    else
        fail "$2" "docker stop: status $code after $took ms"
    fi
}

# The recording's gaps but those of kind $2, one per line.
gaps_of() {
    python3 -c 'import json,sys
for g in json.load(open(sys.argv[1])).get("gaps", []):
    if g["kind"] != sys.argv[2]:
        print(g["kind"] + ": " + g["detail"])' "$1" "$2"
}

# No gap in the recording in $1 (but of kind $3, when given): none is expected on a kernel that
# has what trace uses.
check_gaps() {
    gaps=$(gaps_of "$1/recording.json" "${3:-}" 2>&1)
    if [ -z "$gaps" ]; then
        pass "$2" "no gaps in the recording${3:+ but $3}"
    else
        fail "$2" "$gaps"
    fi
}

# Loads the AppArmor profile in $1, prints its name.
load_apparmor() {
    name=$(sed -n 's/^profile "\{0,1\}\([^ "]*\)"\{0,1\} .*/\1/p' "$1/apparmor.profile" | head -n1)
    if apparmor_parser -r -W "$1/apparmor.profile" >"$out/parser.log" 2>&1; then
        printf '%s' "$name"
    else
        return 1
    fi
}

# Starts container $1 from image $2 under both profiles of directory $3 (the AppArmor one loaded
# as $4); a failure to start is check $5's.
start_enforced() {
    docker rm -f "$1" >/dev/null 2>&1
    if ! err=$(docker run -d --name "$1" --security-opt "seccomp=$3/seccomp.json" \
        --security-opt "apparmor=$4" "$2" 2>&1); then
        fail "$5" "docker run: $err"
        return 1
    fi
}

# --- the host as users run it ---------------------------------------------------------------
fact kernel "$(uname -r)"
fact os "$(. /etc/os-release && printf '%s' "$PRETTY_NAME")"
fact systemd "$(systemctl --version | head -n1)"
fact docker "$(docker version -f '{{.Server.Version}}' 2>&1)"
fact apparmor_parser "$(apparmor_parser --version 2>&1 | head -n1)"
if [ -d /sys/kernel/tracing/events/capability/cap_capable ]; then
    fact cap_capable "tracepoint"
else
    fact cap_capable "no tracepoint (trace uses fexit)"
fi
fs=$(stat -fc %T /sys/fs/cgroup)
driver=$(docker info -f '{{.CgroupDriver}}' 2>&1)
apparmor=$(cat /sys/module/apparmor/parameters/enabled 2>&1)
if [ "$fs" = cgroup2fs ] && [ "$driver" = systemd ] && [ "$apparmor" = Y ]; then
    pass setup "cgroup v2 unified, Docker's systemd cgroup driver, AppArmor enabled"
else
    fail setup "cgroup fs $fs, Docker cgroup driver $driver, AppArmor enabled: $apparmor"
fi
if loaded=$(docker load -i "$in/images.tar" 2>&1); then
    pass images "$(printf '%s' "$loaded" | tr '\n' ' ')"
else
    fail images "$loaded"
fi

# The checks have deadlines (an exercise waits seconds for a server): they start once the host
# says so (`$in/go`), when nothing else competes for its CPUs. Booting and loading may run at the
# lowest priority beside other work.
waited=0
while [ ! -e "$in/go" ] && [ "$waited" -lt 3600 ]; do
    sleep 1
    waited=$((waited + 1))
done
if [ -e "$in/go" ]; then
    pass released "the host released the checks"
else
    fail released "the host did not release the checks within an hour"
fi

# --- trace run: nginx from its first instruction, with the built-in crawl --------------------
if log=$("$trace" run --name "$nginx-rec" --out "$out/nginx" trace-test/nginx:local 2>&1); then
    pass "run nginx" "$(printf '%s' "$log" | grep -E 'seccomp|apparmor:' | head -n3)"
else
    fail "run nginx" "$log"
fi
printf '%s\n' "$log" >"$out/run-nginx.log"
check_gaps "$out/nginx" "run nginx: gaps"
# The capability checks were seen (through fexit where the kernel has no cap_capable
# tracepoint): the profile names the capabilities nginx used, not every capability.
caps=$(grep -E '^ *capability( [a-z_]+)?,' "$out/nginx/apparmor.profile" | tr -s ' \n' ' ')
case " $caps " in
*" capability, "*) fail "run nginx: capabilities" "every capability granted: $caps" ;;
*" capability setuid, "*) pass "run nginx: capabilities" "$caps" ;;
*) fail "run nginx: capabilities" "no setuid, which nginx's workers need: $caps" ;;
esac

# Both profiles enforced: nginx starts and serves three times, stops cleanly, no denial.
if profile=$(load_apparmor "$out/nginx"); then
    for start in 1 2 3; do
        start_enforced "$nginx" trace-test/nginx:local "$out/nginx" "$profile" \
            "nginx enforced $start" || continue
        ip=$(ip_of "$nginx")
        if fetch "http://$ip/" | grep -q . && fetch "http://$ip/about.html" | grep -q .; then
            pass "nginx enforced $start" "served / and /about.html under $profile and seccomp.json"
        else
            fail "nginx enforced $start" "no answer: $(docker logs "$nginx" 2>&1 | tail -n5)"
        fi
        stops_cleanly "$nginx" "nginx enforced $start: stop"
    done
    n=$(denials "$profile")
    if [ "$n" = 0 ]; then
        pass "nginx: denials" "no AppArmor denial for $profile"
    else
        fail "nginx: denials" "$n: $(dmesg | grep 'apparmor="DENIED"' | tail -n3)"
    fi
else
    fail "nginx enforced" "apparmor_parser: $(cat "$out/parser.log")"
fi

# --- what the tests start: the demo, started by its exercise, with docker exec of applets ----
if log=$(TRACE_DEMO_IMAGE=trace-demo/httpd:local "$trace" --container "$demo" \
    --out "$out/demo" -- "$in/exercise.sh" "$demo" 2>&1); then
    pass "trace demo" "$(printf '%s' "$log" | grep -E 'from its start|seccomp' | head -n2)"
else
    fail "trace demo" "$log"
fi
printf '%s\n' "$log" >"$out/trace-demo.log"
docker rm -f "$demo" >/dev/null 2>&1
check_gaps "$out/demo" "trace demo: gaps"
if grep -q '/bin/busybox.*ix' "$out/demo/apparmor.profile"; then
    pass "trace demo: exec" "the profile lets busybox's applets run (/bin/busybox ix)"
else
    fail "trace demo: exec" "no exec rule for /bin/busybox: $(grep -c . "$out/demo/apparmor.profile") lines"
fi

if profile=$(load_apparmor "$out/demo"); then
    for start in 1 2 3; do
        start_enforced "$demo" trace-demo/httpd:local "$out/demo" "$profile" \
            "demo enforced $start" || continue
        if ex=$("$in/exercise.sh" "$demo" 2>&1); then
            pass "demo enforced $start" "the exercise passed under $profile and seccomp.json"
        else
            fail "demo enforced $start" "$ex"
        fi
        if [ "$start" = 3 ]; then
            # A call the exercise never made is refused by seccomp (EPERM), a file it never read
            # by AppArmor, and the kernel logs that denial.
            if err=$(docker exec "$demo" mkdir /tmp/never 2>&1); then
                fail "demo: unused call" "mkdir ran under the profile"
            else
                case "$err" in
                *"Operation not permitted"*) pass "demo: unused call" "mkdir: $err" ;;
                *) fail "demo: unused call" "mkdir failed otherwise: $err" ;;
                esac
            fi
            if err=$(docker exec "$demo" cat /etc/hostname 2>&1); then
                fail "demo: unused file" "cat /etc/hostname ran under the profile"
            else
                sleep 0.5
                if dmesg | grep 'apparmor="DENIED"' | grep "profile=\"$profile\"" |
                    grep -q 'name="/etc/hostname"'; then
                    pass "demo: unused file" "cat /etc/hostname: $err (denial logged)"
                else
                    fail "demo: unused file" "cat /etc/hostname: $err, no denial logged"
                fi
            fi
        fi
        # (busybox httpd, as pid 1, ignores SIGTERM: `docker stop` would wait for its kill.)
        docker rm -f "$demo" >/dev/null 2>&1
    done
    n=$(dmesg | grep 'apparmor="DENIED"' | grep "profile=\"$profile\"" | grep -vc 'name="/etc/hostname"' || true)
    if [ "$n" = 0 ]; then
        pass "demo: denials" "no AppArmor denial for $profile but the deliberate one"
    else
        fail "demo: denials" "$n: $(dmesg | grep 'apparmor="DENIED"' | tail -n3)"
    fi
else
    fail "demo enforced" "apparmor_parser: $(cat "$out/parser.log")"
fi

# --- attach to a container that runs already ------------------------------------------------
docker rm -f "$idle" >/dev/null 2>&1
docker run -d --name "$idle" trace-test/busybox:local sleep 600 >/dev/null 2>&1
if log=$("$trace" --container "$idle" --out "$out/idle" -- \
    docker exec "$idle" sh -c 'ls / >/dev/null; cat /etc/passwd >/dev/null' 2>&1); then
    if grep -q '"/etc/passwd"' "$out/idle/apparmor.profile"; then
        pass attach "recorded the exec'd shell's reads (/etc/passwd)"
    else
        fail attach "no /etc/passwd rule: $log"
    fi
else
    fail attach "$log"
fi
printf '%s\n' "$log" >"$out/attach.log"
check_gaps "$out/idle" "attach: gaps" startup_missed

docker rm -f "$nginx" "$demo" "$idle" >/dev/null 2>&1
dmesg >"$out/dmesg.log"
echo END >>"$results"
