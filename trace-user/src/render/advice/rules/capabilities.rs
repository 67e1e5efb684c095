//! Capabilities: `--cap-drop ALL` plus the ones the container used.

use super::{checks, examples};
use crate::recording::{Capability, CapabilityUse, Recording};
use crate::render::advice::{Advice, Level, Topic};
use std::collections::BTreeMap;

/// `--cap-drop ALL` plus what it used.
pub fn capabilities(recording: &Recording, advice: &mut Advice) {
    if !recording.capabilities_recorded() {
        advice.push(
            Topic::Capabilities,
            Level::Note,
            "Capability checks were not recorded: no capability advice.".into(),
            Vec::new(),
        );
        return;
    }
    let granted: BTreeMap<Capability, CapabilityUse> = recording
        .capabilities
        .iter()
        .filter(|(_, used)| used.granted > 0)
        .map(|(cap, used)| (*cap, *used))
        .collect();
    let mut evidence: Vec<String> = granted.iter().map(|(c, u)| checks(*c, u)).collect();
    let title = if granted.is_empty() {
        evidence.push("no capability check of the application was granted".into());
        "Drop every capability: it used none (`--cap-drop ALL`).".to_owned()
    } else {
        let names: Vec<String> = granted.keys().map(|c| format!("`{c}`")).collect();
        format!(
            "Drop every capability and add back only the ones it used: {}.",
            names.join(", ")
        )
    };
    advice.push(Topic::Capabilities, Level::Advice, title, evidence);
    advice.plan.capabilities = Some(
        granted
            .keys()
            .map(|cap| cap.to_string().trim_start_matches("CAP_").to_owned())
            .collect(),
    );

    let denied: Vec<String> = recording
        .capabilities
        .iter()
        .filter(|(_, used)| used.denied > 0 && used.granted == 0)
        .map(|(cap, used)| checks(*cap, used))
        .collect();
    if !denied.is_empty() {
        let mut evidence = denied;
        if recording
            .capabilities
            .get(&Capability(21))
            .is_some_and(|u| u.denied > 0)
        {
            evidence.push("the kernel checks `CAP_SYS_ADMIN` silently when a process maps private writable memory (memory accounting): such denials are not a missing privilege".into());
        }
        advice.push(
            Topic::Capabilities,
            Level::Note,
            "It asked for capabilities it did not have and ran without them: they are not added."
                .into(),
            evidence,
        );
    }
    let others = [
        (
            &recording.runc_capabilities,
            "runc's own capability checks (starting the container, the init of each `docker exec`) are not the application's and are not counted above.",
            "runc checked",
        ),
        (
            &recording.borrowed_capabilities,
            "Checks the kernel made with other credentials than the process's own are not the application's privileges and are not counted above: overlayfs works on the image's layers with the credentials of whoever mounted them.",
            "checked with borrowed credentials",
        ),
    ];
    for (checks, title, what) in others {
        if checks.is_empty() {
            continue;
        }
        let list: Vec<String> = checks
            .iter()
            .map(|(cap, used)| format!("`{cap}` x{}", used.granted.saturating_add(used.denied)))
            .collect();
        advice.push(
            Topic::Capabilities,
            Level::Note,
            title.into(),
            vec![format!("{what}: {}", examples(&list))],
        );
    }
}
