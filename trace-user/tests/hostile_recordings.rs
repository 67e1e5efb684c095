//! The recording loader against hostile and broken input: arbitrary bytes, and real recordings
//! with one value anywhere replaced by anything. Loading never panics; what loads renders every
//! output, in every format, without panicking either. A bounded number of cases, so it runs in CI.

use proptest::prelude::*;
use serde_json::Value;
use trace_user::recording::Recording;
use trace_user::render::{self, Format, Options};

mod fixtures;
use fixtures::FIXTURES;

/// Every JSON pointer into `value` (objects' keys and arrays' elements, at every depth).
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_owned());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                pointers(child, &format!("{at}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Strings a container or an editor could put in a recording.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("-".to_owned()),
        Just("../../../../etc/passwd".to_owned()),
        Just("a\nb\r\0c".to_owned()),
        Just("\"}{][".to_owned()),
        Just("\\x00\\xff\\".to_owned()),
        Just("x".repeat(5000)),
        any::<String>(),
        "[a-z_/.:-]{0,40}",
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        hostile_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(hostile_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Renders everything a recording can become, in every format.
fn render_all(recording: &Recording) {
    for format in [Format::Docker, Format::Oci, Format::Spo] {
        let options = Options {
            format,
            ..Options::default()
        };
        let _ = render::profiles_and_advice(recording, &options);
    }
    // What every run saw, the filter --min-runs applies.
    let (kept, left_out) = recording
        .seen_in_at_least(recording.seen_in().runs)
        .unwrap();
    let _ = render::profiles_and_advice(&kept, &Options::default());
    let _ = render::summary::render(recording, &[], &left_out);
    let _ = recording.to_json();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = Recording::from_json(&text, "fuzz.json");
    }

    #[test]
    fn one_value_replaced_anywhere_never_panics(
        fixture in 0..FIXTURES.len(),
        pick in any::<prop::sample::Index>(),
        replacement in any_json(),
    ) {
        let mut value: Value = serde_json::from_str(FIXTURES[fixture]).unwrap();
        let mut all = Vec::new();
        pointers(&value, "", &mut all);
        let pointer = pick.get(&all).clone();
        if pointer.is_empty() {
            value = replacement;
        } else if let Some(slot) = value.pointer_mut(&pointer) {
            *slot = replacement;
        }
        let text = serde_json::to_string(&value).unwrap();
        if let Ok(recording) = Recording::from_json(&text, "fuzz.json") {
            render_all(&recording);
        }
    }

    #[test]
    fn one_key_renamed_anywhere_never_panics(
        fixture in 0..FIXTURES.len(),
        pick in any::<prop::sample::Index>(),
        key in hostile_string(),
    ) {
        let mut value: Value = serde_json::from_str(FIXTURES[fixture]).unwrap();
        let mut all = Vec::new();
        pointers(&value, "", &mut all);
        let pointer = pick.get(&all).clone();
        if let Some((parent, last)) = pointer.rsplit_once('/')
            && let Some(Value::Object(map)) = value.pointer_mut(parent)
        {
            let last = last.replace("~1", "/").replace("~0", "~");
            if let Some(child) = map.remove(&last) {
                map.insert(key, child);
            }
        }
        let text = serde_json::to_string(&value).unwrap();
        if let Ok(recording) = Recording::from_json(&text, "fuzz.json") {
            render_all(&recording);
        }
    }
}
