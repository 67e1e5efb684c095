//! `no-new-privileges`: whether a program the container ran could raise privileges.

use super::{examples, path_text};
use crate::recording::Recording;
use crate::render::advice::{Advice, Level, Topic};

/// `no-new-privileges` when no executed program could raise privileges.
pub fn no_new_privileges(recording: &Recording, advice: &mut Advice) {
    let topic = Topic::NoNewPrivileges;
    let set = recording.container.config.as_ref().is_some_and(|c| {
        c.security_opt.iter().any(|o| {
            o == "no-new-privileges"
                || o == "no-new-privileges:true"
                || o == "no-new-privileges=true"
        })
    });
    let programs: Vec<String> = recording.execs.keys().map(path_text).collect();
    let note = |advice: &mut Advice, title: &str, evidence: Vec<String>| {
        advice.push(topic, Level::Note, title.to_owned(), evidence);
    };
    if !recording.execs_recorded() {
        note(
            advice,
            "Executed programs were not recorded: no advice on no-new-privileges.",
            Vec::new(),
        );
        return;
    }
    let Some(identity) = &recording.identity else {
        note(
            advice,
            "The executed programs could not be checked for set-user-id, set-group-id or file capabilities (the container had stopped): add `--security-opt no-new-privileges` after checking them.",
            vec![format!("programs executed: {}", examples(&programs))],
        );
        return;
    };
    if !identity.privileged_programs.is_empty() {
        let list: Vec<String> = identity
            .privileged_programs
            .iter()
            .map(|(path, how)| {
                let how: Vec<&str> = how
                    .iter()
                    .map(|p| match p {
                        crate::recording::FilePrivilege::Setuid => "set-user-id",
                        crate::recording::FilePrivilege::Setgid => "set-group-id",
                        crate::recording::FilePrivilege::FileCapabilities => "file capabilities",
                    })
                    .collect();
                format!("{} ({})", path_text(path), how.join(", "))
            })
            .collect();
        note(
            advice,
            "It executed programs that raise privileges: `no-new-privileges` would stop them doing so. Add it only if they work without.",
            vec![format!("privileged programs executed: {}", examples(&list))],
        );
        return;
    }
    if !identity.unchecked_programs.is_empty() {
        let list: Vec<String> = identity.unchecked_programs.iter().map(path_text).collect();
        note(
            advice,
            "Some executed programs could not be checked: add `--security-opt no-new-privileges` after checking they are not set-user-id.",
            vec![format!("not checked: {}", examples(&list))],
        );
        return;
    }
    let mut evidence = vec![if programs.is_empty() {
        "no program was executed".to_owned()
    } else {
        format!(
            "programs executed, none set-user-id, set-group-id or with file capabilities: {}",
            examples(&programs)
        )
    }];
    if set {
        evidence.push("already set in the configuration".into());
    }
    advice.push(
        topic,
        Level::Advice,
        "No executed program raises privileges: set `--security-opt no-new-privileges`.".into(),
        evidence,
    );
    advice.plan.no_new_privileges = true;
}
