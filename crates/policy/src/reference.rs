//! Image references, parsed the way the registry will read them.
//!
//! The grammar is the one of `github.com/distribution/reference` (what containerd, CRI-O and
//! Docker use):
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path-component ( "/" path-component )*
//! domain     := host [ ":" port ]
//! host       := domain-name | IPv4 | "[" IPv6 "]"
//! path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [\w][\w.-]{0,127}
//! digest     := algorithm ":" hex
//! ```
//!
//! The first `/`-separated component is the domain when it contains a `.` or a `:`, is
//! `localhost`, or has an uppercase letter (the rule of `distribution/reference`'s
//! `splitDomain`); otherwise the whole name is a path on the default registry.
//!
//! Why a parser of our own: the crates that implement this grammar serve pulling, not judging.
//! `oci-spec`'s `distribution::Reference` normalises `nginx` to `docker.io/library/nginx`, invents
//! the tag `latest` when none is written, accepts uppercase digest hex and has no IPv6 hosts; a
//! policy check must see exactly what was rendered (a missing tag is not `latest`, it is missing)
//! and must reject digests a registry would reject. The policy also narrows the grammar: the only
//! digest algorithm accepted is `sha256`, with exactly 64 lowercase hex digits.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use thiserror::Error;

/// Longest name (domain and path together) the grammar allows.
pub const NAME_MAX_LEN: usize = 255;
/// Longest tag the grammar allows.
pub const TAG_MAX_LEN: usize = 128;
/// The only digest algorithm the policy accepts.
pub const DIGEST_ALGORITHM: &str = "sha256";
/// Number of hex digits of a `sha256` digest.
pub const SHA256_HEX_LEN: usize = 64;

/// An image reference exactly as written, with its parts.
///
/// Nothing is normalised or invented: `nginx` has no domain and no tag, `registry.local:5000/app`
/// is a repository on `registry.local:5000` with no tag. [`ImageRef::as_str`] and [`Display`]
/// give back the raw string byte for byte.
///
/// [`Display`]: fmt::Display
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    raw: String,
    domain: Option<Range<usize>>,
    path: Range<usize>,
    tag: Option<Range<usize>>,
    digest: Option<Range<usize>>,
}

impl ImageRef {
    /// Parses `raw` as an image reference.
    pub fn parse(raw: &str) -> Result<Self, RefError> {
        parse(raw)
    }

    /// The reference exactly as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The registry (domain, with its port when written), when the reference names one.
    pub fn domain(&self) -> Option<&str> {
        self.domain.clone().map(|r| &self.raw[r])
    }

    /// The repository path without the domain, for example `ameideio/app`.
    pub fn path(&self) -> &str {
        &self.raw[self.path.clone()]
    }

    /// The repository as written: domain (when present) and path, without tag or digest.
    /// This is what exception `images:` patterns match.
    pub fn repository(&self) -> &str {
        let start = self.domain.as_ref().map_or(self.path.start, |d| d.start);
        &self.raw[start..self.path.end]
    }

    /// The repository as the registry identifies it, for comparing references written
    /// differently: the registry in lowercase without the default port `:443`, Docker Hub's
    /// aliases (`index.docker.io`, `registry-1.docker.io`, `registry.hub.docker.com`, no
    /// registry at all) as `docker.io`, and its official images under `library/`
    /// (`nginx` → `docker.io/library/nginx`). Used where two references must be the same image
    /// (promotion lineage, first-party prefixes), never in what a report shows as rendered.
    pub fn canonical_repository(&self) -> String {
        let registry = canonical_registry(self.domain());
        let path = self.path();
        if registry == DOCKER_HUB && !path.contains('/') {
            format!("{registry}/library/{path}")
        } else {
            format!("{registry}/{path}")
        }
    }

    /// The tag without its `:`, when one is written. Never invented.
    pub fn tag(&self) -> Option<&str> {
        self.tag.clone().map(|r| &self.raw[r])
    }

    /// The digest (`sha256:<64 hex>`), when one is written.
    pub fn digest(&self) -> Option<&str> {
        self.digest.clone().map(|r| &self.raw[r])
    }
}

/// Docker Hub's canonical registry name.
const DOCKER_HUB: &str = "docker.io";

/// A registry (domain and optional port) as the canonical form [`ImageRef::canonical_repository`]
/// uses: no registry and Docker Hub's aliases are `docker.io`.
fn canonical_registry(domain: Option<&str>) -> String {
    let Some(domain) = domain else {
        return DOCKER_HUB.to_string();
    };
    let lower = domain.to_ascii_lowercase();
    let host = lower.strip_suffix(":443").unwrap_or(&lower);
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_string()
        }
        _ => host.to_string(),
    }
}

/// A repository prefix (for example a first-party prefix `GHCR.io:443/acme/`) in the canonical
/// form of [`ImageRef::canonical_repository`], so that prefix matching agrees with how
/// references are compared. The first component is the registry when it would be one in a
/// reference (a `.` or `:`, `localhost`, an uppercase letter); otherwise the prefix is a path
/// on Docker Hub.
pub fn canonical_repository_prefix(prefix: &str) -> String {
    let (first, rest) = match prefix.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (prefix, None),
    };
    let is_domain = first.contains(['.', ':'])
        || first == "localhost"
        || first.chars().any(|c| c.is_ascii_uppercase());
    match (is_domain, rest) {
        (true, Some(rest)) => format!("{}/{rest}", canonical_registry(Some(first))),
        (true, None) => canonical_registry(Some(first)),
        (false, _) => format!("{DOCKER_HUB}/{prefix}"),
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for ImageRef {
    type Err = RefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// Why a string is not a valid image reference. Each message says precisely what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RefError {
    /// Nothing was rendered.
    #[error("the reference is empty")]
    Empty,
    /// Output of a template that did not resolve (`<no value>`, `{{`, `%!v(MISSING)` …).
    #[error("it contains template residue `{0}` (a value the chart expected was not set)")]
    TemplateResidue(String),
    /// Whitespace somewhere in the reference.
    #[error("it contains whitespace at byte {0}")]
    Whitespace(usize),
    /// `repo:` with nothing after the colon.
    #[error("the tag after `:` is empty")]
    EmptyTag,
    /// A tag longer than 128 characters.
    #[error("the tag is {0} characters long (at most 128 are allowed)")]
    TagTooLong(usize),
    /// A tag with a character outside `[A-Za-z0-9_.-]`, or starting with `.` or `-`.
    #[error("the tag `{tag}` has {problem}")]
    InvalidTag {
        /// The tag as written.
        tag: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `repo@` with nothing after the `@`.
    #[error("`@` is not followed by a digest")]
    MissingDigest,
    /// More than one `@`.
    #[error("it contains more than one `@`")]
    MultipleAt,
    /// A digest without `algorithm:`.
    #[error("the digest `{0}` has no algorithm (expected `sha256:<64 hex digits>`)")]
    DigestWithoutAlgorithm(String),
    /// A digest algorithm other than `sha256`.
    #[error("the digest algorithm `{0}` is not supported (only `sha256` is)")]
    UnknownDigestAlgorithm(String),
    /// Uppercase hex in the digest (registries compare digests as lowercase strings).
    #[error("the sha256 digest contains uppercase hex `{0}` (digests are lowercase)")]
    UppercaseDigest(char),
    /// A non-hex character in the digest.
    #[error("the sha256 digest contains `{0}`, which is not a hex digit")]
    DigestNotHex(char),
    /// A sha256 digest with the wrong number of hex digits.
    #[error("the sha256 digest has {0} hex digits where exactly 64 are required")]
    DigestLength(usize),
    /// Domain and path together are longer than 255 characters.
    #[error("the repository name is {0} characters long (at most 255 are allowed)")]
    NameTooLong(usize),
    /// Empty domain or path component (`//`, a leading or trailing `/`).
    #[error("the repository has an empty path component")]
    EmptyComponent,
    /// Uppercase in the repository path.
    #[error("the repository `{0}` contains uppercase letters (repositories are lowercase)")]
    UppercaseRepository(String),
    /// A path component that breaks the grammar.
    #[error("the repository component `{component}` {problem}")]
    InvalidPathComponent {
        /// The component as written.
        component: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A domain that is not a host name, IPv4 or bracketed IPv6 address with an optional port.
    #[error("the registry `{domain}` {problem}")]
    InvalidDomain {
        /// The domain as written.
        domain: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// Fragments that only an unresolved or failed template renders.
const TEMPLATE_RESIDUE: [&str; 4] = ["<no value>", "{{", "}}", "%!"];

fn parse(raw: &str) -> Result<ImageRef, RefError> {
    if raw.is_empty() {
        return Err(RefError::Empty);
    }
    // Residue first: `<no value>` contains a space, and the residue is the real cause.
    if let Some(residue) = TEMPLATE_RESIDUE.iter().find(|r| raw.contains(*r)) {
        return Err(RefError::TemplateResidue((*residue).to_owned()));
    }
    if let Some((at, _)) = raw.char_indices().find(|(_, c)| c.is_whitespace()) {
        return Err(RefError::Whitespace(at));
    }

    let (name_and_tag, digest) = match raw.split_once('@') {
        None => (raw, None),
        Some((before, after)) => {
            if after.contains('@') {
                return Err(RefError::MultipleAt);
            }
            check_digest(after)?;
            let start = before.len() + 1;
            (before, Some(start..raw.len()))
        }
    };

    // A `:` after the last `/` starts the tag; one before it belongs to a port.
    let last_slash = name_and_tag.rfind('/');
    let tag_colon = name_and_tag
        .rfind(':')
        .filter(|colon| last_slash.is_none_or(|slash| *colon > slash));
    let (name, tag) = match tag_colon {
        None => (name_and_tag, None),
        Some(colon) => {
            let tag = &name_and_tag[colon + 1..];
            check_tag(tag)?;
            (&name_and_tag[..colon], Some(colon + 1..name_and_tag.len()))
        }
    };

    if name.len() > NAME_MAX_LEN {
        return Err(RefError::NameTooLong(name.len()));
    }
    let (domain, path_start) = match name.split_once('/') {
        Some((first, _)) if looks_like_domain(first) => {
            check_domain(first)?;
            (Some(0..first.len()), first.len() + 1)
        }
        _ => (None, 0),
    };
    check_path(&name[path_start..])?;

    Ok(ImageRef {
        raw: raw.to_owned(),
        domain,
        path: path_start..name.len(),
        tag,
        digest,
    })
}

fn looks_like_domain(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.chars().any(|c| c.is_ascii_uppercase())
}

fn check_digest(digest: &str) -> Result<(), RefError> {
    if digest.is_empty() {
        return Err(RefError::MissingDigest);
    }
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(RefError::DigestWithoutAlgorithm(digest.to_owned()));
    };
    if algorithm != DIGEST_ALGORITHM {
        return Err(RefError::UnknownDigestAlgorithm(algorithm.to_owned()));
    }
    if let Some(upper) = hex.chars().find(|c| matches!(c, 'A'..='F')) {
        return Err(RefError::UppercaseDigest(upper));
    }
    if let Some(bad) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(RefError::DigestNotHex(bad));
    }
    if hex.len() != SHA256_HEX_LEN {
        return Err(RefError::DigestLength(hex.len()));
    }
    Ok(())
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn check_tag(tag: &str) -> Result<(), RefError> {
    let invalid = |problem: String| RefError::InvalidTag {
        tag: tag.to_owned(),
        problem,
    };
    let mut chars = tag.chars();
    let Some(first) = chars.next() else {
        return Err(RefError::EmptyTag);
    };
    let len = tag.chars().count();
    if len > TAG_MAX_LEN {
        return Err(RefError::TagTooLong(len));
    }
    if !is_word(first) {
        return Err(invalid(format!(
            "`{first}` as its first character (a tag starts with a letter, digit or `_`)"
        )));
    }
    if let Some(bad) = chars.find(|c| !(is_word(*c) || *c == '.' || *c == '-')) {
        return Err(invalid(format!(
            "the character `{bad}` (a tag holds only letters, digits, `_`, `.` and `-`)"
        )));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), RefError> {
    let invalid = |problem: &str| RefError::InvalidDomain {
        domain: domain.to_owned(),
        problem: problem.to_owned(),
    };
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(invalid("opens `[` without closing it"));
        };
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(invalid("is not a valid bracketed IPv6 address"));
        }
        match after {
            "" => (domain, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (&domain[..domain.len() - after.len()], Some(port)),
                None => return Err(invalid("has characters after the IPv6 address")),
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid("has a port that is not a number"));
        }
    }
    if host.starts_with('[') {
        return Ok(());
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(invalid(
                "has an empty label (`..`, or a leading or trailing `.`)",
            ));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid(
                "holds characters other than letters, digits, `-` and `.`",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("has a label that starts or ends with `-`"));
        }
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), RefError> {
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(RefError::UppercaseRepository(path.to_owned()));
    }
    for component in path.split('/') {
        check_component(component)?;
    }
    Ok(())
}

fn check_component(component: &str) -> Result<(), RefError> {
    let invalid = |problem: String| RefError::InvalidPathComponent {
        component: component.to_owned(),
        problem,
    };
    let bytes = component.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return Err(RefError::EmptyComponent);
    };
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(*first) || !alnum(*last) {
        return Err(invalid(
            "must start and end with a lowercase letter or digit".to_owned(),
        ));
    }
    // Between alphanumeric runs: one `.`, one or two `_`, or any number of `-`.
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        let run_start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[run_start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|s| s == b'-');
        if !ok {
            return Err(invalid(
                if separator.chars().all(|c| matches!(c, '.' | '_' | '-')) {
                    format!("has the separator `{separator}` (only `.`, `_`, `__` or dashes may join two parts)")
                } else {
                    format!(
                        "contains `{separator}` (only lowercase letters, digits, `.`, `_` and `-` are allowed)"
                    )
                },
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn ok(raw: &str) -> ImageRef {
        match ImageRef::parse(raw) {
            Ok(r) => r,
            Err(e) => panic!("`{raw}` should parse: {e}"),
        }
    }

    fn err(raw: &str) -> RefError {
        match ImageRef::parse(raw) {
            Ok(r) => panic!("`{raw}` should not parse, got {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parts_are_kept_as_written() {
        /// (raw, domain, path, tag, has digest)
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, bool);
        let cases: &[Case<'_>] = &[
            ("nginx", None, "nginx", None, false),
            (
                "library/nginx:1.25",
                None,
                "library/nginx",
                Some("1.25"),
                false,
            ),
            (
                "registry.local:5000/team/app",
                Some("registry.local:5000"),
                "team/app",
                None,
                false,
            ),
            (
                "registry.local:5000/team/app:v1",
                Some("registry.local:5000"),
                "team/app",
                Some("v1"),
                false,
            ),
            ("localhost/app", Some("localhost"), "app", None, false),
            (
                "localhost:5000/app@sha256:HEX",
                Some("localhost:5000"),
                "app",
                None,
                true,
            ),
            (
                "10.0.0.1:5000/a/b:c",
                Some("10.0.0.1:5000"),
                "a/b",
                Some("c"),
                false,
            ),
            (
                "[::1]:5000/app:v1.2.3",
                Some("[::1]:5000"),
                "app",
                Some("v1.2.3"),
                false,
            ),
            ("[fe80::1]/app", Some("[fe80::1]"), "app", None, false),
            ("Registry/app", Some("Registry"), "app", None, false),
            (
                "ghcr.io/ameideio/app:main@sha256:HEX",
                Some("ghcr.io"),
                "ameideio/app",
                Some("main"),
                true,
            ),
            ("a.b-c---e/f_g.h", Some("a.b-c---e"), "f_g.h", None, false),
            ("a__b/c---d.e_f", None, "a__b/c---d.e_f", None, false),
        ];
        for (raw, domain, path, tag, digest) in cases {
            let raw = raw.replace("HEX", HEX);
            let r = ok(&raw);
            assert_eq!(r.as_str(), raw);
            assert_eq!(r.to_string(), raw);
            assert_eq!(r.domain(), *domain, "{raw}");
            assert_eq!(r.path(), *path, "{raw}");
            assert_eq!(r.tag(), *tag, "{raw}");
            assert_eq!(r.digest().is_some(), *digest, "{raw}");
            if *digest {
                assert_eq!(r.digest(), Some(format!("sha256:{HEX}").as_str()));
            }
        }
    }

    #[test]
    fn repository_is_domain_and_path() {
        let r = ok(&format!("ghcr.io/ameideio/app:v1@sha256:{HEX}"));
        assert_eq!(r.repository(), "ghcr.io/ameideio/app");
        assert_eq!(ok("nginx:1").repository(), "nginx");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let long_tag = format!("app:{}", "a".repeat(129));
        let long_name = format!("{}/app", "a".repeat(260));
        let cases: Vec<(String, RefError)> = vec![
            (String::new(), RefError::Empty),
            (
                "app:<no value>".into(),
                RefError::TemplateResidue("<no value>".into()),
            ),
            (
                "{{ .Values.image }}".into(),
                RefError::TemplateResidue("{{".into()),
            ),
            (
                "app:%!v(MISSING)".into(),
                RefError::TemplateResidue("%!".into()),
            ),
            (" nginx".into(), RefError::Whitespace(0)),
            ("nginx:1\n".into(), RefError::Whitespace(7)),
            ("repo:".into(), RefError::EmptyTag),
            ("registry:5000/repo:".into(), RefError::EmptyTag),
            (long_tag, RefError::TagTooLong(129)),
            ("repo@".into(), RefError::MissingDigest),
            ("repo@sha256:a@b".into(), RefError::MultipleAt),
            (
                format!("repo@{HEX}"),
                RefError::DigestWithoutAlgorithm(HEX.into()),
            ),
            (
                format!("repo@sha512:{HEX}{HEX}"),
                RefError::UnknownDigestAlgorithm("sha512".into()),
            ),
            (
                format!("repo@SHA256:{HEX}"),
                RefError::UnknownDigestAlgorithm("SHA256".into()),
            ),
            (
                format!("repo@sha256:{}", HEX.to_uppercase()),
                RefError::UppercaseDigest('A'),
            ),
            ("repo@sha256:abc".into(), RefError::DigestLength(3)),
            ("repo@sha256:".into(), RefError::DigestLength(0)),
            (format!("repo@sha256:{HEX}0"), RefError::DigestLength(65)),
            (
                format!("repo@sha256:{}g", &HEX[1..]),
                RefError::DigestNotHex('g'),
            ),
            (
                "ghcr.io/Team/App".into(),
                RefError::UppercaseRepository("Team/App".into()),
            ),
            (
                "MyApp".into(),
                RefError::UppercaseRepository("MyApp".into()),
            ),
            (long_name, RefError::NameTooLong(264)),
            ("ghcr.io//app".into(), RefError::EmptyComponent),
            ("app/".into(), RefError::EmptyComponent),
        ];
        for (raw, want) in cases {
            assert_eq!(err(&raw), want, "`{raw}`");
        }
    }

    #[test]
    fn grammar_violations_are_rejected() {
        for raw in [
            "-app",
            "app-",
            "a...b",
            "a___b",
            "a._b",
            "a$b",
            "ghcr.io/app:-tag",
            "ghcr.io/app:.tag",
            "ghcr.io/app:ta/g@sha256:x",
            "app:ta+g",
            "ghcr..io/app",
            "-ghcr.io/app",
            "ghcr.io:port/app",
            "ghcr.io:/app",
            "[::1/app",
            "[zz]/app",
            "[::1]x/app",
            "reg_istry.io/app",
        ] {
            assert!(ImageRef::parse(raw).is_err(), "`{raw}` should be rejected");
        }
    }

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            err("repo@sha256:abc").to_string(),
            "the sha256 digest has 3 hex digits where exactly 64 are required"
        );
        assert_eq!(
            err("app:ta+g").to_string(),
            "the tag `ta+g` has the character `+` (a tag holds only letters, digits, `_`, `.` and `-`)"
        );
        assert_eq!(
            err("a$b").to_string(),
            "the repository component `a$b` contains `$` (only lowercase letters, digits, `.`, `_` and `-` are allowed)"
        );
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,5}((\\.|_|__|-{1,3})[a-z0-9]{1,5}){0,2}"
    }

    /// A first path component that the domain rule will not take for a domain.
    fn first_component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,5}((_|__|-{1,3})[a-z0-9]{1,5}){0,2}"
    }

    fn domain() -> impl Strategy<Value = String> {
        let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?";
        let port = proptest::option::of("[0-9]{1,5}");
        let host = prop_oneof![
            (label, label).prop_map(|(a, b)| format!("{a}.{b}")),
            Just("localhost".to_owned()),
            (0u8..=255, 0u8..=255, 0u8..=255, 0u8..=255)
                .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
            "[0-9a-f]{1,4}(:[0-9a-f]{0,4}){1,5}".prop_map(|h| format!("[{h}]")),
        ];
        (host, port).prop_map(|(h, p)| match p {
            Some(p) => format!("{h}:{p}"),
            None => h,
        })
    }

    fn tag() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}"
    }

    fn digest() -> impl Strategy<Value = String> {
        "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}"))
    }

    proptest! {
        #[test]
        fn valid_references_parse_and_round_trip(
            domain in proptest::option::of(domain()),
            first in first_component(),
            rest in proptest::collection::vec(component(), 0..3),
            tag in proptest::option::of(tag()),
            digest in proptest::option::of(digest()),
        ) {
            let mut path = first;
            for c in &rest {
                path.push('/');
                path.push_str(c);
            }
            let mut raw = match &domain {
                Some(d) => format!("{d}/{path}"),
                None => path.clone(),
            };
            if let Some(t) = &tag {
                raw.push(':');
                raw.push_str(t);
            }
            if let Some(d) = &digest {
                raw.push('@');
                raw.push_str(d);
            }
            let parsed = ImageRef::parse(&raw);
            prop_assert!(parsed.is_ok(), "`{}` failed: {:?}", raw, parsed);
            let r = parsed.unwrap_or_else(|_| unreachable!());
            prop_assert_eq!(r.as_str(), raw.as_str());
            prop_assert_eq!(r.to_string(), raw.clone());
            prop_assert_eq!(r.domain(), domain.as_deref());
            prop_assert_eq!(r.path(), path.as_str());
            prop_assert_eq!(r.tag(), tag.as_deref());
            prop_assert_eq!(r.digest(), digest.as_deref());
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,300}") {
            let _ = ImageRef::parse(&s);
        }

        #[test]
        fn reference_like_strings_never_panic(s in "[a-zA-Z0-9:/@._\\-\\[\\]]{0,80}") {
            if let Ok(r) = ImageRef::parse(&s) {
                prop_assert_eq!(r.as_str(), s.as_str());
                // Every part is a slice of the raw string, in order.
                prop_assert!(s.contains(r.path()));
            }
        }
    }

    #[test]
    fn canonical_repositories_compare_references_written_differently() {
        let canon = |r: &str| ImageRef::parse(r).unwrap().canonical_repository();
        for same in [
            "ghcr.io/acme/web:1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "GHCR.IO/acme/web",
            "ghcr.io:443/acme/web:latest",
            "Ghcr.Io:443/acme/web",
        ] {
            assert_eq!(canon(same), "ghcr.io/acme/web", "{same}");
        }
        for same in [
            "nginx",
            "library/nginx",
            "docker.io/nginx",
            "docker.io/library/nginx:1",
            "index.docker.io/library/nginx",
            "registry-1.docker.io/nginx",
            "registry.hub.docker.com/library/nginx",
            "DOCKER.IO:443/nginx",
        ] {
            assert_eq!(canon(same), "docker.io/library/nginx", "{same}");
        }
        assert_eq!(canon("acme/web"), "docker.io/acme/web");
        // Another port, another registry; a path is never lowercased (it must already be).
        assert_eq!(canon("ghcr.io:5000/acme/web"), "ghcr.io:5000/acme/web");
        assert_eq!(canon("localhost/web"), "localhost/web");
        assert_eq!(
            canonical_repository_prefix("GHCR.io:443/acme/"),
            "ghcr.io/acme/"
        );
        assert_eq!(
            canonical_repository_prefix("ghcr.io/acme/"),
            "ghcr.io/acme/"
        );
        assert_eq!(
            canonical_repository_prefix("index.docker.io/acme/"),
            "docker.io/acme/"
        );
        assert_eq!(canonical_repository_prefix("acme/"), "docker.io/acme/");
        assert_eq!(canonical_repository_prefix("ghcr.io"), "ghcr.io");
    }
}
