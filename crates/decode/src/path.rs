//! Field paths such as `spec.template.spec.containers[1].image`, in the syntax that
//! [`imagegate_yaml::Node::at_path`] reads back.

/// Appends a mapping key to a path: `.key`, or `["key"]` when the key holds characters that
/// would make the path ambiguous (dots in annotation keys, brackets, quotes).
pub(crate) fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty() && !key.contains(['.', '[', ']', '"', '\\']);
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push_str("[\"");
        for c in key.chars() {
            if matches!(c, '"' | '\\') {
                path.push('\\');
            }
            path.push(c);
        }
        path.push_str("\"]");
    }
}

/// Appends a sequence index: `[n]`.
pub(crate) fn push_index(path: &mut String, index: usize) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(path, "[{index}]");
}

/// `base` joined with one key.
pub(crate) fn join(base: &str, key: &str) -> String {
    let mut path = String::with_capacity(base.len() + key.len() + 1);
    path.push_str(base);
    push_key(&mut path, key);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_indexes() {
        let mut p = String::new();
        push_key(&mut p, "spec");
        push_key(&mut p, "containers");
        push_index(&mut p, 1);
        push_key(&mut p, "image");
        assert_eq!(p, "spec.containers[1].image");
        let mut p = String::from("metadata.annotations");
        push_key(&mut p, "helm.sh/hook");
        assert_eq!(p, "metadata.annotations[\"helm.sh/hook\"]");
        assert_eq!(join("", "a\"b"), "[\"a\\\"b\"]");
    }

    #[test]
    fn round_trips_through_at_path() {
        let node = imagegate_yaml::load(
            "a:\n  x.y:\n    'q\"\\': [v]\n",
            &imagegate_yaml::Limits::default(),
        )
        .unwrap()
        .unwrap();
        let mut p = String::new();
        push_key(&mut p, "a");
        push_key(&mut p, "x.y");
        push_key(&mut p, "q\"\\");
        push_index(&mut p, 0);
        assert_eq!(
            node.at_path(&p).and_then(imagegate_yaml::Node::as_str),
            Some("v")
        );
    }
}
