//! Keeping the file rules within what `apparmor_parser` loads (figures in docs/apparmor.md).
//!
//! The parser compiles all file rules into one DFA of at most 65,535 states, takes time
//! quadratic in the number of rules, and reads at most [`MAX_WORD`] characters as one path. So
//! the rules one per recorded path are collapsed into globs, narrowest first:
//!
//! 1. a directory with more than [`DIR_LIMIT`] files (or subdirectories) with rules gets one
//!    `"dir/*"` (`"dir/*/"`) rule with the union of their permissions in place of theirs;
//! 2. while there are more than [`RULE_BUDGET`] rules or an estimated [`STATE_BUDGET`] DFA states,
//!    the directories with the most such rules are collapsed the same way, largest first;
//! 3. if that is not enough, whole trees become `"dir/**"`, deepest directories first, largest
//!    first within a depth, up to `"/**"`;
//! 4. a path longer than [`MAX_WORD`] characters once quoted, or than [`MAX_RULE_STATES`] bytes,
//!    gets its longest names written as `*`, and if even that is too long, it is cut to the
//!    longest directory that fits, and `/**`.
//!
//! Rules that execute (`ix`) are never part of steps 1 to 3: each program keeps its own rule. Only
//! when the programs alone are over the budget do steps 2 and 3 run again including them, and
//! step 4 applies to every path; the profile's header then says how many programs are allowed
//! through globs. A glob never loses a permission: every recorded path stays allowed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use super::escape::{MAX_WORD, Segment, literal_len};
use crate::recording::Access;

/// Files (or subdirectories) with rules directly in one directory beyond which they become one
/// `dir/*` rule: more names than a person reviews one by one, and typical of library, cache and
/// package directories, where the names are incidental.
pub const DIR_LIMIT: usize = 64;

/// File rules beyond which directories are collapsed further. The parser's time grows with the
/// square of the rule count (about 3 s for 2,000 rules sharing a long prefix, 12 s for 4,000).
pub const RULE_BUDGET: usize = 2_000;

/// Estimated DFA states beyond which directories are collapsed further: the parser refuses more
/// than 65,535 states, and the rest of the profile (variables, deny rules) needs room. The
/// estimate counts every byte of every distinct name once per directory, which is at least what
/// the parser builds for literal paths.
pub const STATE_BUDGET: usize = 40_000;

/// The most DFA states one rule may need (one per byte of a literal path): every path a system
/// call takes (at most 4,095 bytes) fits, with a directory's trailing slash. Longer recorded paths
/// are shortened: the parser's time grows with the square of a rule's length (0.2 s for 4,000
/// bytes, 1 s for 8,000, 7 s for 16,000).
pub const MAX_RULE_STATES: usize = 4_096;

/// How a rule came to be a glob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Glob {
    /// `dir/*`: the names directly in a directory.
    Names,
    /// `dir/**`: everything below a directory.
    Tree,
}

/// One rule after collapsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// The path, as [`super::file_rules::rule_path`] writes it (no trailing slash).
    pub path: Vec<Segment>,
    /// Names directories (written with a trailing slash).
    pub dir: bool,
    /// The union of the accesses of the paths it stands for.
    pub accesses: BTreeSet<Access>,
    /// Rule paths it stands for (recorded paths, those differing only in a pid counted once).
    pub paths: usize,
    /// Of those, programs run.
    pub programs: usize,
    /// Made a glob by steps 1 to 3.
    pub glob: Option<Glob>,
    /// Names written as `*` because the path was too long for the parser.
    pub long_names: usize,
    /// Cut to `dir/**` because the path was too long even with `*` names.
    pub cut: bool,
}

impl Pattern {
    /// Whether the rule is a glob standing for what it does not name: collapsed or shortened.
    pub fn widened(&self) -> bool {
        self.glob.is_some() || self.long_names > 0 || self.cut
    }

    /// The path as quoted: with a trailing slash for a directory.
    pub fn quoted_path(&self) -> Vec<Segment> {
        let mut path = self.path.clone();
        if self.dir && !matches!(path.last(), Some(Segment::Literal(l)) if l.ends_with(b"/")) {
            path.push(Segment::Literal(b"/".to_vec()));
        }
        path
    }
}

/// One name in a rule path (between two slashes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Literal(Vec<u8>),
    Pid,
    Tid,
    AnyName,
    AnyPath,
}

impl Part {
    fn is_glob(&self) -> bool {
        matches!(self, Part::AnyName | Part::AnyPath)
    }

    /// Estimated DFA states for this name and the slash before it. A variable expands to a few
    /// alternatives per digit (`"/proc/@{pid}/status"` compiles to 22 states).
    fn states(&self) -> usize {
        match self {
            Part::Literal(bytes) => bytes.len() + 1,
            Part::Pid | Part::Tid => 16,
            Part::AnyName => 2,
            Part::AnyPath => 3,
        }
    }

    /// Characters in a quoted word for this name and the slash before it.
    fn word_len(&self) -> usize {
        1 + match self {
            Part::Literal(bytes) => literal_len(bytes),
            Part::Pid | Part::Tid => 6,
            Part::AnyName => 1,
            Part::AnyPath => 2,
        }
    }
}

/// The names of a rule path; `None` when a literal holds NUL (not a path).
fn names(path: &[Segment]) -> Option<Vec<Part>> {
    let mut names = Vec::new();
    let mut pending = Vec::new();
    let flush = |pending: &mut Vec<u8>, names: &mut Vec<Part>| {
        if !pending.is_empty() {
            names.push(Part::Literal(std::mem::take(pending)));
        }
    };
    for segment in path {
        let name = match segment {
            Segment::Literal(bytes) => {
                if bytes.contains(&0) {
                    return None;
                }
                for &b in bytes {
                    if b == b'/' {
                        flush(&mut pending, &mut names);
                    } else {
                        pending.push(b);
                    }
                }
                continue;
            }
            Segment::Pid => Part::Pid,
            Segment::Tid => Part::Tid,
            Segment::AnyName => Part::AnyName,
            Segment::AnyPath => Part::AnyPath,
        };
        flush(&mut pending, &mut names);
        names.push(name);
    }
    flush(&mut pending, &mut names);
    Some(names)
}

/// `names` as segments, literals merged: the form [`super::file_rules::rule_path`] gives, so
/// rules sort as they always did.
fn segments(names: &[Part]) -> Vec<Segment> {
    if names.is_empty() {
        return vec![Segment::Literal(b"/".to_vec())];
    }
    let mut segments = Vec::new();
    let mut literal = Vec::new();
    for name in names {
        literal.push(b'/');
        let variable = match name {
            Part::Literal(bytes) => {
                literal.extend_from_slice(bytes);
                continue;
            }
            Part::Pid => Segment::Pid,
            Part::Tid => Segment::Tid,
            Part::AnyName => Segment::AnyName,
            Part::AnyPath => Segment::AnyPath,
        };
        segments.push(Segment::Literal(std::mem::take(&mut literal)));
        segments.push(variable);
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    segments
}

/// What a rule stands for.
#[derive(Clone, Debug, Default)]
struct Stands {
    accesses: BTreeSet<Access>,
    paths: usize,
    programs: usize,
}

impl Stands {
    fn executes(&self) -> bool {
        self.accesses.contains(&Access::Exec)
    }

    fn absorb(&mut self, other: Stands) {
        self.accesses.extend(other.accesses);
        self.paths += other.paths;
        self.programs += other.programs;
    }
}

/// Parent directory, name, names a directory.
type Key = (Vec<Part>, Part, bool);

/// The rules while collapsing, sorted by parent directory.
#[derive(Default)]
struct Rules {
    entries: BTreeMap<Key, Stands>,
    /// `/` itself.
    root: Option<Stands>,
}

/// Estimated DFA states of rules given sorted by parent: a trie of names, so a directory shared
/// by consecutive rules counts once.
fn trie_states<'a>(keys: impl IntoIterator<Item = (&'a [Part], &'a Part, bool)>) -> usize {
    let mut previous: &[Part] = &[];
    let mut states = 0;
    for (parent, name, dir) in keys {
        let shared = previous
            .iter()
            .zip(parent)
            .take_while(|(a, b)| a == b)
            .count();
        states += parent[shared..].iter().map(Part::states).sum::<usize>()
            + name.states()
            + usize::from(dir);
        previous = parent;
    }
    states
}

/// A rule's parent below the first `depth` names, its name and kind.
fn relative<'a>(entry: &(&'a Key, &'a Stands), depth: usize) -> (&'a [Part], &'a Part, bool) {
    let (parent, name, dir) = entry.0;
    (&parent[depth..], name, *dir)
}

/// Whether `rules` rules of about `states` states are within the budgets.
fn within(rules: usize, states: usize) -> bool {
    rules <= RULE_BUDGET && states <= STATE_BUDGET
}

/// A collapse that steps 2 and 3 may make.
struct Candidate {
    dir: Vec<Part>,
    /// `Some(kind)`: the names of that kind directly in `dir` (`dir/*`); `None`: the tree.
    names: Option<(bool, Vec<Part>)>,
    rules_saved: usize,
    states_before: usize,
    states_after: usize,
}

impl Rules {
    fn count(&self) -> usize {
        self.entries.len() + usize::from(self.root.is_some())
    }

    fn states(&self) -> usize {
        trie_states(
            self.entries
                .keys()
                .map(|(parent, name, dir)| (parent.as_slice(), name, *dir)),
        ) + usize::from(self.root.is_some())
    }

    fn within(&self) -> bool {
        within(self.count(), self.states())
    }

    /// The names (not globs) directly in each directory, by kind, that may be collapsed.
    fn name_groups(&self, programs: bool) -> BTreeMap<(Vec<Part>, bool), Vec<Part>> {
        let mut groups: BTreeMap<(Vec<Part>, bool), Vec<Part>> = BTreeMap::new();
        for ((parent, name, dir), stands) in &self.entries {
            if !name.is_glob() && (programs || !stands.executes()) {
                groups
                    .entry((parent.clone(), *dir))
                    .or_default()
                    .push(name.clone());
            }
        }
        groups
    }

    /// Replaces `names` of kind `dir` in `parent` by `parent/*`.
    fn collapse_names(&mut self, parent: &[Part], dir: bool, names: &[Part]) {
        let mut glob = Stands::default();
        for name in names {
            if let Some(stands) = self.entries.remove(&(parent.to_vec(), name.clone(), dir)) {
                glob.absorb(stands);
            }
        }
        self.entries
            .entry((parent.to_vec(), Part::AnyName, dir))
            .or_default()
            .absorb(glob);
    }

    /// Replaces every rule below `parent` that may be collapsed by `parent/**`.
    fn collapse_tree(&mut self, parent: &[Part], programs: bool) {
        let start = (parent.to_vec(), Part::Literal(Vec::new()), false);
        let keys: Vec<Key> = self
            .entries
            .range(start..)
            .take_while(|((p, _, _), _)| p.starts_with(parent))
            .filter(|(_, stands)| programs || !stands.executes())
            .map(|(key, _)| key.clone())
            .collect();
        let mut glob = Stands::default();
        for key in keys {
            if let Some(stands) = self.entries.remove(&key) {
                glob.absorb(stands);
            }
        }
        self.entries
            .entry((parent.to_vec(), Part::AnyPath, false))
            .or_default()
            .absorb(glob);
    }

    /// Step 1: every directory with more than [`DIR_LIMIT`] names of one kind.
    fn collapse_crowded_dirs(&mut self) {
        for ((parent, dir), names) in self.name_groups(false) {
            if names.len() > DIR_LIMIT {
                self.collapse_names(&parent, dir, &names);
            }
        }
    }

    /// The step 2 candidates: directories with two or more names of one kind.
    fn name_candidates(&self, programs: bool) -> Vec<Candidate> {
        self.name_groups(programs)
            .into_iter()
            .filter(|(_, names)| names.len() >= 2)
            .map(|((parent, dir), names)| {
                let glob = self
                    .entries
                    .get(&(parent.clone(), Part::AnyName, dir))
                    .map(|_| Part::AnyName.states() + usize::from(dir));
                let states_before = names
                    .iter()
                    .map(|n| n.states() + usize::from(dir))
                    .sum::<usize>()
                    + glob.unwrap_or(0);
                Candidate {
                    rules_saved: names.len() - usize::from(glob.is_none()),
                    states_before,
                    states_after: Part::AnyName.states() + usize::from(dir),
                    names: Some((dir, names)),
                    dir: parent,
                }
            })
            .collect()
    }

    /// The step 3 candidates at `depth`: each directory that deep with rules below it whose
    /// collapse reduces what is over the budget.
    fn tree_candidates<'a>(&'a self, depth: usize, programs: bool) -> Vec<Candidate> {
        let over_rules = self.count() > RULE_BUDGET;
        let over_states = self.states() > STATE_BUDGET;
        let mut candidates = Vec::new();
        // Rules below one directory are consecutive (sorted by parent).
        let mut group: Vec<(&'a Key, &'a Stands)> = Vec::new();
        let mut finish = |group: &mut Vec<(&'a Key, &'a Stands)>| {
            let Some(((first, _, _), _)) = group.first() else {
                return;
            };
            let dir = first[..depth].to_vec();
            let relative = |entry: &(&'a Key, &'a Stands)| relative(entry, depth);
            let collapsible = |(_, stands): &&(&Key, &Stands)| programs || !stands.executes();
            let merged = group.iter().filter(collapsible).count();
            let states_before = trie_states(group.iter().map(relative));
            let states_after = trie_states(
                group
                    .iter()
                    .filter(|entry| !collapsible(entry))
                    .map(relative),
            ) + Part::AnyPath.states();
            let rules_saved = merged.saturating_sub(1);
            if (over_rules && rules_saved > 0) || (over_states && states_after < states_before) {
                candidates.push(Candidate {
                    dir,
                    names: None,
                    rules_saved,
                    states_before,
                    states_after,
                });
            }
            group.clear();
        };
        for entry in &self.entries {
            let ((parent, _, _), _) = entry;
            if parent.len() < depth {
                continue;
            }
            if let Some(((first, _, _), _)) = group.first()
                && first[..depth] != parent[..depth]
            {
                finish(&mut group);
            }
            group.push(entry);
        }
        finish(&mut group);
        candidates
    }

    /// Makes `candidates`, those saving most first, until within the budgets; only those that
    /// reduce what is over.
    fn apply(&mut self, mut candidates: Vec<Candidate>, programs: bool) {
        let (mut rules, mut states) = (self.count(), self.states());
        if rules > RULE_BUDGET {
            candidates.sort_by_key(|c| {
                (
                    Reverse(c.rules_saved),
                    Reverse(c.states_before.saturating_sub(c.states_after)),
                )
            });
        } else {
            candidates.sort_by_key(|c| {
                (
                    Reverse(c.states_before.saturating_sub(c.states_after)),
                    Reverse(c.rules_saved),
                )
            });
        }
        for candidate in candidates {
            if within(rules, states) {
                return;
            }
            let helps = (rules > RULE_BUDGET && candidate.rules_saved > 0)
                || (states > STATE_BUDGET && candidate.states_after < candidate.states_before);
            if !helps {
                continue;
            }
            match &candidate.names {
                Some((dir, names)) => self.collapse_names(&candidate.dir, *dir, names),
                None => self.collapse_tree(&candidate.dir, programs),
            }
            rules = rules.saturating_sub(candidate.rules_saved);
            states = (states + candidate.states_after).saturating_sub(candidate.states_before);
        }
    }

    /// Steps 2 and 3, with or without the rules that execute.
    fn collapse_until_within(&mut self, programs: bool) {
        if self.within() {
            return;
        }
        self.apply(self.name_candidates(programs), programs);
        let deepest = self.entries.keys().map(|(p, _, _)| p.len()).max();
        for depth in (0..=deepest.unwrap_or(0)).rev() {
            if self.within() {
                return;
            }
            self.apply(self.tree_candidates(depth, programs), programs);
        }
    }
}

/// `names` (of a directory when `dir`) shortened until its quoted word fits [`MAX_WORD`] and it
/// needs at most [`MAX_RULE_STATES`]: the longest literal names become `*`, then, if needed, the
/// path is cut to the longest directory that fits and `/**`. Returns the names, whether they name
/// a directory, how many names are `*` for that reason and whether the path was cut.
fn fit(mut names: Vec<Part>, dir: bool) -> (Vec<Part>, bool, usize, bool) {
    let quotes = 2;
    let slash = usize::from(dir || names.is_empty());
    let mut word = quotes + names.iter().map(Part::word_len).sum::<usize>() + slash;
    let mut states = names.iter().map(Part::states).sum::<usize>() + slash;
    let fits = |word: usize, states: usize| word <= MAX_WORD && states <= MAX_RULE_STATES;
    if fits(word, states) {
        return (names, dir, 0, false);
    }
    let mut longest: Vec<(usize, usize)> = names
        .iter()
        .enumerate()
        .filter(
            |(_, n)| matches!(n, Part::Literal(bytes) if bytes.len() > 1 || literal_len(bytes) > 1),
        )
        .map(|(i, n)| (n.word_len(), i))
        .collect();
    longest.sort_by_key(|&(len, i)| (Reverse(len), i));
    let mut starred = 0;
    for (len, i) in longest {
        if fits(word, states) {
            return (names, dir, starred, false);
        }
        word = word - len + Part::AnyName.word_len();
        states = states - names[i].states() + Part::AnyName.states();
        names[i] = Part::AnyName;
        starred += 1;
    }
    if fits(word, states) {
        return (names, dir, starred, false);
    }
    let (mut word, mut states) = (quotes + Part::AnyPath.word_len(), Part::AnyPath.states());
    let keep = names
        .iter()
        .take_while(|n| {
            word += n.word_len();
            states += n.states();
            fits(word, states)
        })
        .count();
    names.truncate(keep);
    let starred = names.iter().filter(|n| **n == Part::AnyName).count();
    names.push(Part::AnyPath);
    (names, false, starred, true)
}

/// The rules for `paths` (rule path, names a directory, accesses; each with permissions and
/// without NUL), collapsed and shortened as the module documentation says, sorted by path.
pub fn collapse(
    paths: impl IntoIterator<Item = (Vec<Segment>, bool, BTreeSet<Access>)>,
) -> Vec<Pattern> {
    let mut rules = Rules::default();
    for (path, dir, accesses) in paths {
        let Some(mut names) = names(&path) else {
            continue;
        };
        let stands = Stands {
            programs: usize::from(accesses.contains(&Access::Exec)),
            accesses,
            paths: 1,
        };
        match names.pop() {
            Some(name) => rules
                .entries
                .entry((names, name, dir))
                .or_default()
                .absorb(stands),
            None => rules.root.get_or_insert_default().absorb(stands),
        }
    }
    rules.collapse_crowded_dirs();
    rules.collapse_until_within(false);
    rules.collapse_until_within(true);

    let mut out: BTreeMap<(Vec<Segment>, bool), Pattern> = BTreeMap::new();
    let root = rules.root.map(|stands| (Vec::new(), stands, None, true));
    let entries = rules
        .entries
        .into_iter()
        .map(|((mut parent, name, dir), stands)| {
            let glob = match name {
                Part::AnyName => Some(Glob::Names),
                Part::AnyPath => Some(Glob::Tree),
                _ => None,
            };
            parent.push(name);
            (parent, stands, glob, dir)
        });
    for (names, stands, glob, dir) in root.into_iter().chain(entries) {
        let (names, dir, long_names, cut) = fit(names, dir);
        let path = segments(&names);
        let pattern = out.entry((path.clone(), dir)).or_insert_with(|| Pattern {
            path,
            dir,
            accesses: BTreeSet::new(),
            paths: 0,
            programs: 0,
            glob: None,
            long_names: 0,
            cut: false,
        });
        pattern.accesses.extend(stands.accesses);
        pattern.paths += stands.paths;
        pattern.programs += stands.programs;
        pattern.glob = pattern.glob.max(glob);
        pattern.long_names = pattern.long_names.max(long_names);
        pattern.cut |= cut;
    }
    out.into_values().collect()
}
