//! The `git` generator of an ApplicationSet over this repository's checkout, as Argo CD's
//! `applicationset/generators/git.go` and the repo server (`GetGitFiles`, `GetGitDirectories`)
//! make its parameters without `goTemplate`:
//!
//! - `files`: every file whose path matches an include pattern and no exclude pattern, sorted;
//!   each file is one parameter set (a YAML or JSON mapping), or several (a list of mappings),
//!   flattened with dots (`cluster.name`, `list.0`), every value printed as Go's `%v` prints it;
//!   then `path`, `path.basename`, `path.filename`, `path.basenameNormalized`,
//!   `path.filenameNormalized` and `path[i]` (the folder's segments). Patterns are matched as
//!   `git ls-files` matches a pathspec (`*` crosses `/`; a plain path is also its folder), Argo
//!   CD's default, or as doublestar globs with `argocd.newGitFileGlobbing`.
//! - `directories`: every folder (none hidden, the root excluded) that an include pattern
//!   matches as Go's `path.Match` does and no exclude pattern matches; `path`, `path.basename`,
//!   `path.basenameNormalized`, `path[i]`.
//!
//! `pathParamPrefix` puts `<prefix>.` in front of the path parameters. A generator over another
//! repository is not judged; its `values` are not evaluated yet (an error).

use super::appset::{Element, Gen, JsonMap};
use super::{err, text, NotJudged, Resolver};
use crate::ConfigError;
use imagegate_yaml::{Node, Value};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Most folders a directories generator looks at.
const MAX_DIRECTORIES: usize = 100_000;

/// The most steps the git generators of a fleet may take (see `Resolver::generator_work`):
/// well under a second of matching, and five times what a git generator with one pattern over
/// a repository of 20 000 folders takes as the second generator of a matrix of 50.
pub(crate) const MAX_GENERATOR_WORK: u64 = 5_000_000;

/// The parameter sets of one `git` generator, or why its applications are not judged.
pub(crate) fn elements(
    g: &Gen<'_>,
    at: &str,
    git: &Node,
) -> Result<Result<Vec<Element>, NotJudged>, ConfigError> {
    let (r, manifest, name) = (g.r, g.manifest, g.name);
    let go_prefix = text(git, "pathParamPrefix").filter(|p| !p.is_empty());
    for (key, value) in git.as_map().unwrap_or_default() {
        let k = key.key_text().unwrap_or_default();
        if !matches!(
            k.as_ref(),
            "repoURL"
                | "revision"
                | "files"
                | "directories"
                | "pathParamPrefix"
                | "requeueAfterSeconds"
        ) {
            return Err(err(
                manifest,
                value,
                format!("ApplicationSet `{name}`: git.{k} is not evaluated yet"),
            ));
        }
    }
    let not_judged = |reason: String| NotJudged {
        app: name.to_string(),
        manifest: manifest.to_string(),
        line: git.line,
        element: Some(format!("{at}.git")),
        reason,
    };
    let url = text(git, "repoURL").unwrap_or("");
    if !r.is_this_repo(url) {
        return Ok(Err(not_judged(format!(
            "its git generator reads another repository ({url}); argocd.repoURL names this one"
        ))));
    }
    let revision = text(git, "revision").unwrap_or("");
    if !r.settings.is_checked_revision(revision) {
        return Ok(Err(not_judged(format!(
            "its git generator reads revision `{revision}`, not the one under check (argocd.targetRevisions)"
        ))));
    }
    let prefix = match text(git, "pathParamPrefix").filter(|p| !p.is_empty()) {
        Some(p) => format!("{p}.path"),
        None => "path".to_string(),
    };
    let patterns = |key: &str| -> Result<(Vec<String>, Vec<String>), ConfigError> {
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        for item in git.get(key).and_then(Node::as_seq).unwrap_or_default() {
            let Some(path) = text(item, "path") else {
                return Err(err(
                    manifest,
                    item,
                    format!("ApplicationSet `{name}`: git.{key} entry has no path"),
                ));
            };
            if item
                .get("exclude")
                .is_some_and(|e| e.to_json() == serde_json::Value::Bool(true))
            {
                exclude.push(path.to_string());
            } else {
                include.push(path.to_string());
            }
        }
        Ok((include, exclude))
    };
    // Every step is counted against the fleet's bound: a matrix evaluates this generator once
    // for each parameter set of its first generator.
    let charge = |steps: u64| -> Result<(), ConfigError> {
        let before = r
            .generator_work
            .fetch_add(steps, std::sync::atomic::Ordering::Relaxed);
        if before.saturating_add(steps) > MAX_GENERATOR_WORK {
            return Err(err(
                manifest,
                git,
                format!(
                    "ApplicationSet `{name}`: its git generators take more than {MAX_GENERATOR_WORK} steps (a path of the repository compared with a pattern, a file read), \
                     imagegate's bound on reading the manifests; nothing is judged"
                ),
            )
            .hint("a matrix evaluates its second generator once per parameter set of its first: put the git generator first, or narrow the matrix"));
        }
        Ok(())
    };
    let (dir_in, dir_out) = patterns("directories")?;
    if !dir_in.is_empty() || !dir_out.is_empty() {
        let dirs = match r.folders.get_or_init(|| directories(r)) {
            Ok(d) => d,
            Err(m) => return Err(err(manifest, git, m.clone())),
        };
        charge((dirs.len() as u64).saturating_mul((dir_in.len() + dir_out.len()) as u64))?;
        let selected = dirs.iter().filter(|d| {
            dir_in.iter().any(|p| wildmatch(p, d, true))
                && !dir_out.iter().any(|p| wildmatch(p, d, true))
        });
        let elements = selected
            .enumerate()
            .map(|(i, dir)| {
                let mut params = BTreeMap::new();
                let mut go = JsonMap::new();
                if g.go {
                    go_insert_path(&mut go, go_prefix, go_path(dir));
                } else {
                    path_params(&mut params, &prefix, dir);
                }
                Element {
                    params,
                    go,
                    line: git.line,
                    describe: format!("{at}.git.directories: {dir} ({i})"),
                }
            })
            .collect();
        return Ok(Ok(elements));
    }
    let (file_in, file_out) = patterns("files")?;
    if file_in.is_empty() {
        return Err(err(
            manifest,
            git,
            format!("ApplicationSet `{name}`: the git generator has neither files nor directories"),
        ));
    }
    let listed = match r.files.get_or_init(|| r.repo.glob("**")) {
        Ok(f) => f.len() as u64,
        Err(m) => return Err(err(manifest, git, m.clone())),
    };
    charge(listed.saturating_mul((file_in.len() + file_out.len()) as u64))?;
    let files = matching_files(r, &file_in, &file_out).map_err(|m| err(manifest, git, m))?;
    let mut elements = Vec::new();
    for file in files {
        let content = r.repo.read_to_string(&file, crate::MAX_CONFIG_BYTES)?;
        charge(1 + content.len() as u64 / 64)?;
        let docs = imagegate_yaml::load_all(&content, &imagegate_yaml::Limits::default())
            .map_err(|e| ConfigError::new(&file, e.message).at(Some(e.line), Some(e.col)))?;
        let objects: Vec<Option<&Node>> = match docs.first().map(|d| &d.value) {
            None => vec![None],
            Some(Value::Scalar(s)) if s.is_null() => vec![None],
            Some(Value::Map(_)) => vec![docs.first()],
            Some(Value::Seq(items)) => items.iter().map(Some).collect(),
            Some(Value::Scalar(_)) => {
                return Err(ConfigError::new(
                    &file,
                    format!("ApplicationSet `{name}` reads this file as parameters, but it holds neither a mapping nor a list of mappings"),
                ))
            }
        };
        let dir = match file.rfind('/') {
            Some(i) => file[..i].to_string(),
            None => ".".to_string(),
        };
        for (oi, object) in objects.into_iter().enumerate() {
            let mut params = BTreeMap::new();
            let mut go = JsonMap::new();
            if let Some(object) = object {
                if object.as_map().is_none() {
                    return Err(ConfigError::new(
                        &file,
                        format!("item {oi} is not a mapping (ApplicationSet `{name}` reads this file as parameters)"),
                    )
                    .at(Some(object.line), Some(object.col)));
                }
                if g.go {
                    if let Json::Object(o) = object.to_json() {
                        go = o;
                    }
                } else {
                    flatten(object, "", &mut params);
                }
            }
            let filename = file.rsplit('/').next().unwrap_or(&file).to_string();
            if g.go {
                let mut path = go_path(&dir);
                path.insert("filename".into(), Json::String(filename.clone()));
                path.insert(
                    "filenameNormalized".into(),
                    Json::String(sanitize_name(&filename)),
                );
                go_insert_path(&mut go, go_prefix, path);
            } else {
                path_params(&mut params, &prefix, &dir);
                params.insert(format!("{prefix}.filename"), filename.clone());
                params.insert(
                    format!("{prefix}.filenameNormalized"),
                    sanitize_name(&filename),
                );
            }
            elements.push(Element {
                params,
                go,
                line: git.line,
                describe: format!("{at}.git.files: {file}[{oi}]"),
            });
        }
    }
    Ok(Ok(elements))
}

/// The `path` parameter of folder `dir` with `goTemplate`: `path`, `basename`,
/// `basenameNormalized` and `segments` (Go's `strings.Split`, empty segments kept).
fn go_path(dir: &str) -> JsonMap {
    let basename = dir.rsplit('/').next().unwrap_or(dir).to_string();
    let mut m = JsonMap::new();
    m.insert("path".into(), Json::String(dir.to_string()));
    m.insert(
        "basenameNormalized".into(),
        Json::String(sanitize_name(&basename)),
    );
    m.insert("basename".into(), Json::String(basename));
    m.insert(
        "segments".into(),
        Json::Array(dir.split('/').map(|s| Json::String(s.into())).collect()),
    );
    m
}

/// `path` put into the parameters, under `<prefix>.path` when `pathParamPrefix` is set (a
/// nested map: `{{ .prefix.path.basename }}`), overriding a file's own `path` key.
fn go_insert_path(go: &mut JsonMap, prefix: Option<&str>, path: JsonMap) {
    match prefix {
        Some(p) => {
            let mut holder = JsonMap::new();
            holder.insert("path".into(), Json::Object(path));
            go.insert(p.to_string(), Json::Object(holder));
        }
        None => {
            go.insert("path".into(), Json::Object(path));
        }
    }
}

/// `path`, `path.basename`, `path.basenameNormalized` and `path[i]` of folder `dir`.
fn path_params(params: &mut BTreeMap<String, String>, prefix: &str, dir: &str) {
    let basename = dir.rsplit('/').next().unwrap_or(dir).to_string();
    params.insert(prefix.to_string(), dir.to_string());
    params.insert(
        format!("{prefix}.basenameNormalized"),
        sanitize_name(&basename),
    );
    params.insert(format!("{prefix}.basename"), basename);
    for (i, segment) in dir.split('/').enumerate() {
        if !segment.is_empty() {
            params.insert(format!("{prefix}[{i}]"), segment.to_string());
        }
    }
}

/// Argo CD's `flatten.Flatten(…, DotStyle)` then `fmt.Sprintf("%v", v)`: nested keys joined by
/// dots, list items by their index, numbers as Go prints a float64, null as `<nil>`.
fn flatten(node: &Node, prefix: &str, out: &mut BTreeMap<String, String>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                flatten(v, &join(&k.key_text().unwrap_or_default()), out);
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, &join(&i.to_string()), out);
            }
        }
        Value::Scalar(s) => {
            let text = match s.to_json() {
                serde_json::Value::String(t) => t,
                serde_json::Value::Null => "<nil>".to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => s.go_template_text(),
            };
            out.insert(prefix.to_string(), text);
        }
    }
}

/// Argo CD's `SanitizeName`: lowercase, every character but `a-z`, `0-9`, `-` and `.` a `-`, at
/// most 253 bytes, no leading or trailing `-` or `.`.
pub(crate) fn sanitize_name(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut end = s.len().min(253);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].trim_matches(['-', '.']).to_string()
}

/// Every folder of the repository but the root and hidden ones (and what is under them),
/// repository-relative and sorted, as the repo server lists them for a directories generator.
fn directories(r: &Resolver<'_>) -> Result<Vec<String>, String> {
    let root = r.repo.root();
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
    {
        let entry = entry.map_err(|e| format!("cannot list the repository's folders: {e}"))?;
        if entry.depth() == 0 || !entry.file_type().is_dir() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .map_err(|e| e.to_string())?
            .to_str()
            .ok_or_else(|| format!("{} is not valid UTF-8", entry.path().display()))?
            .to_string();
        out.push(rel);
        if out.len() > MAX_DIRECTORIES {
            return Err(format!(
                "the repository has more than {MAX_DIRECTORIES} folders for a git directories generator"
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// The files a `files` generator reads: matched by the include patterns, less the exclude ones.
fn matching_files(
    r: &Resolver<'_>,
    include: &[String],
    exclude: &[String],
) -> Result<Vec<String>, String> {
    let mut files: Vec<String> = Vec::new();
    if r.settings.new_git_file_globbing {
        for p in include {
            files.extend(r.repo.glob(p)?);
        }
        let mut excluded = std::collections::BTreeSet::new();
        for p in exclude {
            excluded.extend(r.repo.glob(p)?);
        }
        files.retain(|f| !excluded.contains(f));
    } else {
        let all = match r.files.get_or_init(|| r.repo.glob("**")) {
            Ok(f) => f,
            Err(m) => return Err(m.clone()),
        };
        files = all
            .iter()
            .filter(|f| {
                include.iter().any(|p| pathspec(p, f)) && !exclude.iter().any(|p| pathspec(p, f))
            })
            .cloned()
            .collect();
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Whether `git ls-files -- pattern` lists `path`: a pattern with no wildcard names the path or
/// a folder above it; one with wildcards matches the whole path with `*` crossing `/`.
fn pathspec(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches("./");
    if !pattern.contains(['*', '?', '[']) {
        let p = pattern.trim_end_matches('/');
        return p.is_empty() || path == p || path.starts_with(&format!("{p}/"));
    }
    wildmatch(pattern, path, false)
}

/// Shell-style matching of `name` against `pattern` (`*`, `?`, `[…]` with ranges and `^` or `!`
/// negation, `\` escapes): with `slash`, as Go's `path.Match` (wildcards never match `/`);
/// without, as git's pathspecs (they do). A malformed class matches nothing. Dynamic
/// programming over the positions, so a pattern of many stars stays linear in each.
///
/// Written by hand: Go's `path.Match` and git's wildmatch differ from every glob crate in
/// exactly these points (no `**`, no `{a,b}`, `*` crossing `/` or not).
pub fn wildmatch(pattern: &str, name: &str, slash: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    // memo[pi][si]: whether p[pi..] matches s[si..].
    let mut memo = vec![vec![None; s.len() + 1]; p.len() + 1];
    matches_at(&p, &s, 0, 0, slash, &mut memo)
}

fn matches_at(
    p: &[char],
    s: &[char],
    pi: usize,
    si: usize,
    slash: bool,
    memo: &mut Vec<Vec<Option<bool>>>,
) -> bool {
    if let Some(known) = memo[pi][si] {
        return known;
    }
    let result = match p.get(pi) {
        None => si == s.len(),
        Some('*') => {
            // Either the star matches nothing, or it takes one more character.
            matches_at(p, s, pi + 1, si, slash, memo)
                || (si < s.len()
                    && !(slash && s[si] == '/')
                    && matches_at(p, s, pi, si + 1, slash, memo))
        }
        Some('?') => {
            si < s.len()
                && !(slash && s[si] == '/')
                && matches_at(p, s, pi + 1, si + 1, slash, memo)
        }
        Some('[') => match class(p, pi + 1) {
            Some(c) => {
                si < s.len()
                    && !(slash && s[si] == '/')
                    && (c.ranges.iter().any(|&(lo, hi)| lo <= s[si] && s[si] <= hi) != c.negated)
                    && matches_at(p, s, c.next, si + 1, slash, memo)
            }
            None => false,
        },
        Some('\\') if pi + 1 < p.len() => {
            si < s.len() && s[si] == p[pi + 1] && matches_at(p, s, pi + 2, si + 1, slash, memo)
        }
        Some(&c) => si < s.len() && s[si] == c && matches_at(p, s, pi + 1, si + 1, slash, memo),
    };
    memo[pi][si] = Some(result);
    result
}

/// A bracket expression of a pattern: its ranges, whether it is negated, and the position after
/// its `]`.
struct Class {
    ranges: Vec<(char, char)>,
    negated: bool,
    next: usize,
}

/// The character class starting after its `[` at `start`; `None` when it never closes.
fn class(p: &[char], start: usize) -> Option<Class> {
    let mut i = start;
    let negated = matches!(p.get(i), Some('^') | Some('!'));
    if negated {
        i += 1;
    }
    let mut set = Vec::new();
    let mut first = true;
    loop {
        let c = *p.get(i)?;
        if c == ']' && !first {
            return Some(Class {
                ranges: set,
                negated,
                next: i + 1,
            });
        }
        first = false;
        let lo = if c == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            c
        };
        i += 1;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&n| n != ']') {
            let mut hi = p[i + 1];
            i += 2;
            if hi == '\\' {
                hi = *p.get(i)?;
                i += 1;
            }
            set.push((lo, hi));
        } else {
            set.push((lo, lo));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_match_and_git_pathspecs() {
        // Go's path.Match: wildcards stay within a segment.
        assert!(wildmatch("apps/*", "apps/web", true));
        assert!(!wildmatch("apps/*", "apps/web/base", true));
        assert!(wildmatch("apps/[a-c]?b", "apps/bwb", true));
        assert!(!wildmatch("apps/[^a-c]*", "apps/bwb", true));
        assert!(wildmatch("a\\*b", "a*b", true));
        assert!(!wildmatch("apps/[a-", "apps/a", true));
        // git pathspecs: `*` crosses folders; a plain path is also its folder.
        assert!(pathspec("config/*.json", "config/eu/prod.json"));
        assert!(!pathspec("config/*.json", "config/eu/prod.yaml"));
        assert!(pathspec("config", "config/eu/prod.json"));
        assert!(!pathspec("config", "configs/a.json"));
        // Many stars stay fast.
        let long = "a".repeat(200);
        assert!(!wildmatch(&format!("{}b", "*a".repeat(50)), &long, false));
    }

    #[test]
    fn names_are_sanitized_as_argo_cd_does() {
        assert_eq!(sanitize_name("My_App.v2-"), "my-app.v2");
        assert_eq!(sanitize_name("--x--"), "x");
    }

    #[test]
    fn files_flatten_as_go_prints_them() {
        let node = imagegate_yaml::load(
            "cluster: {name: eu, replicas: 3, ratio: 1.10, big: 1234567}\nlist: [a, b]\nnone: null\non: yes\n",
            &imagegate_yaml::Limits::default(),
        )
        .unwrap()
        .unwrap();
        let mut out = BTreeMap::new();
        flatten(&node, "", &mut out);
        let got: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("cluster.big", "1.234567e+06"),
                ("cluster.name", "eu"),
                ("cluster.ratio", "1.1"),
                ("cluster.replicas", "3"),
                ("list.0", "a"),
                ("list.1", "b"),
                ("none", "<nil>"),
                ("true", "true"),
            ]
        );
    }
}
