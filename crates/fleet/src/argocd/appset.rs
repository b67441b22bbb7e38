//! ApplicationSets: their generators' parameter sets, each put into the template to make one
//! Application, as Argo CD's `applicationset/generators/list.go` and `applicationset/utils`
//! (`Render.Replace`, fasttemplate) do.
//!
//! The `list`, `git`, `clusters`, `matrix` and `merge` generators are evaluated, with the default
//! (fasttemplate) syntax or with `goTemplate: true` (Go's `text/template`, see [`super::gotemplate`]:
//! every templated string of one ApplicationSet, for all its parameter sets, in one evaluation).
//! `templatePatch` is rendered per parameter set in the same syntax and applied as Argo CD's
//! `applyTemplatePatch` does. Everything else (the other generators, a generator's own `template`,
//! `selector` or `values`) is refused with an error naming the line, never skipped: judging fewer
//! Applications than Argo CD makes is the silent pass this section exists to prevent.

use super::{err, gotemplate, text, ArgoCdFleet, ArgoOrigin, Generated, Resolver};
use crate::ConfigError;
use imagegate_yaml::{Node, ScalarStyle, Value};
use std::collections::BTreeMap;

/// The generators Argo CD knows and imagegate does not evaluate yet.
const LATER: [&str; 6] = [
    "matrix",
    "merge",
    "scmProvider",
    "pullRequest",
    "clusterDecisionResource",
    "plugin",
];

/// Every Application one ApplicationSet generates.
pub(crate) fn expand(
    r: &Resolver<'_>,
    manifest: &str,
    doc: &Node,
    out: &mut ArgoCdFleet,
) -> Result<(), ConfigError> {
    let Some(name) = doc
        .get("metadata")
        .and_then(|m| text(m, "name"))
        .filter(|n| !n.is_empty())
    else {
        return Err(err(manifest, doc, "ApplicationSet has no metadata.name"));
    };
    let Some(spec) = doc.get("spec").filter(|s| s.as_map().is_some()) else {
        return Err(err(
            manifest,
            doc,
            format!("ApplicationSet `{name}` has no spec"),
        ));
    };
    let go = spec
        .get("goTemplate")
        .is_some_and(|g| g.to_json() == serde_json::Value::Bool(true));
    let patch = match spec.get("templatePatch").filter(|p| !p.is_null()) {
        Some(p) if p.as_str().is_some() => Some(p),
        Some(p) => {
            return Err(err(
                manifest,
                p,
                format!("ApplicationSet `{name}`: templatePatch must be a string (a YAML or JSON document, usually `templatePatch: |`)"),
            ))
        }
        None => None,
    };
    let Some(template) = spec.get("template").filter(|t| t.as_map().is_some()) else {
        return Err(err(
            manifest,
            spec,
            format!("ApplicationSet `{name}` has no spec.template"),
        ));
    };
    let generators = spec
        .get("generators")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    if generators.is_empty() {
        return Err(err(
            manifest,
            spec,
            format!("ApplicationSet `{name}` has no generators"),
        ));
    }
    let missing_key_error = if go {
        let options: Vec<String> = spec
            .get("goTemplateOptions")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .map(|o| o.as_str().unwrap_or_default().to_string())
            .collect();
        gotemplate::missing_key_error(&options).map_err(|m| {
            err(
                manifest,
                spec.get("goTemplateOptions").unwrap_or(spec),
                format!("ApplicationSet `{name}`: {m}"),
            )
        })?
    } else {
        false
    };
    let g = Gen {
        r,
        manifest,
        name,
        go,
        missing_key_error,
    };
    let mut all = Vec::new();
    for (gi, generator) in generators.iter().enumerate() {
        let at = format!("generators[{gi}]");
        match g.elements(&at, generator, true)? {
            Ok(elements) => {
                g.bounded(&at, generator, all.len() + elements.len())?;
                all.extend(elements);
            }
            Err(not_judged) => out.not_judged.push(not_judged),
        }
    }
    r.generated
        .fetch_add(all.len(), std::sync::atomic::Ordering::Relaxed);
    let rendered: Vec<(Node, Option<String>)> = if go {
        go_render(r, manifest, name, missing_key_error, template, patch, &all)?
    } else {
        all.iter()
            .map(|e| {
                let node = substitute(manifest, template, &e.params)?;
                let patch = match patch {
                    Some(p) => Some(
                        fasttemplate(p.as_str().unwrap_or_default(), &e.params)
                            .map_err(|m| err(manifest, p, m))?,
                    ),
                    None => None,
                };
                Ok((node, patch))
            })
            .collect::<Result<_, ConfigError>>()?
    };
    for (element, (rendered, patch_text)) in all.into_iter().zip(rendered) {
        let rendered = match (patch, patch_text) {
            (Some(node), Some(text)) => {
                apply_template_patch(manifest, name, &element, &rendered, node, &text)?
            }
            _ => rendered,
        };
        // The ApplicationSet controller makes every Application in its own namespace, whatever
        // the template says (`GenerateApplications`): that namespace names its override file.
        let mut metadata = rendered
            .get("metadata")
            .filter(|m| m.as_map().is_some())
            .cloned()
            .unwrap_or_else(|| Node {
                value: Value::Map(Vec::new()),
                line: template.line,
                col: template.col,
            });
        let own_namespace = doc
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .filter(|n| !n.is_null())
            .cloned();
        super::overrides::set(&mut metadata, "namespace", own_namespace);
        let app = Node {
            value: Value::Map(vec![
                (plain("kind", template), plain("Application", template)),
                (plain("metadata", template), metadata),
                (
                    plain("spec", template),
                    rendered
                        .get("spec")
                        .cloned()
                        .unwrap_or_else(|| plain("", template)),
                ),
            ]),
            line: template.line,
            col: template.col,
        };
        let origin = ArgoOrigin {
            manifest: manifest.into(),
            line: element.line,
            kind: "ApplicationSet".into(),
            name: name.to_string(),
            element: Some(element.describe),
            source: None,
        };
        r.application(manifest, &Generated { app: &app, origin }, out)?;
    }
    Ok(())
}

/// The template put through Go's `text/template` for every element, as Argo CD's
/// `RenderTemplateParams` does with `goTemplate: true`: each string (keys too) holding `{{` is
/// one template; all of them and all the elements go to the evaluator at once.
fn go_render(
    r: &Resolver<'_>,
    manifest: &str,
    name: &str,
    missing_key_error: bool,
    template: &Node,
    patch: Option<&Node>,
    elements: &[Element],
) -> Result<Vec<(Node, Option<String>)>, ConfigError> {
    let mut strings: Vec<(&str, &Node)> = Vec::new();
    templated_strings(template, &mut strings);
    // The patch is one more template, evaluated in the same run (its result is the text of the
    // patch for that element).
    let patch_text = patch.and_then(Node::as_str);
    let patch_at = patch_text.filter(|t| t.contains("{{")).map(|text| {
        match strings.iter().position(|(t, _)| *t == text) {
            Some(i) => i,
            None => {
                strings.push((text, patch.unwrap_or(template)));
                strings.len() - 1
            }
        }
    });
    let results = go_evaluate(
        r,
        manifest,
        name,
        missing_key_error,
        &strings,
        elements,
        template,
    )?;
    Ok(results
        .iter()
        .map(|rendered| {
            let by_text = by_text(&strings, rendered);
            let patch = patch_text.map(|text| match patch_at.and_then(|i| rendered.get(i)) {
                Some(r) => r.clone(),
                // A patch without `{{` is its own rendering.
                None => text.to_string(),
            });
            (replace_strings(template, &by_text), patch)
        })
        .collect())
}

/// Every string of `strings` (a Go template, at its node) executed with every element's
/// parameters: `result[element][string]`. The strings are checked against Argo CD's function
/// map first, and with `missingkey=error` every lookup against every element; then all go to
/// the evaluator in one run. An error names the string's line and the element.
pub(crate) fn go_evaluate(
    r: &Resolver<'_>,
    manifest: &str,
    name: &str,
    missing_key_error: bool,
    strings: &[(&str, &Node)],
    elements: &[Element],
    template: &Node,
) -> Result<Vec<Vec<String>>, ConfigError> {
    let mut checked = Vec::new();
    for (text, node) in strings {
        let c = gotemplate::check(text).map_err(|m| {
            err(manifest, node, format!("ApplicationSet `{name}`: {m}"))
                .hint("goTemplate strings are Go templates with Argo CD's functions (sprig, normalize, toYaml); see docs/configuration.md")
        })?;
        checked.push(c);
    }
    let params: Vec<serde_json::Value> = elements
        .iter()
        .map(|e| serde_json::Value::Object(e.go.clone()))
        .collect();
    if missing_key_error {
        for (e, p) in elements.iter().zip(&params) {
            for (c, (_, node)) in checked.iter().zip(strings) {
                c.missing_key(p).map_err(|m| {
                    err(
                        manifest,
                        node,
                        format!("ApplicationSet `{name}` {}: {m}", e.describe),
                    )
                })?;
            }
        }
    }
    let results = if strings.is_empty() || elements.is_empty() {
        vec![Vec::new(); elements.len()]
    } else {
        let Some(evaluator) = r.templates else {
            return Err(err(
                manifest,
                strings[0].1,
                format!("ApplicationSet `{name}` sets goTemplate: true, and no Go template evaluator is available here"),
            )
            .hint("goTemplate ApplicationSets are evaluated by helm: run a command that finds helm (--helm, IMAGEGATE_HELM or PATH)"));
        };
        let job = gotemplate::GoTemplateJob {
            name: name.to_string(),
            templates: strings.iter().map(|(t, _)| (*t).to_string()).collect(),
            params,
        };
        let results = evaluator.evaluate(&job).map_err(|f| {
            let node = f
                .template
                .and_then(|t| strings.get(t))
                .map_or(template, |(_, n)| *n);
            let element = f
                .element
                .and_then(|e| elements.get(e))
                .map(|e| format!(" {}", e.describe))
                .unwrap_or_default();
            err(
                manifest,
                node,
                format!("ApplicationSet `{name}`{element}: {}", f.message),
            )
        })?;
        if results.len() != elements.len() || results.iter().any(|r| r.len() != strings.len()) {
            return Err(err(
                manifest,
                template,
                format!("ApplicationSet `{name}`: the Go template evaluator returned an incomplete result"),
            ));
        }
        results
    };
    Ok(results)
}

/// Argo CD's `applyTemplatePatch`: the rendered patch read as YAML (or JSON) and applied to the
/// rendered Application as a strategic merge patch over the Application type, whose fields
/// declare no merge keys, so: mappings merged key by key, `null` removing a key, anything else
/// (lists included) replacing; then `spec.project` put back as the template had it. The
/// patch's nodes keep their lines in the manifest (a `templatePatch: |` block's line `n` is the
/// `n`-th line after `templatePatch:`, as long as the templates add no lines above it), so
/// findings point into it.
fn apply_template_patch(
    manifest: &str,
    name: &str,
    element: &Element,
    app: &Node,
    at: &Node,
    text: &str,
) -> Result<Node, ConfigError> {
    let fail = |m: String| {
        err(
            manifest,
            at,
            format!(
                "ApplicationSet `{name}` {}: templatePatch {m}",
                element.describe
            ),
        )
    };
    // A block scalar's node is at its first line of content, a flow scalar's at its own.
    let offset = at.line.saturating_sub(1);
    let parsed = imagegate_yaml::load(text, &imagegate_yaml::Limits::default()).map_err(|e| {
        fail(format!(
            "is not YAML once rendered: {} (line {} of the patch)",
            e.message, e.line
        ))
    })?;
    let Some(mut patch) = parsed else {
        return Ok(app.clone());
    };
    shift_lines(&mut patch, offset);
    if patch.as_map().is_none() {
        return Err(fail("is not a mapping once rendered".into()));
    }
    let mut out = app.clone();
    strategic_merge(&mut out, &patch).map_err(fail)?;
    // Argo CD keeps the template's project whatever the patch says.
    let project = app.get("spec").and_then(|s| s.get("project")).cloned();
    if let (Some(project), Value::Map(entries)) = (project, &mut out.value) {
        if let Some((_, spec)) = entries
            .iter_mut()
            .find(|(k, _)| k.key_text().as_deref() == Some("spec"))
        {
            if let Value::Map(fields) = &mut spec.value {
                match fields
                    .iter_mut()
                    .find(|(k, _)| k.key_text().as_deref() == Some("project"))
                {
                    Some((_, v)) => *v = project,
                    None => fields.push((plain("project", &project), project)),
                }
            }
        }
    }
    Ok(out)
}

fn shift_lines(node: &mut Node, by: u32) {
    node.line += by;
    match &mut node.value {
        Value::Scalar(_) => {}
        Value::Seq(items) => items.iter_mut().for_each(|i| shift_lines(i, by)),
        Value::Map(entries) => {
            for (k, v) in entries {
                shift_lines(k, by);
                shift_lines(v, by);
            }
        }
    }
}

/// A strategic merge patch over a type without merge keys (see [`apply_template_patch`]); the
/// patch directives (`$patch`, `$retainKeys`, `$setElementOrder/…`,
/// `$deleteFromPrimitiveList/…`) are not evaluated yet.
fn strategic_merge(target: &mut Node, patch: &Node) -> Result<(), String> {
    let (Value::Map(into), Value::Map(from)) = (&mut target.value, &patch.value) else {
        *target = patch.clone();
        return Ok(());
    };
    for (k, v) in from {
        let key = k.key_text().unwrap_or_default().into_owned();
        if key.starts_with('$') {
            return Err(format!(
                "uses the directive `{key}`, which imagegate does not evaluate yet"
            ));
        }
        let existing = into
            .iter()
            .position(|(ik, _)| ik.key_text().as_deref() == Some(key.as_str()));
        match existing {
            _ if v.is_null() => {
                into.retain(|(ik, _)| ik.key_text().as_deref() != Some(key.as_str()));
            }
            Some(i) if into[i].1.as_map().is_some() && v.as_map().is_some() => {
                strategic_merge(&mut into[i].1, v)?;
            }
            Some(i) => into[i].1 = v.clone(),
            None => into.push((k.clone(), v.clone())),
        }
    }
    Ok(())
}

/// Every distinct string of `node` (keys and values, any depth) that holds `{{`, in order.
fn templated_strings<'n>(node: &'n Node, out: &mut Vec<(&'n str, &'n Node)>) {
    match &node.value {
        Value::Scalar(s) => {
            if matches!(s.to_json(), serde_json::Value::String(_))
                && s.text.contains("{{")
                && !out.iter().any(|(t, _)| *t == s.text)
            {
                out.push((s.text.as_str(), node));
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| templated_strings(i, out)),
        Value::Map(entries) => {
            for (k, v) in entries {
                templated_strings(k, out);
                templated_strings(v, out);
            }
        }
    }
}

/// Each templated string of `strings` with its rendering in `rendered` (one evaluation's result
/// for one element, in the same order).
pub(crate) fn by_text<'a>(
    strings: &[(&'a str, &Node)],
    rendered: &'a [String],
) -> BTreeMap<&'a str, &'a str> {
    strings
        .iter()
        .map(|(t, _)| *t)
        .zip(rendered.iter().map(String::as_str))
        .collect()
}

/// `node` with each string found in `by_text` replaced by its rendering (quoted, so it stays a
/// string whatever it reads like).
fn replace_strings(node: &Node, by_text: &BTreeMap<&str, &str>) -> Node {
    let value = match &node.value {
        Value::Scalar(s) => match by_text.get(s.text.as_str()) {
            Some(r) if matches!(s.to_json(), serde_json::Value::String(_)) => {
                Value::Scalar(imagegate_yaml::Scalar {
                    text: (*r).to_string(),
                    style: ScalarStyle::DoubleQuoted,
                })
            }
            _ => Value::Scalar(s.clone()),
        },
        Value::Seq(items) => {
            Value::Seq(items.iter().map(|i| replace_strings(i, by_text)).collect())
        }
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (replace_strings(k, by_text), replace_strings(v, by_text)))
                .collect(),
        ),
    };
    Node {
        value,
        line: node.line,
        col: node.col,
    }
}

/// mergo's `Merge(dst, src, WithOverride)` on parameter maps, as Argo CD combines parameter sets
/// with `goTemplate`: a map in both is merged key by key, anything else in `src` replaces.
pub(crate) fn merge_override(
    dst: &mut serde_json::Map<String, serde_json::Value>,
    src: &serde_json::Map<String, serde_json::Value>,
) {
    for (k, v) in src {
        match (dst.get_mut(k), v) {
            (Some(serde_json::Value::Object(d)), serde_json::Value::Object(s)) => {
                merge_override(d, s);
            }
            _ => {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The fixed inputs of evaluating one ApplicationSet's generators.
pub(crate) struct Gen<'a> {
    pub r: &'a Resolver<'a>,
    pub manifest: &'a str,
    pub name: &'a str,
    /// `goTemplate: true`: parameters nested as Argo CD makes them for Go templates.
    pub go: bool,
    /// `goTemplateOptions: [missingkey=error]`.
    pub missing_key_error: bool,
}

type Elements = Result<Result<Vec<Element>, super::NotJudged>, ConfigError>;

impl Gen<'_> {
    /// An error when `count` parameter sets, made by the generator at `at`, are with those of
    /// the ApplicationSets before it more than `limits.maxCells` applications.
    fn bounded(&self, at: &str, generator: &Node, count: usize) -> Result<(), ConfigError> {
        let max = self.r.max_applications;
        let before = self.r.generated.load(std::sync::atomic::Ordering::Relaxed);
        if before.saturating_add(count) <= max {
            return Ok(());
        }
        Err(self
            .err(
                generator,
                match before {
                    0 => format!(
                        "ApplicationSet `{}`: {at} makes more than {max} applications, over \
                         limits.maxCells; nothing is judged",
                        self.name
                    ),
                    _ => format!(
                        "ApplicationSet `{}`: {at} makes more than {} applications: with the \
                         {before} of the ApplicationSets before it, over limits.maxCells \
                         ({max}); nothing is judged",
                        self.name,
                        max.saturating_sub(before)
                    ),
                },
            )
            .hint("a matrix makes one application per pair of its children's parameter sets: narrow its generators, or raise limits.maxCells if the fleet really is that large"))
    }

    fn err(&self, node: &Node, message: impl Into<String>) -> ConfigError {
        err(self.manifest, node, message)
    }

    /// The parameter sets of one generator at `at` (`generators[0]`,
    /// `generators[0].matrix.generators[1]`), or why the ApplicationSet's applications are not
    /// judged. `top` is false inside a matrix, whose children may not be matrices again here.
    pub(crate) fn elements(&self, at: &str, generator: &Node, top: bool) -> Elements {
        let name = self.name;
        let entries = generator.as_map().unwrap_or_default();
        for (key, value) in entries {
            let key_text = key.key_text().unwrap_or_default();
            match key_text.as_ref() {
                "list" | "git" | "clusters" => {}
                "matrix" | "merge" if top => {}
                k if LATER.contains(&k) => {
                    return Err(self.err(
                        key,
                        format!("ApplicationSet `{name}`: the `{k}` generator is not evaluated yet{}", if top { "" } else { " inside a matrix" }),
                    )
                    .hint("imagegate evaluates the list, git, clusters, matrix and merge generators so far; declare these applications as plain Application manifests or under components: meanwhile"))
                }
                k => {
                    return Err(self.err(
                        value,
                        format!("ApplicationSet `{name}`: {at}.{k} is not evaluated yet"),
                    ))
                }
            }
        }
        if let Some(list) = generator.get("list") {
            return self.list(at, list).map(Ok);
        }
        if let Some(git) = generator.get("git") {
            return super::git::elements(self, at, git);
        }
        if let Some(clusters) = generator.get("clusters") {
            return super::clusters::elements(self, at, clusters).map(Ok);
        }
        if let Some(matrix) = generator.get("matrix") {
            return self.matrix(at, matrix);
        }
        if let Some(merge) = generator.get("merge") {
            return self.merge(at, merge);
        }
        Err(self.err(
            generator,
            format!("ApplicationSet `{name}`: {at} names no generator"),
        ))
    }

    /// Argo CD's matrix generator: for each parameter set of the first child, the second child
    /// with those parameters put into its strings, and every pair combined. Without
    /// `goTemplate` a key both set to different values is an error, as `CombineStringMaps`
    /// makes it; with it the second child's templated strings are executed as Go templates
    /// with each of the first's parameter sets, and the first's parameters are merged over the
    /// second's (mergo with override).
    fn matrix(&self, at: &str, matrix: &Node) -> Elements {
        let name = self.name;
        for (key, value) in matrix.as_map().unwrap_or_default() {
            let k = key.key_text().unwrap_or_default();
            if k != "generators" {
                return Err(self.err(
                    value,
                    format!("ApplicationSet `{name}`: {at}.matrix.{k} is not evaluated yet"),
                ));
            }
        }
        let children = matrix
            .get("generators")
            .and_then(Node::as_seq)
            .unwrap_or_default();
        if children.len() != 2 {
            return Err(self.err(
                matrix,
                format!(
                    "ApplicationSet `{name}`: a matrix generator needs exactly two generators, it has {}",
                    children.len()
                ),
            ));
        }
        let first_at = format!("{at}.matrix.generators[0]");
        let second_at = format!("{at}.matrix.generators[1]");
        let first = match self.elements(&first_at, &children[0], false)? {
            Ok(e) => e,
            Err(n) => return Ok(Err(n)),
        };
        // With goTemplate every templated string of the second generator (keys too) is
        // executed with each of the first's parameter sets, as Argo CD's `InterpolateGenerator`
        // does; all of them in one evaluation.
        let go_seconds: Option<Vec<Node>> = if self.go {
            let mut templated = Vec::new();
            templated_strings(&children[1], &mut templated);
            let results = go_evaluate(
                self.r,
                self.manifest,
                name,
                self.missing_key_error,
                &templated,
                &first,
                &children[1],
            )?;
            Some(
                results
                    .iter()
                    .map(|rendered| {
                        let by_text = by_text(&templated, rendered);
                        replace_strings(&children[1], &by_text)
                    })
                    .collect(),
            )
        } else {
            None
        };
        let mut out = Vec::new();
        for (ai, a) in first.into_iter().enumerate() {
            let second = match &go_seconds {
                Some(seconds) => seconds[ai].clone(),
                None => substitute(self.manifest, &children[1], &a.params)?,
            };
            let seconds = match self.elements(&second_at, &second, false)? {
                Ok(e) => e,
                Err(n) => return Ok(Err(n)),
            };
            // Checked before the pairs are made: a product past the bound is never built.
            self.bounded(&format!("{at}.matrix"), matrix, out.len() + seconds.len())?;
            for b in seconds {
                let mut params = a.params.clone();
                for (k, v) in &b.params {
                    match params.get(k) {
                        Some(current) if current != v => {
                            return Err(self.err(
                                &children[1],
                                format!(
                                    "ApplicationSet `{name}`: the matrix's generators both set `{k}`, to `{current}` and `{v}`"
                                ),
                            ))
                        }
                        _ => {
                            params.insert(k.clone(), v.clone());
                        }
                    }
                }
                let mut go = b.go.clone();
                merge_override(&mut go, &a.go);
                out.push(Element {
                    params,
                    go,
                    line: a.line,
                    describe: format!("{} × {}", a.describe, b.describe),
                });
            }
        }
        Ok(Ok(out))
    }

    /// Argo CD's merge generator: the first child's parameter sets, each overridden, in child
    /// order, by the set of a later child with the same values of every `mergeKeys` key (a
    /// missing key is null); two sets of one child with the same key values are an error, as
    /// Argo CD's `NonUniqueParamSets`; later children's sets that match no first set are
    /// dropped. With `goTemplate` the keys are top-level parameters and the override merges
    /// maps (mergo with override).
    fn merge(&self, at: &str, merge: &Node) -> Elements {
        let name = self.name;
        for (key, value) in merge.as_map().unwrap_or_default() {
            let k = key.key_text().unwrap_or_default();
            if k != "generators" && k != "mergeKeys" {
                return Err(self.err(
                    value,
                    format!("ApplicationSet `{name}`: {at}.merge.{k} is not evaluated yet"),
                ));
            }
        }
        let mut keys: Vec<String> = merge
            .get("mergeKeys")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Err(self.err(
                merge,
                format!("ApplicationSet `{name}`: a merge generator needs mergeKeys"),
            ));
        }
        let children = merge
            .get("generators")
            .and_then(Node::as_seq)
            .unwrap_or_default();
        if children.len() < 2 {
            return Err(self.err(
                merge,
                format!(
                    "ApplicationSet `{name}`: a merge generator needs at least two generators, it has {}",
                    children.len()
                ),
            ));
        }
        let go = self.go;
        let key_of = |e: &Element| -> Vec<serde_json::Value> {
            keys.iter()
                .map(|k| {
                    if go {
                        e.go.get(k).cloned().unwrap_or(serde_json::Value::Null)
                    } else {
                        e.params
                            .get(k)
                            .map_or(serde_json::Value::Null, |v| v.clone().into())
                    }
                })
                .collect()
        };
        let mut sets: Vec<Vec<Element>> = Vec::new();
        for (ci, child) in children.iter().enumerate() {
            let child_at = format!("{at}.merge.generators[{ci}]");
            let elements = match self.elements(&child_at, child, false)? {
                Ok(e) => e,
                Err(n) => return Ok(Err(n)),
            };
            let mut seen = Vec::new();
            for e in &elements {
                let k = key_of(e);
                if seen.contains(&k) {
                    return Err(self.err(
                        child,
                        format!(
                            "ApplicationSet `{name}`: {child_at} makes two parameter sets with the same mergeKeys values ({})",
                            e.describe
                        ),
                    ));
                }
                seen.push(k);
            }
            sets.push(elements);
        }
        let mut base = sets.remove(0);
        for overrides in &sets {
            for b in &mut base {
                if let Some(o) = overrides.iter().find(|o| key_of(o) == key_of(b)) {
                    b.params
                        .extend(o.params.iter().map(|(k, v)| (k.clone(), v.clone())));
                    merge_override(&mut b.go, &o.go);
                    b.describe = format!("{} ⊕ {}", b.describe, o.describe);
                }
            }
        }
        Ok(Ok(base))
    }

    /// The elements of a `list` generator.
    fn list(&self, at: &str, list: &Node) -> Result<Vec<Element>, ConfigError> {
        for (key, value) in list.as_map().unwrap_or_default() {
            let k = key.key_text().unwrap_or_default();
            if k != "elements" {
                return Err(self.err(
                    value,
                    format!(
                        "ApplicationSet `{}`: list.{k} is not evaluated yet",
                        self.name
                    ),
                ));
            }
        }
        list.get("elements")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(ei, element)| {
                let (params, go) = self.element_params(element)?;
                Ok(Element {
                    params,
                    go,
                    line: element.line,
                    describe: format!("{at}.list.elements[{ei}]"),
                })
            })
            .collect()
    }

    /// The parameters of one list element. With `goTemplate` the element as it is (Argo CD
    /// unmarshals it into a map); without, every field a string, and the fields of `values`
    /// as `values.<key>` (Argo CD refuses any other value).
    fn element_params(
        &self,
        element: &Node,
    ) -> Result<(BTreeMap<String, String>, JsonMap), ConfigError> {
        let name = self.name;
        let Some(entries) = element.as_map() else {
            return Err(self.err(
                element,
                format!("ApplicationSet `{name}`: a list element must be a mapping"),
            ));
        };
        if self.go {
            let serde_json::Value::Object(object) = element.to_json() else {
                return Err(self.err(
                    element,
                    format!("ApplicationSet `{name}`: a list element must be a mapping"),
                ));
            };
            return Ok((BTreeMap::new(), object));
        }
        let string = |node: &Node, key: &str| {
            match node.to_json() {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(self.err(
                node,
                format!("ApplicationSet `{name}`: list element field `{key}` is not a string"),
            )
            .hint("without goTemplate Argo CD accepts only strings in list elements: quote the value")),
        }
        };
        let mut params = BTreeMap::new();
        for (k, v) in entries {
            let key = k.key_text().unwrap_or_default().into_owned();
            if key == "values" {
                let Some(values) = v.as_map() else {
                    return Err(self.err(
                        v,
                        format!("ApplicationSet `{name}`: `values` must be a mapping"),
                    ));
                };
                for (vk, vv) in values {
                    let vk = vk.key_text().unwrap_or_default().into_owned();
                    let value = string(vv, &format!("values.{vk}"))?;
                    params.insert(format!("values.{vk}"), value);
                }
            } else {
                let value = string(v, &key)?;
                params.insert(key, value);
            }
        }
        Ok((params, JsonMap::new()))
    }
}

/// Parameters as Argo CD gives Go templates.
pub(crate) type JsonMap = serde_json::Map<String, serde_json::Value>;

/// One parameter set of a generator, and where it came from.
pub(crate) struct Element {
    /// The parameters by name, without `goTemplate` (flat, every value a string).
    pub params: BTreeMap<String, String>,
    /// The parameters with `goTemplate` (nested, any JSON).
    pub go: JsonMap,
    /// The line to point at in the ApplicationSet's manifest.
    pub line: u32,
    /// The element, as `imagegate cells` names it (`generators[0].list.elements[1]`).
    pub describe: String,
}

/// A plain scalar at `at`'s position.
fn plain(text: &str, at: &Node) -> Node {
    Node {
        value: Value::Scalar(imagegate_yaml::Scalar {
            text: text.into(),
            style: ScalarStyle::Plain,
        }),
        line: at.line,
        col: at.col,
    }
}

/// The template with every string (values and keys, at any depth) put through [`fasttemplate`].
fn substitute(
    manifest: &str,
    node: &Node,
    params: &BTreeMap<String, String>,
) -> Result<Node, ConfigError> {
    let value = match &node.value {
        Value::Scalar(s) => match s.to_json() {
            serde_json::Value::String(text) => {
                let replaced = fasttemplate(&text, params).map_err(|m| err(manifest, node, m))?;
                if replaced == text {
                    Value::Scalar(s.clone())
                } else {
                    // Quoted, so the result stays a string whatever it reads like.
                    Value::Scalar(imagegate_yaml::Scalar {
                        text: replaced,
                        style: ScalarStyle::DoubleQuoted,
                    })
                }
            }
            _ => Value::Scalar(s.clone()),
        },
        Value::Seq(items) => Value::Seq(
            items
                .iter()
                .map(|i| substitute(manifest, i, params))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    Ok((
                        substitute(manifest, k, params)?,
                        substitute(manifest, v, params)?,
                    ))
                })
                .collect::<Result<_, ConfigError>>()?,
        ),
    };
    Ok(Node {
        value,
        line: node.line,
        col: node.col,
    })
}

/// Argo CD's default template syntax (`Render.Replace` without `goTemplate`): a string with no
/// `{{…}}` on one line is left alone; otherwise each `{{ tag }}` becomes the parameter named by
/// the trimmed tag, and a tag no parameter names stays exactly as written. A `{{` with no `}}`
/// after it is an error, as fasttemplate makes it.
///
/// Written by hand: fasttemplate is a Go package, and its semantics are these few lines.
pub(crate) fn fasttemplate(
    text: &str,
    params: &BTreeMap<String, String>,
) -> Result<String, String> {
    let templated = text.lines().any(|l| {
        l.find("{{")
            .is_some_and(|open| l[open + 2..].contains("}}"))
    });
    if !templated {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(format!(
                "invalid template `{text}`: a `{{{{` has no `}}}}` after it"
            ));
        };
        let tag = &after[..close];
        match params.get(tag.trim()) {
            Some(v) if !tag.trim().is_empty() => out.push_str(v),
            _ => {
                out.push_str("{{");
                out.push_str(tag);
                out.push_str("}}");
            }
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}
