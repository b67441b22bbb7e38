//! Argo CD's Go templates (`goTemplate: true` ApplicationSets) evaluated by helm, whose
//! templates are Go's own `text/template` with sprig: [`HelmGoTemplates`] implements the fleet's
//! [`GoTemplates`].
//!
//! One `helm template` per ApplicationSet, in the render sandbox and through the bounded
//! runner, over a scratch chart:
//!
//! - `templates/_t<j>.tpl` defines `argocd.t<j>` as the j-th string, exactly as written
//!   (calls of Argo CD's `normalize` become `include "argocd.normalize"`, which
//!   `templates/_argocd.tpl` defines as Argo CD's `SanitizeName`);
//! - `templates/e<i>.yaml` includes every `argocd.t<j>` with the i-th parameter set as data,
//!   so `.` and `$` are the parameters and nothing of helm's own (`.Files`, `.Release`) is in
//!   reach; each result is base64-encoded (`r<j>: "…"`, a mapping, as helm wants its output), so helm's removal of `<no value>` from its output
//!   does not touch what Go printed;
//! - the parameter sets are JSON strings in the values, decoded with `mustFromJson` (Go's
//!   `encoding/json`, as Argo CD decodes list elements: every number a float64).
//!
//! The fleet checks the templates first (functions helm has and Argo CD lacks, the
//! `missingkey` option), so what helm evaluates is what Argo CD would.

use crate::process::{run_bounded, Bounds};
use crate::run::Sandbox;
use crate::Helm;
use imagegate_fleet::{rename_function, GoTemplateFailure, GoTemplateJob, GoTemplates};
use std::time::Duration;

/// The scratch chart's name, which helm's messages start paths with.
const CHART: &str = "argocd-templates";

/// Argo CD's `SanitizeName`, which its templates call `normalize`: lowercase, every character
/// but `a-z0-9-.` a `-`, at most 253 bytes, no `-` or `.` at either end.
const NORMALIZE: &str = r#"{{- define "argocd.normalize" -}}
{{- regexReplaceAll "[^-a-z0-9.]" (lower .) "-" | trunc 253 | trimAll "-." -}}
{{- end -}}
"#;

/// Go templates evaluated by `helm`, bounded in time and output.
#[derive(Debug, Clone)]
pub struct HelmGoTemplates<'a> {
    /// The helm that runs them.
    pub helm: &'a Helm,
    /// Deadline of one evaluation.
    pub timeout: Duration,
    /// Most bytes of helm's output for one evaluation.
    pub max_output: usize,
}

impl<'a> HelmGoTemplates<'a> {
    /// Evaluations by `helm` with the default bounds (two minutes, 64 MiB).
    pub fn new(helm: &'a Helm) -> Self {
        Self {
            helm,
            timeout: Duration::from_secs(120),
            max_output: 64 * 1024 * 1024,
        }
    }
}

impl GoTemplates for HelmGoTemplates<'_> {
    fn evaluate(&self, job: &GoTemplateJob) -> Result<Vec<Vec<String>>, GoTemplateFailure> {
        let fail = |message: String| GoTemplateFailure {
            element: None,
            template: None,
            message,
        };
        let sandbox = Sandbox::new().map_err(|f| fail(f.message))?;
        let chart = sandbox.dir.path().join("chart");
        let write = |rel: &str, text: &str| -> Result<(), GoTemplateFailure> {
            let path = chart.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| fail(format!("cannot prepare the template chart: {e}")))?;
            }
            std::fs::write(&path, text)
                .map_err(|e| fail(format!("cannot write the template chart: {e}")))
        };
        write(
            "Chart.yaml",
            &format!("apiVersion: v2\nname: {CHART}\nversion: 0.1.0\n"),
        )?;
        write("templates/_argocd.tpl", NORMALIZE)?;
        for (j, text) in job.templates.iter().enumerate() {
            let text = rename_function(text, "normalize", "include \"argocd.normalize\"");
            write(
                &format!("templates/_t{j}.tpl"),
                &format!("{{{{define \"argocd.t{j}\"}}}}{text}{{{{end}}}}"),
            )?;
        }
        let mut values = serde_json::Map::new();
        for (i, params) in job.params.iter().enumerate() {
            let mut body = format!("{{{{- $p := mustFromJson .Values.p{i} }}}}\n");
            for j in 0..job.templates.len() {
                body.push_str(&format!(
                    "r{j}: {{{{ include \"argocd.t{j}\" $p | b64enc | quote }}}}\n"
                ));
            }
            write(&format!("templates/e{i}.yaml"), &body)?;
            values.insert(
                format!("p{i}"),
                serde_json::Value::String(params.to_string()),
            );
        }
        let values_file = sandbox.dir.path().join("params.json");
        std::fs::write(&values_file, serde_json::Value::Object(values).to_string())
            .map_err(|e| fail(format!("cannot write the parameters: {e}")))?;
        let mut cmd = sandbox.command(self.helm, None);
        cmd.arg("template")
            .arg(CHART)
            .arg(&chart)
            .arg("--values")
            .arg(&values_file);
        let out = run_bounded(
            cmd,
            &Bounds {
                timeout: self.timeout,
                max_stdout: self.max_output,
                stdin: None,
                max_address_space: None,
                inherit_env: false,
            },
        )
        .map_err(|e| {
            fail(format!(
                "helm, evaluating the Go templates of ApplicationSet `{}`: {e}",
                job.name
            ))
        })?;
        if !out.status_ok {
            return Err(failure(&String::from_utf8_lossy(&out.stderr)));
        }
        parse(
            &String::from_utf8_lossy(&out.stdout),
            job.params.len(),
            job.templates.len(),
        )
        .map_err(fail)
    }
}

/// helm's error, with the element and template it names, in Go's words less the scratch
/// chart's paths.
fn failure(stderr: &str) -> GoTemplateFailure {
    // Helm 4 breaks the chain of a template error over indented lines; Helm 3 writes one line.
    let joined = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Use --debug"))
        .collect::<Vec<_>>()
        .join(" ");
    let text = joined.trim_start_matches("Error: ");
    let number_after = |marker: &str| -> Option<usize> {
        let at = text.find(marker)? + marker.len();
        let digits: String = text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let element = number_after("templates/e");
    // helm rewrites an error of `fail` or `required` as `execution error at (file:line:col)`,
    // where the line of an element's file is that of its template's include (after one line).
    let element_line = element.and_then(|i| number_after(&format!("templates/e{i}.yaml:")));
    let template = number_after("\"argocd.t")
        .or_else(|| number_after("templates/_t"))
        .or_else(|| element_line.and_then(|l| l.checked_sub(2)));
    // The innermost part is Go's own message about the ApplicationSet's string.
    let message = match template {
        Some(j) => {
            let marker = format!("executing \"argocd.t{j}\" ");
            if let Some(at) = text.rfind(&marker) {
                format!("template: executing {}", &text[at + marker.len()..])
            } else if let Some(at) = text.rfind(&format!("_t{j}.tpl:")) {
                let rest = &text[at..];
                let rest = rest.find(": ").map_or(rest, |c| &rest[c + 2..]);
                format!("template: {rest}")
            } else if let Some(rest) = text.strip_prefix("execution error at (") {
                format!(
                    "template: {}",
                    rest.split_once("): ").map_or(rest, |(_, m)| m)
                )
            } else {
                text.to_string()
            }
        }
        None => text.to_string(),
    };
    GoTemplateFailure {
        element,
        template,
        message,
    }
}

/// The results in helm's output: per element file, one `r<j>: "<base64>"` line per template.
fn parse(stdout: &str, elements: usize, templates: usize) -> Result<Vec<Vec<String>>, String> {
    let mut results = vec![vec![None; templates]; elements];
    let mut current = None;
    for line in stdout.lines() {
        if let Some(source) = line.strip_prefix(&format!("# Source: {CHART}/templates/e")) {
            current = source
                .strip_suffix(".yaml")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&i| i < elements);
            continue;
        }
        let (Some(i), Some(rest)) = (current, line.strip_prefix('r')) else {
            continue;
        };
        let (j, encoded) = rest.split_once(": ").unwrap_or((rest, ""));
        let encoded = encoded.trim().trim_matches('"');
        let Some(j) = j.parse::<usize>().ok().filter(|&j| j < templates) else {
            continue;
        };
        let bytes = decode_base64(encoded.trim())
            .ok_or_else(|| "helm's output of the Go templates is not base64".to_string())?;
        results[i][j] = Some(
            String::from_utf8(bytes)
                .map_err(|_| "a Go template rendered text that is not UTF-8".to_string())?,
        );
    }
    results
        .into_iter()
        .map(|r| {
            r.into_iter()
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| "helm's output lacks a Go template's result".to_string())
        })
        .collect()
}

/// Standard base64 with padding, as Go's `base64.StdEncoding` (sprig's `b64enc`) writes it.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let got = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&got[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_as_go_encodes() {
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("Zg==").unwrap(), b"f");
        assert_eq!(decode_base64("Zm8=").unwrap(), b"fo");
        assert_eq!(decode_base64("Zm9v").unwrap(), b"foo");
        assert_eq!(decode_base64("PG5vIHZhbHVlPg==").unwrap(), b"<no value>");
        assert!(decode_base64("Zm9").is_none());
        assert!(decode_base64("Z!==").is_none());
    }

    #[test]
    fn helm_errors_name_the_element_and_template() {
        let f = failure("Error: template: argocd-templates/templates/e3.yaml:2:6: executing \"argocd-templates/templates/e3.yaml\" at <include \"argocd.t1\" $p>: error calling include: template: argocd-templates/templates/_t1.tpl:1:27: executing \"argocd.t1\" at <.a.b>: nil pointer evaluating interface {}.b\n");
        assert_eq!((f.element, f.template), (Some(3), Some(1)));
        assert_eq!(
            f.message,
            "template: executing at <.a.b>: nil pointer evaluating interface {}.b"
        );
        let helm4 = failure("Error: argocd-templates/templates/e0.yaml:2:7\n  executing \"argocd-templates/templates/e0.yaml\" at <include \"argocd.t0\" $p>:\n    error calling include:\nargocd-templates/templates/_t0.tpl:1:29\n  executing \"argocd.t0\" at <.tag.nope>:\n    can't evaluate field nope in type interface {}\n\nUse --debug flag to render out invalid YAML\n");
        assert_eq!((helm4.element, helm4.template), (Some(0), Some(0)));
        assert_eq!(
            helm4.message,
            "template: executing at <.tag.nope>: can't evaluate field nope in type interface {}"
        );
        let p = failure("Error: parse error at (argocd-templates/templates/_t0.tpl:1): function \"nope\" not defined\n");
        assert_eq!((p.element, p.template), (None, Some(0)));
        assert_eq!(p.message, "template: function \"nope\" not defined");
        let x = failure(
            "Error: execution error at (argocd-templates/templates/e1.yaml:3:7): no prod\n",
        );
        assert_eq!((x.element, x.template), (Some(1), Some(1)));
        assert_eq!(x.message, "template: no prod");
    }
}
