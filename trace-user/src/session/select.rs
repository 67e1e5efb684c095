//! Which containers a session records, and where each one's outputs go. Pure: decided from what
//! the runtime says of a container (id, name, labels).

use std::collections::{BTreeMap, BTreeSet};

use crate::runtime::cri::{CONTAINER_NAME, POD_NAME, POD_NAMESPACE};

/// The compose label naming a container's project.
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
/// The compose label naming a container's service.
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// What to record: a container is recorded when it has one of the names, is one of the ids,
/// belongs to one of the compose projects, has every one of the labels, or belongs to one of the
/// pods.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Container names or ids (full, or a prefix of at least 12 hex digits), `--container`.
    pub names: Vec<String>,
    /// Labels, `KEY` (any value) or `KEY=VALUE`, all of which a container must have, `--label`.
    pub labels: Vec<(String, Option<String>)>,
    /// Compose projects, `--compose-project`.
    pub projects: Vec<String>,
    /// Kubernetes pods, `--pod`: their containers are recorded.
    pub pods: Vec<PodSelector>,
}

/// The pods `--pod` names: one by name, or those whose labels hold, in a namespace or in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSelector {
    /// The namespace; `None`: every namespace (`*/...`).
    pub namespace: Option<String>,
    /// Which pods of it.
    pub pods: PodsBy,
}

/// How a [`PodSelector`] picks pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodsBy {
    /// The pod of this name.
    Name(String),
    /// The pods with every one of these labels (`KEY` any value, `KEY=VALUE`).
    Labels(Vec<(String, Option<String>)>),
}

impl PodSelector {
    /// Whether a container or pod sandbox with these labels (the kubelet's and the pod's)
    /// belongs to a selected pod.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let Some(namespace) = labels.get(POD_NAMESPACE) else {
            return false;
        };
        if self.namespace.as_ref().is_some_and(|n| n != namespace) {
            return false;
        }
        match &self.pods {
            PodsBy::Name(name) => labels.get(POD_NAME) == Some(name),
            PodsBy::Labels(wanted) => has_labels(labels, wanted),
        }
    }
}

impl std::fmt::Display for PodSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/", self.namespace.as_deref().unwrap_or("*"))?;
        match &self.pods {
            PodsBy::Name(name) => write!(f, "{name}"),
            PodsBy::Labels(labels) => {
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| label_text(k, v.as_deref()))
                    .collect();
                write!(f, "{}", labels.join(","))
            }
        }
    }
}

/// `KEY` or `KEY=VALUE`.
pub fn label_text(key: &str, value: Option<&str>) -> String {
    value.map_or_else(|| key.to_owned(), |v| format!("{key}={v}"))
}

/// Whether `labels` has every one of `wanted` (`KEY` any value, `KEY=VALUE`).
fn has_labels(labels: &BTreeMap<String, String>, wanted: &[(String, Option<String>)]) -> bool {
    wanted.iter().all(|(key, value)| {
        labels
            .get(key)
            .is_some_and(|v| value.as_ref().is_none_or(|want| want == v))
    })
}

/// Parses `--pod`: `[NAMESPACE/]NAME` or `[NAMESPACE/]KEY[=VALUE][,KEY[=VALUE]...]`, the
/// namespace `default` when none is given and every namespace when it is `*`. A pod name never
/// holds `=` or `,`: a text that does is a label selector.
pub fn parse_pod(text: &str) -> Result<PodSelector, String> {
    let (namespace, rest) = match text.split_once('/') {
        Some(("*", rest)) => (None, rest),
        Some((namespace, rest)) => (Some(namespace.to_owned()), rest),
        None => (Some("default".to_owned()), text),
    };
    if namespace.as_ref().is_some_and(String::is_empty) {
        return Err("the namespace before / is empty".into());
    }
    if rest.is_empty() {
        return Err("expected [NAMESPACE/]NAME or [NAMESPACE/]KEY=VALUE[,KEY=VALUE...]".into());
    }
    if rest.contains('/') {
        return Err(format!("{rest:?}: a pod name or label selector has no /"));
    }
    let pods = if rest.contains('=') || rest.contains(',') {
        PodsBy::Labels(rest.split(',').map(parse_label).collect::<Result<_, _>>()?)
    } else {
        PodsBy::Name(rest.to_owned())
    };
    Ok(PodSelector { namespace, pods })
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
        self.names.is_empty()
            && self.labels.is_empty()
            && self.projects.is_empty()
            && self.pods.is_empty()
    }

    /// Whether `c` is to be recorded.
    pub fn matches(&self, c: &Candidate<'_>) -> bool {
        self.names.iter().any(|n| names(n, c))
            || c.labels
                .get(COMPOSE_PROJECT)
                .is_some_and(|p| self.projects.contains(p))
            || (!self.labels.is_empty() && has_labels(c.labels, &self.labels))
            || self.pods.iter().any(|p| p.matches(c.labels))
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

/// What one output directory stands for: a compose service (all its replicas, merged), a
/// container of a pod's workload (every replica's, merged), or a container by name (every
/// container of that name in the run, e.g. recreated, merged).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// A compose service.
    Service {
        /// The project.
        project: String,
        /// The service.
        service: String,
    },
    /// A container of a Kubernetes pod, as every replica of the pod's workload has it.
    Pod {
        /// The pod's namespace.
        namespace: String,
        /// The pod's workload ([`workload`]): the same on every replica and every node.
        workload: String,
        /// The container's name in the pod.
        container: String,
    },
    /// A container outside compose and Kubernetes.
    Container {
        /// Its name.
        name: String,
    },
}

impl Group {
    /// The group of a container.
    pub fn of(c: &Candidate<'_>) -> Group {
        let label = |key| c.labels.get(key);
        match (label(COMPOSE_PROJECT), label(COMPOSE_SERVICE)) {
            (Some(project), Some(service)) => Group::Service {
                project: project.clone(),
                service: service.clone(),
            },
            _ => match (label(POD_NAMESPACE), label(POD_NAME), label(CONTAINER_NAME)) {
                (Some(namespace), Some(pod), Some(container)) => Group::Pod {
                    namespace: namespace.clone(),
                    workload: workload(pod, c.labels),
                    container: container.clone(),
                },
                _ => Group::Container {
                    name: c.name.to_owned(),
                },
            },
        }
    }

    /// Its directory name when nothing clashes: the service, the workload and container, or the
    /// container name.
    fn plain_name(&self) -> String {
        match self {
            Group::Service { service, .. } => safe_component(service),
            Group::Pod {
                workload,
                container,
                ..
            } => safe_component(&format!("{workload}-{container}")),
            Group::Container { name } => safe_component(name),
        }
    }

    /// Its directory name when its plain name clashes with another's: qualified by the compose
    /// project or the namespace.
    fn qualified_name(&self) -> String {
        match self {
            Group::Service { project, service } => safe_component(&format!("{project}-{service}")),
            Group::Pod {
                namespace,
                workload,
                container,
            } => safe_component(&format!("{namespace}-{workload}-{container}")),
            Group::Container { name } => safe_component(name),
        }
    }
}

/// The workload a pod is a replica of, from its name and the labels its controller gives it: a
/// Deployment's pod `web-5d8f7c9b4-x2x7k` (label `pod-template-hash=5d8f7c9b4`) is `web`, a
/// `StatefulSet`'s `db-2` is `db`, a `DaemonSet`'s `agent-x2x7k` (label `controller-revision-hash`)
/// is `agent`, a Job's pod is its job; any other pod is itself.
pub fn workload(pod: &str, labels: &BTreeMap<String, String>) -> String {
    let label = |key: &str| labels.get(key).map(String::as_str);
    if let Some(hash) = label("pod-template-hash")
        && let Some(at) = pod.rfind(&format!("-{hash}-"))
    {
        return pod[..at].to_owned();
    }
    if label("statefulset.kubernetes.io/pod-name") == Some(pod)
        && let Some((name, ordinal)) = pod.rsplit_once('-')
        && !ordinal.is_empty()
        && ordinal.bytes().all(|b| b.is_ascii_digit())
    {
        return name.to_owned();
    }
    if let Some(job) = label("batch.kubernetes.io/job-name").or(label("job-name")) {
        return job.to_owned();
    }
    if label("controller-revision-hash").is_some()
        && let Some((name, suffix)) = pod.rsplit_once('-')
        && suffix.len() == 5
        && suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return name.to_owned();
    }
    pod.to_owned()
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

/// The directory name of each group (in `groups`' order): the compose service, the pod's
/// `<workload>-<container>` or the container name; where two groups would share one, the compose
/// ones become `<project>-<service>` and the pod ones `<namespace>-<workload>-<container>`, and
/// any left sharing get `-2`, `-3`, ... in the order given (the order the containers were first
/// seen).
pub fn dir_names(groups: &[Group]) -> Vec<String> {
    let count = |names: &[String], name: &str| names.iter().filter(|n| *n == name).count();
    let plain: Vec<String> = groups.iter().map(Group::plain_name).collect();
    let qualified: Vec<String> = groups
        .iter()
        .zip(&plain)
        .map(|(group, name)| {
            if count(&plain, name) > 1 {
                group.qualified_name()
            } else {
                name.clone()
            }
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

    fn pod_labels(pod: &str, namespace: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut all = labels(&[(POD_NAME, pod), (POD_NAMESPACE, namespace)]);
        all.extend(labels(extra));
        all
    }

    #[test]
    fn pods_are_named_or_selected_by_label_within_a_namespace() {
        let web = pod_labels(
            "web-5d8f7c9b4-x2x7k",
            "shop",
            &[("app", "web"), ("tier", "front")],
        );
        let matches = |text: &str| parse_pod(text).unwrap().matches(&web);
        assert!(matches("shop/web-5d8f7c9b4-x2x7k"));
        assert!(
            !matches("web-5d8f7c9b4-x2x7k"),
            "the namespace is default when not given"
        );
        assert!(matches("shop/app=web"));
        assert!(matches("shop/app=web,tier"));
        assert!(!matches("shop/app=web,tier=back"), "every label must hold");
        assert!(matches("*/app=web"));
        assert!(!matches("other/app=web"));
        assert!(!matches("*/app=db"));
        assert!(
            !parse_pod("*/app")
                .unwrap()
                .matches(&labels(&[("app", "web")])),
            "a container of no pod"
        );
        assert_eq!(
            parse_pod("web").unwrap(),
            PodSelector {
                namespace: Some("default".into()),
                pods: PodsBy::Name("web".into()),
            }
        );
        assert_eq!(
            parse_pod("shop/tier").unwrap().pods,
            PodsBy::Name("tier".into()),
            "a bare word is a name; a key alone needs a comma or a value"
        );
        assert_eq!(
            parse_pod("shop/tier,").map(|p| p.pods).unwrap_err(),
            "a label needs a key: KEY or KEY=VALUE"
        );
        for bad in ["", "/web", "shop/", "a/b/c"] {
            assert!(parse_pod(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_pod("*/app=web,tier").unwrap().to_string(),
            "*/app=web,tier"
        );
        let selection = Selection {
            pods: vec![parse_pod("shop/app=web").unwrap()],
            ..Selection::default()
        };
        assert!(!selection.is_empty());
        assert!(selection.matches(&Candidate {
            id: ID,
            name: "shop/web-5d8f7c9b4-x2x7k/app",
            labels: &web,
        }));
    }

    #[test]
    fn replicas_are_one_workload() {
        let of = |pod: &str, extra: &[(&str, &str)]| workload(pod, &labels(extra));
        assert_eq!(
            of("web-5d8f7c9b4-x2x7k", &[("pod-template-hash", "5d8f7c9b4")]),
            "web"
        );
        assert_eq!(
            of(
                "my-web-5d8f7c9b4-x2x7k",
                &[("pod-template-hash", "5d8f7c9b4")]
            ),
            "my-web"
        );
        assert_eq!(
            of(
                "db-2",
                &[
                    ("statefulset.kubernetes.io/pod-name", "db-2"),
                    ("controller-revision-hash", "db-6b")
                ]
            ),
            "db"
        );
        assert_eq!(
            of(
                "agent-x2x7k",
                &[
                    ("controller-revision-hash", "6d4f"),
                    ("pod-template-generation", "1")
                ]
            ),
            "agent"
        );
        assert_eq!(
            of(
                "backup-28374650-q9z4m",
                &[("batch.kubernetes.io/job-name", "backup-28374650")]
            ),
            "backup-28374650"
        );
        assert_eq!(of("debug", &[]), "debug");
        assert_eq!(
            of("web-x2x7k", &[("pod-template-hash", "other")]),
            "web-x2x7k"
        );
    }

    #[test]
    fn pod_groups_name_their_directories_after_the_workload() {
        let group = |pod: &str, namespace: &str, container: &str| {
            let mut all = pod_labels(pod, namespace, &[("pod-template-hash", "5d8f7c9b4")]);
            all.insert(CONTAINER_NAME.into(), container.into());
            Group::of(&Candidate {
                id: ID,
                name: "ignored",
                labels: &all,
            })
        };
        // Replicas, on this node or another, are one group with one directory name.
        let a = group("web-5d8f7c9b4-x2x7k", "shop", "app");
        assert_eq!(a, group("web-5d8f7c9b4-q9z4m", "shop", "app"));
        let sidecar = group("web-5d8f7c9b4-x2x7k", "shop", "proxy");
        assert_eq!(dir_names(&[a.clone(), sidecar]), ["web-app", "web-proxy"]);
        // The same workload in two namespaces: qualified.
        let other = group("web-5d8f7c9b4-x2x7k", "test", "app");
        assert_eq!(dir_names(&[a, other]), ["shop-web-app", "test-web-app"]);
        // A hostile container name stays one component.
        let evil = group("web-5d8f7c9b4-x2x7k", "shop", "../../etc");
        assert_eq!(dir_names(&[evil]), ["web-.._.._etc"]);
    }
}
