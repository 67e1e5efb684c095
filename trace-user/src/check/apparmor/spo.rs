//! The rules the Security Profiles Operator's template makes of an `AppArmorProfile`.

use super::{ParseError, Problem, Rules, network_rules, path_rule};
use crate::check::Snippet;
use crate::platform::operator::AppArmorProfile;

/// The rules the Security Profiles Operator's template makes of an `AppArmorProfile` (see
/// [`crate::render::apparmor::spo`]).
pub fn from_spo(profile: &AppArmorProfile) -> Result<Rules, ParseError> {
    let spec = &profile.spec.abstract_;
    let mut rules = Rules {
        spo: true,
        ..Rules::default()
    };
    let mut files = |paths: &[String], deny: bool, perms: &str| {
        for path in paths {
            let text = format!("{}{path} {perms},", if deny { "deny " } else { "" });
            let rule = path_rule(deny, path, perms, text).map_err(ParseError::Spo)?;
            rules.files.push(rule);
        }
        Ok::<(), ParseError>(())
    };
    if let Some(exe) = &spec.executable {
        files(&exe.allowed_executables, false, "ixr")?;
        files(&exe.allowed_libraries, false, "mr")?;
    }
    if let Some(fs) = &spec.filesystem {
        files(&fs.read_only_paths, false, "r")?;
        files(&fs.write_only_paths, false, "wlk")?;
        files(&fs.read_write_paths, false, "rwlk")?;
        files(&fs.read_only_paths, true, "wlk")?;
        files(&fs.write_only_paths, true, "r")?;
    }
    if let Some(network) = &spec.network {
        let protocols = [
            (network.allow_raw, "raw"),
            (network.allowed_protocols.allow_tcp, "tcp"),
            (network.allowed_protocols.allow_udp, "udp"),
        ];
        for (_, word) in protocols.into_iter().filter(|(allowed, _)| *allowed) {
            let text = format!("network {word},");
            rules.network.extend(network_rules(&[word], false, &text));
        }
    }
    if let Some(caps) = &spec.capability {
        for cap in &caps.allowed_capabilities {
            if cap.is_empty() || cap.contains(|c: char| c.is_whitespace() || c.is_control()) {
                return Err(ParseError::Spo(Problem::BadCapability(Snippet::new(cap))));
            }
            rules.capabilities.insert(cap.clone());
        }
    }
    Ok(rules)
}
