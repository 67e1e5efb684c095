//! hardening.md: the advised `docker run` line as shell words, the compose and Kubernetes
//! snippets, then the items with their evidence. Nothing in it depends on where it is written.

use std::fmt::Write;

use super::quote::{code_span, fence, markdown, shell};
use super::snippets;
use super::{Advice, Level, Topic};
use crate::recording::Recording;
use crate::render::{Format, SECCOMP_FILE, SPO_SECCOMP_FILE};

fn topic_title(topic: Topic) -> &'static str {
    match topic {
        Topic::Configuration => "Configuration",
        Topic::Program => "Command and environment",
        Topic::User => "User",
        Topic::Capabilities => "Capabilities",
        Topic::NoNewPrivileges => "no-new-privileges",
        Topic::ReadOnlyRoot => "Read-only root file system",
        Topic::Network => "Network",
        Topic::Profiles => "Seccomp and AppArmor",
    }
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Warning => "WARNING",
        Level::Advice => "ADVICE",
        Level::Note => "NOTE",
    }
}

/// Words as one shell line.
fn shell_line(words: &[String]) -> String {
    let words: Vec<String> = words.iter().map(|w| shell(w)).collect();
    words.join(" ")
}

/// The hardening flags as one line of shell words.
#[cfg(test)]
pub fn flags_line(advice: &Advice) -> String {
    shell_line(&advice.docker_run)
}

/// The whole advised `docker run` line, as shell words.
pub fn docker_run_line(advice: &Advice) -> String {
    shell_line(&advice.docker_run_line)
}

/// `text` in a fenced block of `language`.
fn block(md: &mut String, language: &str, text: &str) {
    let f = fence(text);
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    let _ = writeln!(md, "{f}{language}\n{text}{newline}{f}\n");
}

/// Where the profile paths lead: relative to this file's directory, or under `--profile-path`.
fn paths_sentence(advice: &Advice) -> String {
    match advice.profile_path.as_deref() {
        None | Some("") => "Profile paths below are relative to the directory holding this file: run the commands from there, or have the paths written as the profiles will be committed with `--profile-path DIR`.".to_owned(),
        Some(dir) => format!(
            "Profile paths below are under {}, as given with `--profile-path`.",
            code_span(dir)
        ),
    }
}

fn names_text(advice: &Advice) -> Option<String> {
    let names = &advice.program.as_ref()?.env_names;
    (!names.is_empty()).then(|| {
        let shown: Vec<String> = names.iter().map(|n| code_span(n)).collect();
        shown.join(", ")
    })
}

fn docker_run_section(md: &mut String, advice: &Advice) {
    md.push_str(
        "## docker run\n\nThe advised flags, then what starts the program the container ran (in hardening.json: the flags as `docker_run`, the whole line as `docker_run_line`):\n\n",
    );
    block(md, "sh", &format!("{}\n", docker_run_line(advice)));
    let mut notes = Vec::new();
    if advice.format == Format::Spo {
        notes.push("It names no seccomp profile: the operator's object is for Kubernetes (see Seccomp and AppArmor).".to_owned());
    }
    if let Some(names) = names_text(advice) {
        notes.push(format!(
            "Set {names} in the environment you run it from: `-e NAME` takes the value from there (values are never recorded)."
        ));
    }
    if advice.program.is_none() {
        notes.push("It starts the image's default command (see Command and environment).".into());
    }
    notes.push(
        "Published ports (`-p`), volumes (`-v`) and networks are not advised: add yours.".into(),
    );
    let _ = writeln!(md, "{}\n", notes.join(" "));
}

fn compose_section(md: &mut String, advice: &Advice) {
    md.push_str("## compose\n\n");
    let yaml = snippets::yaml(&advice.compose);
    block(md, "yaml", &yaml);
    let mut notes = Vec::new();
    if yaml.contains('$') {
        notes.push("Each `$` is written `$$`, which compose passes on as one `$` instead of substituting a variable of the environment it runs in.");
    }
    if advice.plan.seccomp.is_some() {
        notes.push("compose reads a relative seccomp path in `security_opt` from the compose file's directory.");
    }
    if names_text(advice).is_some() {
        notes.push(
            "An `environment` entry without a value takes it from the environment compose runs in.",
        );
    }
    if !notes.is_empty() {
        let _ = writeln!(md, "{}\n", notes.join(" "));
    }
}

fn kubernetes_section(md: &mut String, recording: &Recording, advice: &Advice) {
    md.push_str(
        "## Kubernetes\n\nThe container in a Pod spec (a Pod's `spec`, a Deployment's `spec.template.spec`)",
    );
    if advice
        .plan
        .read_only
        .as_ref()
        .is_some_and(|d| !d.is_empty())
    {
        md.push_str("; its tmpfs directories are memory-backed `emptyDir` volumes");
    }
    md.push_str(":\n\n");
    let yaml = snippets::yaml(&advice.kubernetes);
    block(md, "yaml", &yaml);
    if yaml.contains("$$") {
        md.push_str("Each `$` of `command` and `args` is written `$$`, which Kubernetes passes on as one `$` instead of substituting a `$(NAME)` of the container's variables.\n\n");
    }
    let local = code_span(&advice.plan.seccomp_localhost);
    let profile = |file| super::profile_file(advice.profile_path.as_deref(), file);
    if advice.format == Format::Spo {
        let _ = writeln!(
            md,
            "Kubernetes reads `localhostProfile` ({local}) below the kubelet's seccomp directory, where the Security Profiles Operator installs the profile once it is applied (`kubectl get seccompprofile {} -o jsonpath='{{.status.localhostProfile}}'` prints the path the installed operator uses):\n",
            crate::render::seccomp::spo::object_name(
                &recording.container.name,
                &recording.container.id
            )
        );
        block(
            md,
            "sh",
            &format!("kubectl apply -f {}\n", shell(&profile(SPO_SECCOMP_FILE))),
        );
    } else {
        let _ = writeln!(
            md,
            "Kubernetes reads `localhostProfile` ({local}) below the kubelet's seccomp directory (`/var/lib/kubelet/seccomp`): copy the profile to every node, then there:\n"
        );
        block(
            md,
            "sh",
            &format!(
                "install -D -m 0644 {} {}\n",
                shell(&profile(SECCOMP_FILE)),
                shell(&format!(
                    "/var/lib/kubelet/seccomp/{}",
                    advice.plan.seccomp_localhost
                ))
            ),
        );
    }
    let mut notes = Vec::new();
    if let Some(names) = names_text(advice) {
        notes.push(format!(
            "Give the container `env` entries for {names} (values are never recorded)."
        ));
    }
    if advice.plan.network_none {
        notes.push("Kubernetes has no `--network none`: a NetworkPolicy that denies all traffic to and from the Pod is the nearest.".into());
    }
    if !notes.is_empty() {
        let _ = writeln!(md, "{}\n", notes.join(" "));
    }
}

/// hardening.md.
pub fn render(recording: &Recording, advice: &Advice) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Hardening advice for {} ({})\n",
        markdown(recording.container.name.as_bytes()),
        markdown(recording.container.image.as_bytes())
    );
    md.push_str(
        "Generated by trace from recording.json: each piece of advice names what the recording shows. \
         Advice rests on what the exercise made the container do; what it did not exercise is not covered.\n\n",
    );
    let counts = |level| advice.items.iter().filter(|i| i.level == level).count();
    let _ = writeln!(
        md,
        "{} warnings, {} pieces of advice, {} notes. {}\n",
        counts(Level::Warning),
        counts(Level::Advice),
        counts(Level::Note),
        paths_sentence(advice)
    );
    docker_run_section(&mut md, advice);
    compose_section(&mut md, advice);
    kubernetes_section(&mut md, recording, advice);

    let mut topic = None;
    for item in &advice.items {
        if topic != Some(item.topic) {
            if topic.is_some() {
                md.push('\n');
            }
            let _ = writeln!(md, "## {}\n", topic_title(item.topic));
            topic = Some(item.topic);
        }
        let _ = writeln!(md, "- **{}** {}", level_word(item.level), item.title);
        for line in &item.evidence {
            let _ = writeln!(md, "  - {line}");
        }
    }
    if !recording.gaps.is_empty() {
        md.push_str("\n## What the recording may have missed\n\n");
        for gap in &recording.gaps {
            let _ = writeln!(md, "- {}", markdown(gap.detail.as_bytes()));
        }
    }
    md
}
