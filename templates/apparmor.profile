{#- AppArmor profile. Context and escaping: trace-user/src/render/apparmor/mod.rs; every path and
    every text from the recording arrives escaped, autoescape is off. Format: docs/apparmor.md. -#}
# AppArmor profile for container {{ container }} (image {{ image }}), written by trace from what
# the container was observed doing. Load it with `apparmor_parser -r apparmor.profile`, then
# `docker run --security-opt apparmor={{ name }} ...`.
{% for warning in warnings %}# warning: {{ warning }}
{% endfor %}
abi <abi/3.0>,

include <tunables/global>

profile "{{ name }}" flags=(attach_disconnected,mediate_deleted) {
{%- if files %}
  # Files: the permissions of the accesses observed (docs/apparmor.md). Paths are normalised (no
  # //, . or ..) and quoted, every byte outside A-Z a-z 0-9 / . _ + - written as an octal escape;
  # /proc/<pid> is written /proc/@{pid} (and task/<tid> task/@{tid}).
{%- if files.globs > 0 %}
  # {{ files.globs }} rules are globs ("dir/*", "dir/**", "*" for a name too long), each standing
  # for many paths (its comment says which): one rule per path would be more than apparmor_parser
  # loads. Rules that execute (ix) stay one per program unless the programs alone are too many or
  # too long.
{%- endif %}
{%- for f in files.rules %}
  {{ f.rule }}  # {{ f.observed }}
{%- endfor %}
{%- if files.unmediated > 0 %}
  # {{ files.unmediated }} more paths were only entered or found missing: AppArmor does not mediate that.
{%- endif %}
{%- else %}
  # Files were not recorded: every file access is allowed, as in Docker's default profile.
  file,
{%- endif %}
{% if capabilities %}
  # Capabilities checked and granted.
{%- for c in capabilities.allowed %}
  capability {{ c }},
{%- endfor %}
{%- for note in capabilities.notes %}
  # {{ note }}
{%- endfor %}
{%- if not capabilities.allowed and not capabilities.notes %}
  # None was checked.
{%- endif %}
{%- else %}
  # Capabilities were not recorded: every capability is allowed, as in Docker's default profile.
  capability,
{%- endif %}
{% if network %}
  # Sockets created (family and type).
{%- for n in network.rules %}
  {{ n.rule }}{% if n.comment %}  # {{ n.comment }}{% endif %}
{%- endfor %}
{%- for note in network.notes %}
  # {{ note }}
{%- endfor %}
{%- if not network.rules and not network.notes %}
  # None was created.
{%- endif %}
{%- else %}
  # Sockets were not recorded: every socket family is allowed, as in Docker's default profile.
  network,
{%- endif %}
  # The kernel crypto API (AF_ALG), refused by Docker's default profiles too.
  deny network alg,

  # Signals: from the host and the runtime (docker stop, docker kill) and among the container's
  # own processes. Needed for the container to stop cleanly; not observed by trace.
  signal (receive) peer=unconfined,
  signal (receive) peer=runc,
  signal (receive) peer=crun,
  signal (send,receive) peer="{{ name }}",
  # Reading another process's /proc/<pid> (ps, pgrep, health checks) is a ptrace read check.
{%- if ptrace_trace %}
  # ptrace was called while tracing, so processes may also trace each other.
  ptrace (trace,tracedby,read,readby) peer="{{ name }}",
{%- else %}
  ptrace (read,readby) peer="{{ name }}",
{%- endif %}

  # Docker's default profile (moby profiles/apparmor): no writes to /proc outside /proc/<pid> and
  # /proc/sys/kernel/shm*, no sysrq-trigger or kcore, no mount, no writes to /sys outside
  # /sys/fs/cgroup, nothing from firmware, powercap or security. Deny rules win over the rules
  # above.
  deny @{PROC}/* w,
  deny @{PROC}/{[^1-9/],[^1-9/][^0-9/],[^1-9s/][^0-9y/][^0-9s/],[^1-9/][^0-9/][^0-9/][^0-9/]*}/** w,
  deny @{PROC}/sys/[^k]** w,
  deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,
  deny @{PROC}/sysrq-trigger rwklx,
  deny @{PROC}/kcore rwklx,
  deny mount,
  deny /sys/[^f]*/** wklx,
  deny /sys/f[^s]*/** wklx,
  deny /sys/fs/[^c]*/** wklx,
  deny /sys/fs/c[^g]*/** wklx,
  deny /sys/fs/cg[^r]*/** wklx,
  deny /sys/firmware/** rwklx,
  deny /sys/devices/virtual/powercap/** rwklx,
  deny /sys/kernel/security/** rwklx,
}
