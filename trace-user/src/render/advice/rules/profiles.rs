//! The seccomp and AppArmor profiles trace wrote, named where they will be.

use crate::recording::Recording;
use crate::render::advice::quote::{self, code_span};
use crate::render::advice::{Advice, Level, Topic, profile_file};
use crate::render::apparmor::profile_name;
use crate::render::seccomp::spo::object_name;
use crate::render::{
    APPARMOR_FILE, Format, Options, SECCOMP_FILE, SPO_APPARMOR_FILE, SPO_SECCOMP_FILE,
};

/// The generated seccomp and AppArmor profiles, named where they will be referenced from
/// ([`profile_file`]); with `--format spo` the operator's objects, which only Kubernetes reads,
/// so `docker run` and compose get no seccomp profile.
pub fn profiles(recording: &Recording, options: &Options, advice: &mut Advice) {
    let topic = Topic::Profiles;
    let object = object_name(&recording.container.name, &recording.container.id);
    let calls = format!(
        "{} distinct system calls recorded",
        recording.distinct_syscalls()
    );
    if options.format == Format::Spo {
        let seccomp = profile_file(options.profile_path.as_deref(), SPO_SECCOMP_FILE);
        let apparmor = profile_file(options.profile_path.as_deref(), SPO_APPARMOR_FILE);
        advice.plan.seccomp_localhost = format!("operator/{object}.json");
        advice.push(
            topic,
            Level::Advice,
            format!(
                "Confine its system calls with the generated seccomp profile, the Security Profiles Operator object {}: apply it (`kubectl apply -f`), then reference it as the Kubernetes snippet does. `docker run` and compose cannot read it, so their lines have no seccomp profile: render the Docker format for them (`trace render recording.json --format docker`).",
                code_span(&object)
            ),
            vec![format!("{calls}; {} (`--format spo`)", code_span(&seccomp))],
        );
        advice.push(
            topic,
            Level::Note,
            format!(
                "The AppArmor profile is the operator's object {} in {}: apply it where the operator runs on AppArmor nodes, then set `appArmorProfile` (type `Localhost`, profile {}) in the container's `securityContext`. It is not in the snippet: whether it is loaded is cluster state.",
                code_span(&object),
                code_span(&apparmor),
                code_span(&object)
            ),
            Vec::new(),
        );
        return;
    }
    let seccomp = profile_file(options.profile_path.as_deref(), SECCOMP_FILE);
    let apparmor = profile_file(options.profile_path.as_deref(), APPARMOR_FILE);
    advice.plan.seccomp_localhost = format!("{object}.json");
    let mut evidence = vec![format!("{calls}; {}", code_span(&seccomp))];
    if options.format == Format::Oci {
        evidence.push(
            "written in the OCI runtime spec's format (`--format oci`), which `docker run` reads too"
                .into(),
        );
    }
    if quote::printable(&seccomp) {
        advice.plan.seccomp = Some(seccomp);
    } else {
        evidence.push("its path cannot be written in a `docker run` line: name it yourself".into());
    }
    advice.push(
        topic,
        Level::Advice,
        "Confine its system calls with the generated seccomp profile.".into(),
        evidence,
    );
    let name = profile_name(&recording.container.name, &recording.container.id);
    advice.push(
        topic,
        Level::Note,
        format!(
            "The AppArmor profile is not in the flags (it must be loaded first): {}, then add {}.",
            code_span(&format!("apparmor_parser -r {}", quote::shell(&apparmor))),
            code_span(&format!("--security-opt apparmor={name}"))
        ),
        Vec::new(),
    );
}
