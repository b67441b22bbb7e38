//! The fuzz targets: one reader of untrusted text each, with the promises it must keep.

use imagegate_decode::{decode_stream, DecodeOptions};
use imagegate_engine::Config;
use imagegate_fleet::Repo;
use imagegate_policy::ImageRef;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Its name: the folder of its corpus and artifacts.
    pub name: &'static str,
    /// Largest input the engine generates for it.
    pub max_len: usize,
    /// Tokens the engine splices into inputs.
    pub dictionary: &'static [&'static str],
    /// Runs one input; `Ok` carries the outcome's shape (inputs with a new shape are kept),
    /// `Err` a broken promise.
    pub run: fn(&[u8]) -> Result<String, String>,
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "origin",
        max_len: 16 * 1024,
        dictionary: &[
            "\n",
            "reference:",
            "empty:",
            "tag:",
            "digest:",
            "policy:",
            "label:",
            "\n---\n",
            "image: \"\"\n",
            "image:\n",
            "image: ~\n",
            "  repository: ghcr.io/acme/web\n",
            "  tag: latest\n",
            "tag: 1.10\n",
            "imagePullPolicy: Always\n",
            "pullPolicy: Always\n",
            "ghcr.io/acme/web:latest",
            "@sha256:",
            SHA_HEX,
            "- ",
            "  ",
            ": ",
            "{",
            "}",
            "[",
            "]",
            "&a ",
            "*a",
            "<<: *a\n",
            "|\n  ",
            "'",
            "\"",
            ":",
            "",
        ],
        run: origin,
    },
    Target {
        name: "image_ref",
        max_len: 1024,
        dictionary: &[
            ":",
            "/",
            "@",
            "@sha256:",
            "sha256:",
            "sha512:",
            ".",
            "-",
            "_",
            "__",
            "localhost",
            "localhost:5000/",
            "registry.example.com/",
            "docker.io/",
            "[::1]:5000/",
            "{{",
            "}}",
            "<no value>",
            "%!v(MISSING)",
            " ",
            "\t",
            "\n",
            "\u{0}",
            "\u{1b}[31m",
            "é",
            "latest",
            "v1.2.3",
            "0123456789abcdef",
            "ABCDEF",
            SHA_HEX,
        ],
        run: image_ref,
    },
    Target {
        name: "decode",
        max_len: 64 * 1024,
        dictionary: &[
            "---\n",
            "# Source: c/templates/x.yaml\n",
            "apiVersion: v1\n",
            "apiVersion: apps/v1\n",
            "kind: Pod\n",
            "kind: Deployment\n",
            "kind: List\n",
            "kind: CronJob\n",
            "apiVersion: batch/v1\n",
            "apiVersion: ameide.io/v1\n",
            "kind: Domain\n",
            "metadata:\n  name: x\n",
            "spec:\n",
            "  template:\n",
            "    spec:\n",
            "containers:\n",
            "initContainers:\n",
            "ephemeralContainers:\n",
            "- name: a\n",
            "  image: ",
            "image: ",
            "imagePullPolicy: ",
            "IfNotPresent\n",
            "Always\n",
            "items:\n",
            "&a ",
            "*a",
            "<<: *a\n",
            "[",
            "]",
            "{",
            "}",
            ", ",
            ": ",
            "- ",
            "  ",
            "\t",
            "'",
            "\"",
            "|\n",
            ">-\n",
            "!!str ",
            "!!binary ",
            "? ",
            "~",
            "null",
            "1.10",
            "0x1F",
            "\u{feff}",
            "\r\n",
            "\u{0}",
            "\u{1b}",
            "%YAML 1.2\n",
            "...\n",
            "labels:\n",
            "helm.sh/hook: test\n",
        ],
        run: decode,
    },
    Target {
        name: "config",
        max_len: 64 * 1024,
        dictionary: &[
            "version: 1\n",
            "environments:\n",
            "components:\n",
            "- name: dev\n",
            "  - name: web\n",
            "    chart: charts/web\n",
            "chart: ",
            "from: ",
            "config/clusters/*.yaml",
            "{env}",
            "{name}",
            "{clusterType}",
            "{nope}",
            "{",
            "}",
            "valueFiles: [",
            "values/{env}/web.yaml",
            "valueStacks:\n",
            "  environment:\n",
            "naming:\n",
            "  app: \"{env}-{name}\"\n",
            "release: ",
            "namespace: ",
            "scope: cluster\n",
            "clusterScope:\n  key: clusterType\n",
            "policy:\n",
            "severity:\n",
            "immutableTags: ['",
            "(a+)+$",
            "exceptions:\n",
            "  list:\n",
            "    - rule: mutable-tag\n",
            "expires: 2026-01-01\n",
            "limits:\n",
            "maxCells: 0\n",
            "helm:\n",
            "timeoutSeconds: 0\n",
            "kubeVersion: ",
            "../",
            "/etc/passwd",
            "**",
            "&a ",
            "*a",
            "<<: *a\n",
            "[",
            "]",
            ": ",
            "- ",
            "  ",
            "\t",
            "\"",
            "'",
            "~",
            "\u{0}",
            "missingValueFiles: error\n",
            "valuesPrefix: ",
            "$values/",
        ],
        run: config,
    },
    Target {
        name: "argocd",
        max_len: 64 * 1024,
        dictionary: &[
            "kind: Application\n",
            "kind: ApplicationSet\n",
            "kind: List\nitems:\n",
            "---\n",
            "metadata: {name: web}\n",
            "spec:\n",
            "  destination: {name: dev, namespace: web}\n",
            "  source:\n",
            "  sources:\n",
            "    repoURL: https://github.com/acme/gitops\n",
            "    path: charts/web\n",
            "    helm:\n",
            "      valueFiles: [",
            "values.yaml",
            "$values/values/dev/web.yaml",
            "/values/base.yaml",
            "../../",
            "*.yaml",
            "ignoreMissingValueFiles: true\n",
            "valuesObject:\n",
            "values: |\n",
            "parameters:\n",
            "fileParameters:\n",
            "- {name: image.tag, value: '1,2'}\n",
            "ref: values\n",
            "kustomize: {}\n",
            "chart: redis\n",
            "generators:\n",
            "- list:\n    elements:\n",
            "- git:\n",
            "directories: [{path: '*'}]\n",
            "files: [{path: 'values/**'}]\n",
            "template:\n",
            "'{{name}}'",
            "{{",
            "}}",
            "goTemplate: true\n",
            "goTemplateOptions: [missingkey=error]\n",
            "'{{ .name }}'",
            "{{ .path.basename | normalize }}",
            "{{- ",
            " -}}",
            "{{ if .a }}",
            "{{ range .b }}",
            "{{ end }}",
            "{{ include \"x\" . }}",
            "$.",
            "/*",
            "*/",
            "`",
            "[",
            "]",
            "&a ",
            "*a",
            ": ",
            "- ",
            "  ",
            "\"",
            "\u{0}",
        ],
        run: argocd,
    },
    Target {
        name: "edit",
        max_len: 16 * 1024,
        dictionary: &[
            "\n",
            "set image.ref=",
            "replace image.ref=",
            "insert a.b.c=",
            "image:\n",
            "  ref: ",
            "    ref: ",
            "ghcr.io/acme/web@sha256:",
            SHA_HEX,
            "# note\n",
            "  # note",
            "'",
            "''",
            "\"",
            "\\",
            ": ",
            "- ",
            "{",
            "}",
            "[",
            "]",
            ",",
            "&a ",
            "*a",
            "<<: *a\n",
            "|\n  ",
            ">-\n  ",
            "!!str ",
            "---\n",
            "\t",
            "\r\n",
            "é",
            "1.10",
            "~",
        ],
        run: edit,
    },
    Target {
        name: "helm_error",
        max_len: 4 * 1024,
        dictionary: &[
            "Error: ",
            "template: ",
            "execution error at (",
            "parse error at (",
            "YAML parse error on ",
            "web/templates/a.yaml",
            "web/charts/sub/templates/_helpers.tpl",
            ":",
            "12",
            "0",
            "4294967296",
            "): ",
            "\n",
            "  executing \"web/templates/a.yaml\" at <.Values.a>:",
            "error calling include: ",
            "error calling tpl: ",
            "unclosed action started at ",
            "error converting YAML to JSON: yaml: line 7: ",
            "gotpl",
            "(",
            ")",
        ],
        run: helm_error,
    },
];

const SHA_HEX: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The target called `name`.
pub fn by_name(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// A shape label of a message: digits folded and quoted input (between backticks or quotes)
/// dropped, so neither a position nor the input's own text makes an outcome "new".
fn shape(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '`' | '"' | '\'') => {
                quote = Some(c);
                out.push('_');
            }
            None if c.is_ascii_digit() => out.push('#'),
            None => out.push(c),
        }
        if out.len() >= max {
            break;
        }
    }
    out
}

/// `ImageRef::parse`: never panics; a parsed reference is its input byte for byte, its parts
/// are pieces of it in order, and a digest is `sha256:` and 64 lowercase hex digits.
pub fn image_ref(data: &[u8]) -> Result<String, String> {
    let raw = String::from_utf8_lossy(data);
    match ImageRef::parse(&raw) {
        Err(e) => {
            let variant: String = format!("{e:?}")
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            Ok(format!("err {variant}"))
        }
        Ok(r) => {
            if r.as_str() != raw || r.to_string() != raw {
                return Err(format!("{raw:?} came back as {:?}", r.as_str()));
            }
            let mut rebuilt = r.repository().to_string();
            if let Some(t) = r.tag() {
                rebuilt.push(':');
                rebuilt.push_str(t);
            }
            if let Some(d) = r.digest() {
                rebuilt.push('@');
                rebuilt.push_str(d);
            }
            if rebuilt != raw {
                return Err(format!("{raw:?}: its parts rebuild {rebuilt:?}"));
            }
            if !r.repository().ends_with(r.path()) {
                return Err(format!(
                    "{raw:?}: path {:?} is not in the repository",
                    r.path()
                ));
            }
            if let Some(d) = r.domain() {
                if !r.repository().starts_with(d) {
                    return Err(format!(
                        "{raw:?}: domain {d:?} does not start the repository"
                    ));
                }
            }
            if let Some(d) = r.digest() {
                let hex = d.strip_prefix("sha256:").unwrap_or("");
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(format!("{raw:?}: accepted digest {d:?}"));
                }
            }
            if raw.chars().any(char::is_whitespace) {
                return Err(format!("{raw:?}: accepted whitespace"));
            }
            Ok(format!(
                "ok domain={} tag={} digest={}",
                r.domain().is_some(),
                r.tag().is_some(),
                r.digest().is_some()
            ))
        }
    }
}

/// The provenance search (`imagegate_origin::Stack::find`) over hostile values files and any
/// offending value, the empty one included (which once made it spin forever). The input's first
/// line is the offending part (`kind:text`); the rest is split at `\n---\n` into the layers of
/// a value stack. Promises: it ends (the engine's watchdog), never panics, an origin names one
/// of the layers and a line that exists there, and a search with an exhausted budget finds
/// nothing.
pub fn origin(data: &[u8]) -> Result<String, String> {
    use imagegate_origin::{Hints, Stack};
    use imagegate_policy::Offending;
    let text = String::from_utf8_lossy(data);
    let (head, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let (kind, value) = head.split_once(':').unwrap_or((head, ""));
    let value = value.to_string();
    let offending = match kind {
        "reference" => Offending::Reference(value),
        "tag" => Offending::Tag(value),
        "digest" => Offending::Digest(value),
        "policy" => Offending::PullPolicy(value),
        "label" => Offending::LabelValue(value),
        _ => Offending::EmptyImage,
    };
    let names: Vec<String> = (0..rest.split("\n---\n").count())
        .map(|i| format!("v/{i}.yaml"))
        .collect();
    let layers: Vec<(&str, &str)> = names
        .iter()
        .map(String::as_str)
        .zip(rest.split("\n---\n"))
        .collect();
    let stack = Stack::from_texts(&layers);
    let words = ["web", "metrics"];
    let hints = Hints {
        image: Some("ghcr.io/acme/web:latest"),
        words: &words,
    };
    let found = stack.find(&offending, &hints);
    if let Some(o) = &found {
        let Some((_, layer)) = layers.iter().find(|(f, _)| *f == o.file) else {
            return Err(format!("origin in {}, which is no layer", o.file));
        };
        // Lines as YAML (and so helm's own errors) count them: `\r` ends a line too.
        let lines = imagegate_origin::yaml_lines(layer).len().max(1) as u32;
        if o.line == 0 || o.line > lines {
            return Err(format!("origin line {} of a {lines}-line file", o.line));
        }
    }
    // A search that ran out of budget reports nothing: a partial answer could be a wrong one.
    let starved = Stack::from_texts(&layers).with_budget(1);
    if starved.find(&offending, &hints).is_some() && starved.exhausted() {
        return Err("an exhausted search still reported an origin".into());
    }
    Ok(format!(
        "{kind} found={} exhausted={}",
        found.is_some(),
        stack.exhausted()
    ))
}

/// The values-file span editor (`imagegate_edit`). The input's first line is `OP KEY=VALUE` (`OP`
/// one of `set`, `replace`, `insert`); the rest is the values file. Promises: it never panics;
/// an edit is of a file that loads and parses back with `KEY` set to `VALUE` (the editor itself
/// checks that nothing else changed), an insertion keeps every old byte, and a refusal names a
/// line of the file.
pub fn edit(data: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(data);
    let (head, file) = text.split_once('\n').unwrap_or((&text, ""));
    let (op, rest) = head.split_once(' ').unwrap_or((head, ""));
    let (key, value) = rest.split_once('=').unwrap_or((rest, ""));
    let Some(path) = imagegate_yaml::parse_path(key) else {
        return Ok("no path".into());
    };
    let result = match op {
        "replace" => imagegate_edit::replace(file, &path, value),
        "insert" => imagegate_edit::insert(file, &path, value),
        _ => imagegate_edit::set(file, &path, value),
    };
    let limits = imagegate_yaml::Limits::default();
    match result {
        Err(e) => {
            let lines = imagegate_origin::yaml_lines(file).len().max(1) as u32;
            if e.line > lines + 1 {
                return Err(format!("refusal at line {} of a {lines}-line file", e.line));
            }
            Ok(format!("refused {}", shape(&e.message, 40)))
        }
        Ok(e) => {
            if let Err(err) = imagegate_yaml::load(file, &limits) {
                return Err(format!("an edit of a file that does not load: {err}"));
            }
            let new = imagegate_yaml::load(&e.text, &limits)
                .map_err(|err| format!("the edited file does not load: {err}"))?;
            let got = new
                .as_ref()
                .and_then(|n| n.at_path(key))
                .and_then(|n| n.as_str());
            if got != Some(value) && !matches!(e.how, imagegate_edit::How::AtAnchor) {
                return Err(format!("{key} reads {got:?} after the edit, not {value:?}"));
            }
            let kept = e.text.len() > file.len()
                && (0..=file.len()).any(|k| {
                    file.is_char_boundary(k)
                        && e.text.starts_with(&file[..k])
                        && e.text.ends_with(&file[k..])
                });
            if matches!(e.how, imagegate_edit::How::Inserted) && !kept {
                return Err("an insertion changed old bytes".into());
            }
            Ok(format!("{:?}", e.how))
        }
    }
}

/// `decode_stream`: never panics; every object and error points at a document of the stream,
/// and the document count never exceeds the stream's documents.
pub fn decode(data: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(data);
    let docs = imagegate_yaml::split_stream(&text);
    // As a run decodes: with the policy's built-in custom image fields.
    let opts = DecodeOptions {
        custom_fields: imagegate_policy::builtin_custom_image_fields(),
        ..DecodeOptions::default()
    };
    let d = decode_stream(&text, &opts);
    if d.documents > docs.len() {
        return Err(format!(
            "{} documents counted in a stream of {}",
            d.documents,
            docs.len()
        ));
    }
    let lines = text.lines().count() as u32 + 1;
    for o in &d.objects {
        if o.document >= docs.len() {
            return Err(format!(
                "object {:?} in document {} of {}",
                o.object,
                o.document,
                docs.len()
            ));
        }
        for s in &o.sites {
            if s.line.is_some_and(|l| l == 0 || l > lines) {
                return Err(format!("site {} at line {:?} of {lines}", s.field, s.line));
            }
        }
    }
    for e in &d.errors {
        if e.document >= docs.len() {
            return Err(format!(
                "error in document {} of {}: {}",
                e.document,
                docs.len(),
                e.message
            ));
        }
        if e.message.trim().is_empty() {
            return Err(format!(
                "an error without a message in document {}",
                e.document
            ));
        }
    }
    let mut kinds: Vec<String> = d
        .objects
        .iter()
        .flat_map(|o| o.sites.iter().map(|s| format!("{:?}", s.kind)))
        .collect();
    kinds.sort();
    kinds.dedup();
    Ok(format!(
        "objects={} errors={} kinds={kinds:?} first={}",
        d.objects.len().min(4),
        d.errors.len().min(4),
        d.errors
            .first()
            .map(|e| shape(&e.message, 30))
            .unwrap_or_default()
    ))
}

/// A temporary repository holding `files`, for a target to resolve paths against.
fn fuzz_repo(prefix: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, Repo) {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create the fuzz repository: {e}"));
    for (path, text) in files {
        let p: PathBuf = dir.path().join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
        }
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
    }
    let repo =
        Repo::open(dir.path()).unwrap_or_else(|e| panic!("cannot open the fuzz repository: {e}"));
    (dir, repo)
}

/// A small repository the config target resolves against: a chart, two environment records,
/// a component file and values files.
fn repo() -> &'static (tempfile::TempDir, Repo) {
    static REPO: OnceLock<(tempfile::TempDir, Repo)> = OnceLock::new();
    REPO.get_or_init(|| {
        let files: &[(&str, &str)] = &[
            ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
            ("config/clusters/a.yaml", "- env: dev\n  clusterType: azure\n- env: prod\n  clusterType: azure\n"),
            ("config/clusters/b.yaml", "env: local\nclusterType: local\n"),
            ("components/web/component.yaml", "name: web\ndomain: apps\nchart:\n  path: charts/web\n  valueFiles: [\"$values/values/{env}/web.yaml\"]\n"),
            ("values/dev/web.yaml", "image: a\n"),
            ("values/base.yaml", "x: 1\n"),
        ];
        fuzz_repo("imagegate-fuzz-repo-", files)
    })
}

/// `Config::from_text` and the cell matrix: never panics, and every file a cell would hand to
/// helm resolves inside the repository.
pub fn config(data: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(data);
    let (_, repo) = repo();
    let cfg = match Config::from_text(repo.clone(), "imagegate.yaml", &text) {
        Ok(c) => c,
        Err(e) => return Ok(format!("load-err {}", shape(&e.message, 28))),
    };
    let cells = match cfg.cells() {
        Ok(c) => c,
        Err(e) => return Ok(format!("cells-err {}", shape(&e.message, 28))),
    };
    for cell in &cells {
        for vf in cell.present_value_files() {
            match repo.resolve(vf) {
                Ok(Some(p)) if p.starts_with(repo.root()) => {}
                other => {
                    return Err(format!(
                        "cell {} hands helm values file {vf:?}: {other:?}",
                        cell.app
                    ))
                }
            }
        }
        if cell.problems.is_empty() {
            if let Err(e) = repo.resolve(&cell.chart) {
                return Err(format!(
                    "cell {} has chart {:?} ({e}) and no problem",
                    cell.app, cell.chart
                ));
            }
        }
    }
    Ok(format!(
        "ok cells={} problems={}",
        cells.len().min(4),
        cells
            .iter()
            .filter(|c| !c.problems.is_empty())
            .count()
            .min(2)
    ))
}

thread_local! {
    /// Each thread's own repository for the argocd target (its manifest is rewritten per input).
    static ARGOCD_REPO: (tempfile::TempDir, Repo) = {
        let files: &[(&str, &str)] = &[
            ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
            ("charts/web/values.yaml", "image: a\n"),
            ("values/dev/web.yaml", "image: b\n"),
            ("values/base.yaml", "x: 1\n"),
            ("overlays/dev/kustomization.yaml", "resources: []\n"),
        ];
        fuzz_repo("imagegate-fuzz-argocd-", files)
    };
}

/// The Go templates of `goTemplate` ApplicationSets "evaluated" as themselves: the fuzz runs
/// without helm, and what is exercised is everything around the evaluation (Go's lexical
/// rules, the function and `missingkey` checks, the parameter shapes).
struct EchoTemplates;

impl imagegate_fleet::GoTemplates for EchoTemplates {
    fn evaluate(
        &self,
        job: &imagegate_fleet::GoTemplateJob,
    ) -> Result<Vec<Vec<String>>, imagegate_fleet::GoTemplateFailure> {
        Ok(job.params.iter().map(|_| job.templates.clone()).collect())
    }
}

/// Argo CD manifests read by the `argocd:` section: never panics, every file a cell hands helm
/// (chart, values files, `--set-file` files) resolves inside the repository, and every inline
/// values layer is YAML helm can read. `goTemplate` ApplicationSets go through the Go template
/// checks (their lexer sees the whole input too).
pub fn argocd(data: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(data);
    let _ = imagegate_fleet::lex_go_template(&text);
    ARGOCD_REPO.with(|(dir, repo)| {
        let manifests = dir.path().join("argocd");
        std::fs::create_dir_all(&manifests).map_err(|e| e.to_string())?;
        std::fs::write(manifests.join("apps.yaml"), text.as_bytes()).map_err(|e| e.to_string())?;
        let config = "version: 1\nargocd:\n  manifests: [\"argocd/*.yaml\"]\n  repoURL: [\"https://github.com/acme/gitops\"]\n";
        let cfg = match Config::from_text_with(
            repo.clone(),
            "imagegate.yaml",
            config,
            Some(&EchoTemplates),
        ) {
            Ok(c) => c,
            Err(e) => return Ok(format!("load-err {}", shape(&e.message, 28))),
        };
        let cells = match cfg.cells() {
            Ok(c) => c,
            Err(e) => return Ok(format!("cells-err {}", shape(&e.message, 28))),
        };
        let inside = |what: &str, path: &str| match repo.resolve(path) {
            Ok(Some(p)) if p.starts_with(repo.root()) => Ok(()),
            other => Err(format!("a cell hands helm {what} {path:?}: {other:?}")),
        };
        for cell in &cells {
            for vf in cell.present_value_files() {
                inside("values file", vf)?;
            }
            for p in cell
                .parameters
                .iter()
                .filter(|p| p.kind == imagegate_fleet::ParameterKind::SetFile)
            {
                inside("file parameter", &p.value)?;
            }
            if cell.problems.is_empty() {
                inside("chart", &cell.chart)?;
            }
            if let Some(inline) = &cell.inline_values {
                if inline.field.ends_with("valuesObject") {
                    imagegate_yaml::load(&inline.text, &imagegate_yaml::Limits::default())
                        .map_err(|e| format!("inline values of {} do not load: {e}", cell.app))?;
                }
            }
        }
        Ok(format!(
            "ok cells={} not-judged={}",
            cells.len().min(4),
            cfg.argocd.not_judged.len().min(2)
        ))
    })
}

/// helm's error message (the chart's own `fail` text in it) to the template place it names:
/// never a panic, and a place is a template the message names, at a line from 1.
pub fn helm_error(data: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(data);
    let Some(site) = imagegate_render::error_site(&text) else {
        return Ok("none".into());
    };
    if !site.template.contains("/templates/") || !text.contains(&site.template) {
        return Err(format!("a template the message does not name: {site:?}"));
    }
    if site.line == Some(0) || site.rendered_line.is_some() && site.line.is_some() {
        return Err(format!("an impossible place: {site:?}"));
    }
    Ok(format!(
        "site {} line={} col={} rendered={}",
        shape(&site.template, 24),
        site.line.is_some(),
        site.byte_column.is_some(),
        site.rendered_line.is_some()
    ))
}
