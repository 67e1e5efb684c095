//! The slim image in `docker save` form, for the images/load endpoint: the original image's
//! configuration JSON with only its root file system (the one slim layer) and its history
//! changed, a manifest naming the tag, and the layer. Everything but the layer is built in
//! memory; the layer is streamed between a head and a tail (see [`Tarball`]).

use std::collections::BTreeMap;
use std::io::{self, Read};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::layer::{Layer, hex};
use crate::recording::{PathBytes, normalize};

/// Files of a `docker save` stream larger than this are layers, not configuration: skipped.
const MAX_CONFIG_BYTES: u64 = 16 << 20;
/// The comment of the history entry the slim layer gets.
pub const HISTORY_COMMENT: &str = "trace minimize";

/// Why the image's configuration cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The save stream could not be read.
    #[error("cannot read the saved image")]
    Io(#[from] io::Error),
    /// The stream has no manifest.json, or it is not JSON.
    #[error("the saved image has no readable manifest.json and configuration: no manifest.json")]
    NoManifest,
    /// manifest.json names no configuration file.
    #[error(
        "the saved image has no readable manifest.json and configuration: manifest.json names no Config"
    )]
    NoConfig,
    /// The configuration file manifest.json names is not in the stream.
    #[error("the saved image has no readable manifest.json and configuration: {name} is missing")]
    ConfigMissing {
        /// Its name in the stream.
        name: String,
    },
    /// The configuration file is not JSON.
    #[error("the saved image has no readable manifest.json and configuration: {name}")]
    ConfigJson {
        /// Its name in the stream.
        name: String,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
    /// The configuration is JSON but not an object.
    #[error(
        "the saved image has no readable manifest.json and configuration: the configuration is not a JSON object"
    )]
    ConfigNotObject,
}

/// A slim image tag that Docker would refuse.
#[derive(Debug, thiserror::Error)]
#[error("{reference:?} is not a valid image name ({why})")]
pub struct InvalidTag {
    /// The tag as given.
    pub reference: String,
    /// The rule it breaks.
    pub why: &'static str,
}

/// Directories Docker's init layer makes anew in every container (as the parents of the files it
/// bind-mounts): a container's export shows them with the init layer's mode, owner and time, not
/// the image's.
pub const SHADOWED_DIRS: [&str; 2] = ["/etc", "/dev"];

/// What the `docker save` stream of the image gives.
#[derive(Clone, Debug)]
pub struct Saved {
    /// The image configuration JSON (`config`, `rootfs`, `history`, ...) as Docker wrote it.
    pub config: Value,
    /// The image's own tar headers of the [`SHADOWED_DIRS`] it has (from its last layer holding
    /// each).
    pub shadowed: BTreeMap<PathBytes, tar::Header>,
}

/// Reads a `docker save` stream: the configuration file manifest.json's first `Config` names
/// (the classic layout, `<id>.json`, and the OCI one, `blobs/sha256/<id>`, both work), and the
/// headers of the [`SHADOWED_DIRS`] in its layers, in the manifest's layer order.
pub fn read_save(reader: impl Read) -> Result<Saved, ImageError> {
    let mut archive = tar::Archive::new(reader);
    let mut small: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut in_layers: BTreeMap<Vec<u8>, BTreeMap<PathBytes, tar::Header>> = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path_bytes().into_owned();
        let found = if entry.size() <= MAX_CONFIG_BYTES {
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            let found = shadowed_dirs(data.as_slice());
            small.insert(name.clone(), data);
            found
        } else {
            shadowed_dirs(&mut entry)
        };
        if !found.is_empty() {
            in_layers.insert(name, found);
        }
    }
    let manifest: Value = small
        .get(&b"manifest.json"[..])
        .and_then(|m| serde_json::from_slice(m).ok())
        .ok_or(ImageError::NoManifest)?;
    let config_name = manifest
        .get(0)
        .and_then(|m| m.get("Config"))
        .and_then(Value::as_str)
        .ok_or(ImageError::NoConfig)?;
    let config = small
        .get(config_name.trim_start_matches("./").as_bytes())
        .ok_or_else(|| ImageError::ConfigMissing {
            name: config_name.to_owned(),
        })?;
    let config: Value =
        serde_json::from_slice(config).map_err(|source| ImageError::ConfigJson {
            name: config_name.to_owned(),
            source,
        })?;
    if !config.is_object() {
        return Err(ImageError::ConfigNotObject);
    }
    let mut shadowed = BTreeMap::new();
    for layer in manifest[0]["Layers"].as_array().into_iter().flatten() {
        let name = layer.as_str().unwrap_or_default().trim_start_matches("./");
        if let Some(found) = in_layers.remove(name.as_bytes()) {
            shadowed.extend(found);
        }
    }
    Ok(Saved { config, shadowed })
}

/// The headers of the [`SHADOWED_DIRS`] in `layer`, if it is a tar (anything else gives none).
fn shadowed_dirs(layer: impl Read) -> BTreeMap<PathBytes, tar::Header> {
    let mut found = BTreeMap::new();
    let mut archive = tar::Archive::new(layer);
    let Ok(entries) = archive.entries() else {
        return found;
    };
    for entry in entries {
        let Ok(entry) = entry else { break };
        let path = normalize(&entry.path_bytes());
        if entry.header().entry_type().is_dir()
            && SHADOWED_DIRS
                .iter()
                .any(|d| path.as_bytes() == d.as_bytes())
        {
            found.insert(path, entry.header().clone());
        }
    }
    found
}

/// The slim image's configuration: `original` with `rootfs` replaced by the one layer
/// `diff_id`, and every history entry marked as adding no layer, followed by one entry for the
/// slim layer (`created_by`, comment [`HISTORY_COMMENT`], the image's `created` time). Everything else, the `config` object
/// (`Entrypoint`, `Cmd`, `Env`, `WorkingDir`, `User`, `ExposedPorts`, `Volumes`, `Labels`,
/// `Healthcheck`, ...),
/// `created`, `architecture` and `os` included, is copied as it is.
pub fn slim_config(original: &Value, diff_id: &str, created_by: &str) -> Value {
    let mut config = original.clone();
    let mut history: Vec<Value> = original
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for entry in &mut history {
        if let Some(entry) = entry.as_object_mut() {
            entry.insert("empty_layer".into(), Value::Bool(true));
        }
    }
    let mut slim_entry = json!({ "created_by": created_by, "comment": HISTORY_COMMENT });
    // The image's own creation time, so that the same inputs give the same image id.
    if let Some(created) = original.get("created") {
        slim_entry["created"] = created.clone();
    }
    history.push(slim_entry);
    if let Some(object) = config.as_object_mut() {
        object.insert(
            "rootfs".into(),
            json!({ "type": "layers", "diff_ids": [diff_id] }),
        );
        object.insert("history".into(), Value::Array(history));
    }
    config
}

/// The `docker save` stream of the slim image, but for the layer's bytes, which go between
/// `head` and `tail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tarball {
    /// The configuration and manifest.json entries, then the layer entry's header.
    pub head: Vec<u8>,
    /// The layer's padding and the end of the archive.
    pub tail: Vec<u8>,
    /// `sha256:<hex>` of the configuration: the image id Docker gives it.
    pub image_id: String,
}

/// The tarball around `layer` for `config`, tagged `tag`.
pub fn tarball(config: &Value, layer: &Layer, tag: &str) -> Tarball {
    let config = serde_json::to_vec(config).expect("a JSON value serializes");
    let config_hex = hex(&Sha256::digest(&config));
    let layer_hex = layer.diff_id.trim_start_matches("sha256:");
    let config_name = format!("{config_hex}.json");
    let layer_name = format!("{layer_hex}/layer.tar");
    let manifest = serde_json::to_vec(&json!([{
        "Config": config_name,
        "RepoTags": [tag],
        "Layers": [layer_name],
    }]))
    .expect("a JSON value serializes");
    let mut head = Vec::new();
    for (name, data) in [
        (config_name.as_str(), &config),
        ("manifest.json", &manifest),
    ] {
        head.extend_from_slice(&entry_header(name, data.len() as u64));
        head.extend_from_slice(data);
        head.resize(head.len() + padding(data.len() as u64), 0);
    }
    head.extend_from_slice(&entry_header(&layer_name, layer.bytes));
    let mut tail = vec![0; padding(layer.bytes)];
    tail.extend_from_slice(&[0; 1024]);
    Tarball {
        head,
        tail,
        image_id: format!("sha256:{config_hex}"),
    }
}

/// A ustar header for a regular file `name` (ASCII, under 100 bytes) of `size` bytes.
fn entry_header(name: &str, size: u64) -> [u8; 512] {
    let mut header = tar::Header::new_ustar();
    header
        .set_path(name)
        .expect("short ASCII names fit a ustar header");
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    *header.as_bytes()
}

/// Zero bytes after `size` bytes of data, to the next 512-byte block.
fn padding(size: u64) -> usize {
    usize::try_from((512 - size % 512) % 512).expect("under 512")
}

/// The slim image's default tag: the recorded image's reference with `-slim` added to its tag
/// (`app:1.2` -> `app:1.2-slim`, `app` -> `app:latest-slim`), or `trace-slim/<container name>`
/// when the container was created from an image id.
pub fn default_tag(image: &str, container_name: &str) -> String {
    let image = image.split('@').next().unwrap_or_default();
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match image[slash..].rfind(':') {
        Some(colon) => (&image[..slash + colon], &image[slash + colon + 1..]),
        None => (image, "latest"),
    };
    let is_id = name.starts_with("sha256")
        || (name.len() >= 12 && name.bytes().all(|b| b.is_ascii_hexdigit()));
    if name.is_empty() || is_id || check_tag(name).is_err() {
        let mut clean: String = container_name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        clean = clean.trim_matches('-').to_owned();
        if clean.is_empty() {
            clean.push_str("image");
        }
        return format!("trace-slim/{clean}:latest");
    }
    let tag: String = tag.chars().take(123).collect();
    format!("{name}:{tag}-slim")
}

/// Checks an image reference `NAME[:TAG]` as Docker reads it; returns it with `:latest` added
/// when it has no tag.
pub fn check_tag(reference: &str) -> Result<String, InvalidTag> {
    let bad = |why: &'static str| {
        Err(InvalidTag {
            reference: reference.to_owned(),
            why,
        })
    };
    if reference.contains('@') {
        return bad("a digest cannot be a tag");
    }
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match reference[slash..].rfind(':') {
        Some(colon) => (
            &reference[..slash + colon],
            Some(&reference[slash + colon + 1..]),
        ),
        None => (reference, None),
    };
    if let Some(tag) = tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !valid {
            return bad("a tag is up to 128 letters, digits, '_', '.' and '-'");
        }
    }
    let mut components = name.split('/').peekable();
    let mut first = true;
    while let Some(component) = components.next() {
        let is_host = first
            && components.peek().is_some()
            && (component.contains(['.', ':']) || component == "localhost");
        first = false;
        let allowed = |b: u8| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'.' | b'_' | b'-')
                || (is_host && (b == b':' || b.is_ascii_uppercase()))
        };
        let edges_ok = component
            .bytes()
            .next()
            .zip(component.bytes().last())
            .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
        if !edges_ok || !component.bytes().all(allowed) {
            return bad("names are lowercase letters, digits and separators, split by '/'");
        }
    }
    Ok(match tag {
        Some(_) => reference.to_owned(),
        None => format!("{reference}:latest"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save_stream(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn reads_the_configuration_of_both_save_layouts() {
        let config = br#"{"config":{"Cmd":["sh"],"StopTimeout":5},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#;
        let classic = save_stream(&[
            ("abc/layer.tar", b"layer"),
            ("ff.json", config),
            (
                "manifest.json",
                br#"[{"Config":"ff.json","RepoTags":null,"Layers":["abc/layer.tar"]}]"#,
            ),
        ]);
        let value = read_save(classic.as_slice()).unwrap().config;
        assert_eq!(value["config"]["StopTimeout"], 5);
        let oci = save_stream(&[
            (
                "manifest.json",
                br#"[{"Config":"blobs/sha256/ff","Layers":[]}]"#,
            ),
            ("blobs/sha256/ff", config),
        ]);
        assert_eq!(read_save(oci.as_slice()).unwrap().config, value);
        let broken = save_stream(&[("manifest.json", br#"[{"Config":"gone.json"}]"#)]);
        assert!(
            read_save(broken.as_slice())
                .unwrap_err()
                .to_string()
                .contains("gone.json is missing")
        );
        assert!(read_save(&b"not a tar at all"[..]).is_err());
    }

    /// A layer tar holding `etc/` with `mode`.
    fn layer_with_etc(mode: u32) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        b.append_data(&mut h, "etc/", std::io::empty()).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn the_last_layer_holding_etc_gives_its_metadata() {
        let (first, second) = (layer_with_etc(0o700), layer_with_etc(0o750));
        // Stream order is not layer order: the manifest says which layer comes last.
        let save = save_stream(&[
            ("b/layer.tar", &second),
            ("a/layer.tar", &first),
            ("c.json", b"{}"),
            (
                "manifest.json",
                br#"[{"Config":"c.json","Layers":["a/layer.tar","b/layer.tar"]}]"#,
            ),
        ]);
        let saved = read_save(save.as_slice()).unwrap();
        let etc = &saved.shadowed[&PathBytes::from("/etc")];
        assert_eq!(etc.mode().unwrap(), 0o750);
        let reversed = save_stream(&[
            ("a/layer.tar", &first),
            ("b/layer.tar", &second),
            ("c.json", b"{}"),
            (
                "manifest.json",
                br#"[{"Config":"c.json","Layers":["b/layer.tar","a/layer.tar"]}]"#,
            ),
        ]);
        let saved = read_save(reversed.as_slice()).unwrap();
        assert_eq!(
            saved.shadowed[&PathBytes::from("/etc")].mode().unwrap(),
            0o700
        );
    }

    #[test]
    fn the_slim_configuration_changes_only_rootfs_and_history() {
        let original = json!({
            "architecture": "amd64",
            "config": {"Entrypoint": ["/x"], "Labels": {"a": "b"}, "Volumes": {"/data": {}}},
            "created": "2026-01-01T00:00:00Z",
            "history": [{"created_by": "COPY rootfs/ /"}],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:1", "sha256:2"]},
        });
        let slim = slim_config(&original, "sha256:ab", "trace minimize: 3 of 9 entries");
        for key in ["architecture", "config", "created", "os"] {
            assert_eq!(slim[key], original[key], "{key}");
        }
        assert_eq!(
            slim["rootfs"],
            json!({"type": "layers", "diff_ids": ["sha256:ab"]})
        );
        assert_eq!(
            slim["history"],
            json!([
                {"created_by": "COPY rootfs/ /", "empty_layer": true},
                {"created_by": "trace minimize: 3 of 9 entries", "comment": HISTORY_COMMENT,
                 "created": "2026-01-01T00:00:00Z"},
            ])
        );
    }

    #[test]
    fn the_tarball_is_a_save_stream_around_the_layer() {
        let layer_data = vec![7u8; 1000];
        let layer = Layer {
            entries: 1,
            bytes: 1000,
            diff_id: format!("sha256:{}", hex(&Sha256::digest(&layer_data))),
        };
        let config = json!({"config": {}, "rootfs": {}});
        let tarball = tarball(&config, &layer, "app:1-slim");
        let mut whole = tarball.head.clone();
        whole.extend_from_slice(&layer_data);
        whole.extend_from_slice(&tarball.tail);
        assert_eq!(whole.len() % 512, 0);
        let read_back = read_save(whole.as_slice()).unwrap().config;
        assert_eq!(read_back, config);
        let mut archive = tar::Archive::new(whole.as_slice());
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            if name == "manifest.json" {
                let manifest: Value = serde_json::from_slice(&data).unwrap();
                assert_eq!(manifest[0]["RepoTags"], json!(["app:1-slim"]));
            }
            if name.ends_with("layer.tar") {
                assert_eq!(data, layer_data);
            }
            names.push(name);
        }
        let config_hex = tarball.image_id.trim_start_matches("sha256:");
        assert_eq!(
            names,
            [
                format!("{config_hex}.json"),
                "manifest.json".to_owned(),
                format!("{}/layer.tar", layer.diff_id.trim_start_matches("sha256:"))
            ]
        );
    }

    #[test]
    fn default_tags_add_slim_to_the_tag() {
        assert_eq!(default_tag("app:1.2", "c"), "app:1.2-slim");
        assert_eq!(
            default_tag("trace-test/python:local", "c"),
            "trace-test/python:local-slim"
        );
        assert_eq!(
            default_tag("localhost:5000/app", "c"),
            "localhost:5000/app:latest-slim"
        );
        assert_eq!(default_tag("app@sha256:abcd", "c"), "app:latest-slim");
        assert_eq!(
            default_tag("sha256:0123456789ab", "My_Box"),
            "trace-slim/my-box:latest"
        );
        assert_eq!(default_tag("0123456789abcdef", "x"), "trace-slim/x:latest");
    }

    #[test]
    fn tags_are_checked_like_docker_does() {
        assert_eq!(check_tag("app").unwrap(), "app:latest");
        assert_eq!(
            check_tag("reg.io:5000/team/app:v1.0_rc-2").unwrap(),
            "reg.io:5000/team/app:v1.0_rc-2"
        );
        for bad in [
            "App:1",
            "app:",
            "app:-x",
            "a//b",
            "app@sha256:00",
            "app:x y",
            "/app",
            "app\n:1",
            "",
        ] {
            assert!(check_tag(bad).is_err(), "{bad:?}");
        }
    }
}
