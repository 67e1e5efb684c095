//! The advice as things to run, all written from the rules' [`Plan`] and [`Program`] so they never
//! disagree: the `docker run` flags and the whole line, the compose service, and the container of
//! a Kubernetes Pod spec. The YAML is built as values and written by the serializer, so no string
//! from the container can change its structure.

use serde_norway::{Mapping, Value};

use super::{Advice, Plan, Program, Tmpfs};
use crate::recording::Recording;
use crate::render::apparmor::safe_name;
use crate::render::seccomp::spo::object_name;

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> Value {
    Value::Sequence(items.into_iter().map(|s| text(s)).collect())
}

/// `s` with every `$` doubled: compose substitutes `${NAME}` and `$NAME` from its own
/// environment in every value of the file, and Kubernetes `$(NAME)` from the container's
/// variables in `command` and `args`; both read `$$` as one literal `$`. An argument recorded
/// as `${HOME}` must reach the program as written, and never bring in the value of a variable of
/// whoever runs the snippet.
fn literal(s: &str) -> String {
    s.replace('$', "$$")
}

/// `value` with every string value (not the keys: compose substitutes values only) made
/// [`literal`].
fn literal_values(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(literal(&s)),
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(literal_values).collect()),
        Value::Mapping(mapping) => Value::Mapping(
            mapping
                .into_iter()
                .map(|(k, v)| (k, literal_values(v)))
                .collect(),
        ),
        other => other,
    }
}

fn pair(out: &mut Vec<String>, flag: &str, value: &str) {
    out.push(flag.to_owned());
    out.push(value.to_owned());
}

/// `--tmpfs` and compose's `tmpfs` spelling: the directory, `:exec` when code runs from there.
fn tmpfs_spec(tmpfs: &Tmpfs) -> String {
    if tmpfs.exec {
        format!("{}:exec", tmpfs.path)
    } else {
        tmpfs.path.clone()
    }
}

/// The advised hardening flags, in a fixed order: user, capabilities, no-new-privileges,
/// read-only root and its tmpfs, network, seccomp profile.
pub fn flags(plan: &Plan) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(user) = &plan.user {
        pair(&mut flags, "--user", user);
    }
    if let Some(added) = &plan.capabilities {
        pair(&mut flags, "--cap-drop", "ALL");
        for name in added {
            pair(&mut flags, "--cap-add", name);
        }
    }
    if plan.no_new_privileges {
        pair(&mut flags, "--security-opt", "no-new-privileges");
    }
    if let Some(dirs) = &plan.read_only {
        flags.push("--read-only".to_owned());
        for dir in dirs {
            pair(&mut flags, "--tmpfs", &tmpfs_spec(dir));
        }
    }
    if plan.network_none {
        pair(&mut flags, "--network", "none");
    }
    if let Some(seccomp) = &plan.seccomp {
        pair(&mut flags, "--security-opt", &format!("seccomp={seccomp}"));
    }
    flags
}

/// The program's executable and its arguments as compose's `entrypoint`/`command` and
/// Kubernetes' `command`/`args` take them: setting the first drops the image's entrypoint and
/// command alike, so without an entrypoint the command becomes the executable.
fn executable_and_arguments(program: &Program) -> (&[String], &[String]) {
    if program.entrypoint.is_empty() {
        (&program.cmd, &[])
    } else {
        (&program.entrypoint, &program.cmd)
    }
}

/// The user to run as: the advised one, else the configured one kept by the program.
fn user(advice: &Advice) -> Option<&str> {
    advice
        .plan
        .user
        .as_deref()
        .or_else(|| advice.program.as_ref()?.user.as_deref())
}

/// `docker run`, the hardening flags, what starts the same program, the image and the arguments
/// after it. `--entrypoint` takes one word, so the rest of the entrypoint goes after the image,
/// before the command; without an entrypoint it is `''`, so an image's own cannot run instead.
pub fn docker_run_line(recording: &Recording, advice: &Advice) -> Vec<String> {
    let mut line = vec!["docker".to_owned(), "run".to_owned()];
    line.extend(advice.docker_run.iter().cloned());
    let Some(program) = &advice.program else {
        line.push(recording.container.image.clone());
        return line;
    };
    if let Some(user) = &program.user {
        pair(&mut line, "--user", user);
    }
    if !program.working_dir.is_empty() {
        pair(&mut line, "--workdir", &program.working_dir);
    }
    for name in &program.env_names {
        pair(&mut line, "-e", name);
    }
    let first = program.entrypoint.first().map_or("", String::as_str);
    pair(&mut line, "--entrypoint", first);
    line.push(recording.container.image.clone());
    line.extend(program.entrypoint.iter().skip(1).cloned());
    line.extend(program.cmd.iter().cloned());
    line
}

/// The compose file: one service, named after the container (a name such as `null`, `true` or
/// `0` stays a string key), with the image, the program and the advised keys, every `$` in its
/// values doubled ([`literal`]).
pub fn compose(recording: &Recording, advice: &Advice) -> Value {
    let plan = &advice.plan;
    let mut service = Mapping::new();
    service.insert(text("image"), text(&recording.container.image));
    if let Some(program) = &advice.program {
        let (executable, arguments) = executable_and_arguments(program);
        service.insert(text("entrypoint"), list(executable));
        if !arguments.is_empty() {
            service.insert(text("command"), list(arguments));
        }
        if !program.working_dir.is_empty() {
            service.insert(text("working_dir"), text(&program.working_dir));
        }
        if !program.env_names.is_empty() {
            service.insert(text("environment"), list(&program.env_names));
        }
    }
    if let Some(user) = user(advice) {
        service.insert(text("user"), text(user));
    }
    if let Some(added) = &plan.capabilities {
        service.insert(text("cap_drop"), list(&["ALL".to_owned()]));
        if !added.is_empty() {
            service.insert(text("cap_add"), list(added));
        }
    }
    if let Some(dirs) = &plan.read_only {
        service.insert(text("read_only"), Value::Bool(true));
        if !dirs.is_empty() {
            let specs: Vec<String> = dirs.iter().map(tmpfs_spec).collect();
            service.insert(text("tmpfs"), list(&specs));
        }
    }
    if plan.network_none {
        service.insert(text("network_mode"), text("none"));
    }
    let mut security_opt = Vec::new();
    if plan.no_new_privileges {
        security_opt.push("no-new-privileges:true".to_owned());
    }
    if let Some(seccomp) = &plan.seccomp {
        security_opt.push(format!("seccomp={seccomp}"));
    }
    if !security_opt.is_empty() {
        service.insert(text("security_opt"), list(&security_opt));
    }
    let mut services = Mapping::new();
    services.insert(
        text(&safe_name(
            &recording.container.name,
            &recording.container.id,
        )),
        Value::Mapping(service),
    );
    let mut root = Mapping::new();
    root.insert(text("services"), literal_values(Value::Mapping(services)));
    Value::Mapping(root)
}

/// The container's name in Kubernetes: its name as a DNS label (what the operator's objects are
/// named after, without their `trace-` prefix).
pub fn kubernetes_name(recording: &Recording) -> String {
    let object = object_name(&recording.container.name, &recording.container.id);
    match object.strip_prefix("trace-") {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => object,
    }
}

/// `uid[:gid]` as numbers, when both parts are numeric.
fn numeric_user(user: &str) -> Option<(u32, Option<u32>)> {
    let (uid, gid) = match user.split_once(':') {
        Some((uid, gid)) => (uid, Some(gid)),
        None => (user, None),
    };
    let uid = uid.parse().ok()?;
    let gid = match gid {
        Some(gid) => Some(gid.parse().ok()?),
        None => None,
    };
    Some((uid, gid))
}

/// The container's `securityContext`: a non-root numeric user (Kubernetes cannot check a named
/// one), read-only root, no privilege escalation (what no-new-privileges sets), capabilities,
/// and the seccomp profile below the kubelet's seccomp directory.
fn security_context(advice: &Advice) -> Mapping {
    let plan = &advice.plan;
    let mut context = Mapping::new();
    if let Some((uid, gid)) = user(advice)
        .and_then(numeric_user)
        .filter(|(uid, _)| *uid != 0)
    {
        context.insert(text("runAsNonRoot"), Value::Bool(true));
        context.insert(text("runAsUser"), Value::Number(uid.into()));
        if let Some(gid) = gid {
            context.insert(text("runAsGroup"), Value::Number(gid.into()));
        }
    }
    if plan.read_only.is_some() {
        context.insert(text("readOnlyRootFilesystem"), Value::Bool(true));
    }
    if plan.no_new_privileges {
        context.insert(text("allowPrivilegeEscalation"), Value::Bool(false));
    }
    if let Some(added) = &plan.capabilities {
        let mut capabilities = Mapping::new();
        capabilities.insert(text("drop"), list(&["ALL".to_owned()]));
        if !added.is_empty() {
            capabilities.insert(text("add"), list(added));
        }
        context.insert(text("capabilities"), Value::Mapping(capabilities));
    }
    if !plan.seccomp_localhost.is_empty() {
        let mut seccomp = Mapping::new();
        seccomp.insert(text("type"), text("Localhost"));
        seccomp.insert(text("localhostProfile"), text(&plan.seccomp_localhost));
        context.insert(text("seccompProfile"), Value::Mapping(seccomp));
    }
    context
}

/// The container of a Pod spec (`containers` and the `volumes` its tmpfs directories need, as
/// memory-backed `emptyDir`s): image, program, `securityContext`.
pub fn kubernetes(recording: &Recording, advice: &Advice) -> Value {
    let mut container = Mapping::new();
    container.insert(text("name"), text(&kubernetes_name(recording)));
    container.insert(text("image"), text(&recording.container.image));
    if let Some(program) = &advice.program {
        let (executable, arguments) = executable_and_arguments(program);
        container.insert(text("command"), literal_values(list(executable)));
        if !arguments.is_empty() {
            container.insert(text("args"), literal_values(list(arguments)));
        }
        if !program.working_dir.is_empty() {
            container.insert(text("workingDir"), text(&program.working_dir));
        }
    }
    container.insert(
        text("securityContext"),
        Value::Mapping(security_context(advice)),
    );
    let dirs = advice.plan.read_only.as_deref().unwrap_or_default();
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let name = format!("tmpfs-{}", i + 1);
        let mut mount = Mapping::new();
        mount.insert(text("name"), text(&name));
        mount.insert(text("mountPath"), text(&dir.path));
        mounts.push(Value::Mapping(mount));
        let mut empty_dir = Mapping::new();
        empty_dir.insert(text("medium"), text("Memory"));
        let mut volume = Mapping::new();
        volume.insert(text("name"), text(&name));
        volume.insert(text("emptyDir"), Value::Mapping(empty_dir));
        volumes.push(Value::Mapping(volume));
    }
    if !mounts.is_empty() {
        container.insert(text("volumeMounts"), Value::Sequence(mounts));
    }
    let mut spec = Mapping::new();
    spec.insert(
        text("containers"),
        Value::Sequence(vec![Value::Mapping(container)]),
    );
    if !volumes.is_empty() {
        spec.insert(text("volumes"), Value::Sequence(volumes));
    }
    Value::Mapping(spec)
}

/// `value` as YAML text.
pub fn yaml(value: &Value) -> String {
    serde_norway::to_string(value).expect("strings, numbers, booleans and lists always serialize")
}
