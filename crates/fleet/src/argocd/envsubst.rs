//! Argo CD's build environment (`Env.Envsubst`): the variables its repo server substitutes into
//! `helm.valueFiles` paths, `helm.fileParameters` paths and `helm.parameters` values before it
//! runs helm, with Go's `os.Expand`, where a name Argo CD does not set becomes the empty string.
//!
//! Written here rather than taken from a crate: `os.Expand`'s exact rules (`${}` and an
//! unterminated `${` eaten, `$*`-style one-character names, `$$` kept as `$` by Argo CD's
//! mapping, a lone `$` at the end left alone) are what must be matched, and the shell-expansion
//! crates follow POSIX shells instead (`${x:-y}`, `~`, errors on unknown names).

use std::collections::BTreeMap;

/// The placeholder for `$ARGOCD_APP_REVISION`: the commit Argo CD syncs is only known once the
/// change is merged; forty zeros have its form.
pub(crate) const REVISION_PLACEHOLDER: &str = "0000000000000000000000000000000000000000";

/// The variables of one source, as `newEnv` of `reposerver/repository/repository.go` sets them.
pub(crate) fn variables(
    app_name: &str,
    namespace: &str,
    project: &str,
    repo_url: &str,
    path: &str,
    target_revision: &str,
) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("ARGOCD_APP_NAME", app_name.to_string()),
        ("ARGOCD_APP_NAMESPACE", namespace.to_string()),
        ("ARGOCD_APP_PROJECT_NAME", project.to_string()),
        ("ARGOCD_APP_REVISION", REVISION_PLACEHOLDER.to_string()),
        (
            "ARGOCD_APP_REVISION_SHORT",
            REVISION_PLACEHOLDER[..7].to_string(),
        ),
        (
            "ARGOCD_APP_REVISION_SHORT_8",
            REVISION_PLACEHOLDER[..8].to_string(),
        ),
        ("ARGOCD_APP_SOURCE_REPO_URL", repo_url.to_string()),
        ("ARGOCD_APP_SOURCE_PATH", path.to_string()),
        (
            "ARGOCD_APP_SOURCE_TARGET_REVISION",
            target_revision.to_string(),
        ),
    ])
}

/// `s` with `$NAME` and `${NAME}` replaced as `Env.Envsubst` replaces them.
pub(crate) fn envsubst(s: &str, vars: &BTreeMap<&'static str, String>) -> String {
    let b = s.as_bytes();
    if !b.contains(&b'$') {
        return s.to_string();
    }
    let lookup = |name: &[u8]| -> String {
        if name == b"$" {
            return "$".to_string();
        }
        std::str::from_utf8(name)
            .ok()
            .and_then(|n| vars.get(n))
            .cloned()
            .unwrap_or_default()
    };
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.extend_from_slice(&b[i..j]);
            let (name, width) = shell_name(&b[j + 1..]);
            match (name, width) {
                // Bad syntax (`${}`, an unterminated `${`): eaten.
                (None, w) if w > 0 => {}
                // `$` followed by no name: kept.
                (None, _) => out.push(b'$'),
                (Some(name), _) => out.extend_from_slice(lookup(name).as_bytes()),
            }
            j += width;
            i = j + 1;
        }
        j += 1;
    }
    out.extend_from_slice(&b[i.min(b.len())..]);
    // Only ASCII bytes were replaced, so the text is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The names `s` refers to that Argo CD does not set (each becomes the empty string).
pub(crate) fn unknown_names(s: &str, vars: &BTreeMap<&'static str, String>) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            let (name, width) = shell_name(&b[j + 1..]);
            if let Some(name) = name.filter(|n| *n != b"$") {
                let name = String::from_utf8_lossy(name).into_owned();
                if !vars.contains_key(name.as_str()) {
                    out.push(name);
                }
            }
            j += width;
        }
        j += 1;
    }
    out
}

fn special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

/// Go's `getShellName`: the name at the start of `s` and the bytes it takes.
fn shell_name(s: &[u8]) -> (Option<&[u8]>, usize) {
    if s[0] == b'{' {
        if s.len() > 2 && special(s[1]) && s[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        for i in 1..s.len() {
            if s[i] == b'}' {
                if i == 1 {
                    return (None, 2);
                }
                return (Some(&s[1..i]), i + 1);
            }
        }
        return (None, 1);
    }
    if special(s[0]) {
        return (Some(&s[0..1]), 1);
    }
    let n = s
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    if n == 0 {
        (None, 0)
    } else {
        (Some(&s[..n]), n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_follows_go_os_expand_with_argo_cds_mapping() {
        let vars = variables("web", "team", "apps", "https://g/x", "charts/web", "main");
        for (input, want) in [
            ("values-$ARGOCD_APP_NAME.yaml", "values-web.yaml"),
            ("values-${ARGOCD_APP_NAME}.yaml", "values-web.yaml"),
            (
                "$ARGOCD_APP_NAMESPACE/$ARGOCD_APP_PROJECT_NAME",
                "team/apps",
            ),
            (
                "${ARGOCD_APP_SOURCE_PATH}@${ARGOCD_APP_SOURCE_TARGET_REVISION}",
                "charts/web@main",
            ),
            ("$ARGOCD_APP_REVISION_SHORT", "0000000"),
            ("$ARGOCD_APP_REVISION_SHORT_8", "00000000"),
            // Unknown names, and `$1`-style ones, are empty.
            ("pinned=$UNSET", "pinned="),
            ("a$1b", "ab"),
            ("a${*}b", "ab"),
            // `$$` is a `$`; a `$` with no name after it stays; a trailing `$` stays.
            ("cost$$5", "cost$5"),
            ("a$.b", "a$.b"),
            ("a$", "a$"),
            ("$", "$"),
            // Bad syntax is eaten: `${}` and an unterminated `${`.
            ("a${}b", "ab"),
            ("a${b", "ab"),
            // Names stop at the first character that is not a letter, digit or `_`.
            ("$ARGOCD_APP_NAME-x", "web-x"),
            ("$ARGOCD_APP_NAMEx", ""),
            ("ü$ARGOCD_APP_NAMEü", "üwebü"),
            ("no dollar", "no dollar"),
        ] {
            assert_eq!(envsubst(input, &vars), want, "{input}");
        }
        assert_eq!(unknown_names("$ARGOCD_APP_NAME$x${y}$$", &vars), ["x", "y"]);
        assert!(unknown_names("$ARGOCD_APP_NAME-$ARGOCD_APP_PROJECT_NAME", &vars).is_empty());
    }
}
