//! Which containers a session records, and where each one's outputs go. Pure: decided from what
//! Docker says of a container (id, name, labels).

use std::collections::{BTreeMap, BTreeSet};

/// The compose label naming a container's project.
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
/// The compose label naming a container's service.
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// What to record: a container is recorded when it has one of the names, is one of the ids,
/// belongs to one of the compose projects, or has every one of the labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Container names or ids (full, or a prefix of at least 12 hex digits), `--container`.
    pub names: Vec<String>,
    /// Labels, `KEY` (any value) or `KEY=VALUE`, all of which a container must have, `--label`.
    pub labels: Vec<(String, Option<String>)>,
    /// Compose projects, `--compose-project`.
    pub projects: Vec<String>,
}

/// What a selection looks at of a container.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// Full id.
    pub id: &'a str,
    /// Name, without the leading slash.
    pub name: &'a str,
    /// Its labels (the image's included).
    pub labels: &'a BTreeMap<String, String>,
}

impl Selection {
    /// Whether the selection names nothing.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.labels.is_empty() && self.projects.is_empty()
    }

    /// Whether `c` is to be recorded.
    pub fn matches(&self, c: &Candidate<'_>) -> bool {
        self.names.iter().any(|n| names(n, c))
            || c.labels
                .get(COMPOSE_PROJECT)
                .is_some_and(|p| self.projects.contains(p))
            || (!self.labels.is_empty()
                && self.labels.iter().all(|(key, value)| {
                    c.labels
                        .get(key)
                        .is_some_and(|v| value.as_ref().is_none_or(|want| want == v))
                }))
    }

    /// The names of `--container` that none of `seen` matches (still awaited).
    pub fn unmatched_names<'a>(&'a self, seen: &[Candidate<'_>]) -> Vec<&'a str> {
        self.names
            .iter()
            .filter(|n| !seen.iter().any(|c| names(n, c)))
            .map(String::as_str)
            .collect()
    }
}

/// Whether `wanted` names the container: its name, its id, or a prefix of its id of at least 12
/// characters (as `docker ps` shows it).
fn names(wanted: &str, c: &Candidate<'_>) -> bool {
    let wanted = wanted.strip_prefix('/').unwrap_or(wanted);
    wanted == c.name || wanted == c.id || (wanted.len() >= 12 && c.id.starts_with(wanted))
}

/// Parses `KEY` or `KEY=VALUE`.
pub fn parse_label(text: &str) -> Result<(String, Option<String>), String> {
    let (key, value) = match text.split_once('=') {
        Some((key, value)) => (key, Some(value.to_owned())),
        None => (text, None),
    };
    if key.is_empty() {
        return Err("a label needs a key: KEY or KEY=VALUE".into());
    }
    Ok((key.to_owned(), value))
}

/// The compose project a `docker compose` run in `dir` would use: `COMPOSE_PROJECT_NAME` if set
/// (`env`), else the directory's name; lowercased, keeping `a-z`, `0-9`, `_` and `-`, starting
/// with a letter or digit (Compose's own rule).
pub fn default_project(env: Option<&str>, dir: &std::path::Path) -> Option<String> {
    let raw = match env.filter(|e| !e.is_empty()) {
        Some(name) => name.to_owned(),
        None => dir.file_name()?.to_string_lossy().into_owned(),
    };
    let name: String = raw
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .collect();
    (!name.is_empty()).then_some(name)
}

/// What one output directory stands for: a compose service (all its replicas, merged) or a
/// container by name (every container of that name in the run, e.g. recreated, merged).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// A compose service.
    Service {
        /// The project.
        project: String,
        /// The service.
        service: String,
    },
    /// A container outside compose.
    Container {
        /// Its name.
        name: String,
    },
}

impl Group {
    /// The group of a container.
    pub fn of(c: &Candidate<'_>) -> Group {
        match (c.labels.get(COMPOSE_PROJECT), c.labels.get(COMPOSE_SERVICE)) {
            (Some(project), Some(service)) => Group::Service {
                project: project.clone(),
                service: service.clone(),
            },
            _ => Group::Container {
                name: c.name.to_owned(),
            },
        }
    }

    /// Its directory name when nothing clashes: the service, or the container name.
    fn plain_name(&self) -> String {
        match self {
            Group::Service { service, .. } => safe_component(service),
            Group::Container { name } => safe_component(name),
        }
    }
}

/// `text` as one safe path component: bytes outside `[A-Za-z0-9_.-]` become `_`, and a name that
/// is empty or only dots becomes `_`. Labels come from images, which anyone can build: a label
/// must never name a path outside the output directory.
pub fn safe_component(text: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.chars().all(|c| c == '.') {
        name = format!("_{name}");
    }
    name
}

/// The directory name of each group (in `groups`' order): the compose service or the container
/// name; where two groups would share one, the compose ones become `<project>-<service>`, and any
/// left sharing get `-2`, `-3`, ... in the order given (the order the containers were first seen).
pub fn dir_names(groups: &[Group]) -> Vec<String> {
    let count = |names: &[String], name: &str| names.iter().filter(|n| *n == name).count();
    let plain: Vec<String> = groups.iter().map(Group::plain_name).collect();
    let qualified: Vec<String> = groups
        .iter()
        .zip(&plain)
        .map(|(group, name)| match group {
            Group::Service { project, service } if count(&plain, name) > 1 => {
                safe_component(&format!("{project}-{service}"))
            }
            _ => name.clone(),
        })
        .collect();
    let mut taken = BTreeSet::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    qualified
        .iter()
        .map(|name| {
            let n = seen.entry(name).or_default();
            *n += 1;
            let mut candidate = if *n == 1 {
                name.clone()
            } else {
                format!("{name}-{n}")
            };
            while !taken.insert(candidate.clone()) {
                *n += 1;
                candidate = format!("{name}-{n}");
            }
            candidate
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const ID: &str = "4f1c2b3a4f1c2b3a4f1c2b3a4f1c2b3a4f1c2b3a4f1c2b3a4f1c2b3a4f1c2b3a";

    #[test]
    fn names_ids_labels_and_projects_select() {
        let compose = labels(&[
            (COMPOSE_PROJECT, "shop"),
            (COMPOSE_SERVICE, "db"),
            ("tier", "data"),
        ]);
        let c = Candidate {
            id: ID,
            name: "shop-db-1",
            labels: &compose,
        };
        let by = |s: Selection| s.matches(&c);
        assert!(by(Selection {
            names: vec!["shop-db-1".into()],
            ..Selection::default()
        }));
        assert!(by(Selection {
            names: vec!["/shop-db-1".into()],
            ..Selection::default()
        }));
        assert!(by(Selection {
            names: vec![ID[..12].into()],
            ..Selection::default()
        }));
        assert!(
            !by(Selection {
                names: vec![ID[..8].into()],
                ..Selection::default()
            }),
            "a short prefix is not an id"
        );
        assert!(!by(Selection {
            names: vec!["shop-db".into()],
            ..Selection::default()
        }));
        assert!(by(Selection {
            projects: vec!["shop".into()],
            ..Selection::default()
        }));
        assert!(!by(Selection {
            projects: vec!["shop2".into()],
            ..Selection::default()
        }));
        let label = |l: &[&str]| Selection {
            labels: l.iter().map(|t| parse_label(t).unwrap()).collect(),
            ..Selection::default()
        };
        assert!(by(label(&["tier"])));
        assert!(by(label(&["tier=data", "com.docker.compose.service=db"])));
        assert!(!by(label(&["tier=data", "other"])), "every label must hold");
        assert!(!by(label(&["tier=web"])));
        assert!(!by(Selection::default()));
        assert!(parse_label("=x").is_err());
        assert_eq!(
            parse_label("a=b=c").unwrap(),
            ("a".into(), Some("b=c".into()))
        );
    }

    #[test]
    fn unmatched_names_are_the_ones_still_awaited() {
        let none = BTreeMap::new();
        let web = Candidate {
            id: ID,
            name: "web",
            labels: &none,
        };
        let s = Selection {
            names: vec!["web".into(), "db".into()],
            ..Selection::default()
        };
        assert_eq!(s.unmatched_names(&[web]), ["db"]);
        assert_eq!(s.unmatched_names(&[]), ["web", "db"]);
    }

    #[test]
    fn the_project_defaults_like_compose() {
        let dir = std::path::Path::new("/home/me/My Shop.v2");
        assert_eq!(default_project(None, dir).as_deref(), Some("myshopv2"));
        assert_eq!(
            default_project(Some("Prod_1"), dir).as_deref(),
            Some("prod_1")
        );
        assert_eq!(default_project(Some(""), dir).as_deref(), Some("myshopv2"));
        assert_eq!(
            default_project(None, std::path::Path::new("/x/__-app")).as_deref(),
            Some("app")
        );
        assert_eq!(default_project(None, std::path::Path::new("/")), None);
    }

    #[test]
    fn replicas_share_a_group_and_clashes_get_qualified() {
        let none = BTreeMap::new();
        let a1 = labels(&[(COMPOSE_PROJECT, "a"), (COMPOSE_SERVICE, "web")]);
        let b1 = labels(&[(COMPOSE_PROJECT, "b"), (COMPOSE_SERVICE, "web")]);
        let group = |name, labels| {
            Group::of(&Candidate {
                id: ID,
                name,
                labels,
            })
        };
        assert_eq!(group("a-web-1", &a1), group("a-web-2", &a1));
        let groups = [
            group("a-web-1", &a1),
            group("b-web-1", &b1),
            group("db", &none),
            group("web", &none),
        ];
        assert_eq!(dir_names(&groups), ["a-web", "b-web", "db", "web"]);
        let groups = [group("a-web-1", &a1), group("db", &none)];
        assert_eq!(dir_names(&groups), ["web", "db"]);
        // Two services of the same name in the same project cannot be; a container named like
        // a qualified service is told apart by a number.
        let groups = [
            group("a-web-1", &a1),
            group("b-web-1", &b1),
            group("a-web", &none),
        ];
        assert_eq!(dir_names(&groups), ["a-web", "b-web", "a-web-2"]);
    }

    #[test]
    fn hostile_labels_stay_one_component() {
        let evil = labels(&[(COMPOSE_PROJECT, "p"), (COMPOSE_SERVICE, "../../etc")]);
        let dots = labels(&[(COMPOSE_PROJECT, "p"), (COMPOSE_SERVICE, "..")]);
        let names = dir_names(&[
            Group::of(&Candidate {
                id: ID,
                name: "x",
                labels: &evil,
            }),
            Group::of(&Candidate {
                id: ID,
                name: "y",
                labels: &dots,
            }),
        ]);
        assert_eq!(names, [".._.._etc", "_.."]);
        assert!(names.iter().all(|n| !n.contains('/') && n != ".."));
        assert_eq!(safe_component("a b\nc"), "a_b_c");
    }
}
