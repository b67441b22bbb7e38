//! Causal provenance: the values line that *causes* a finding's image part, confirmed by helm.
//!
//! For a cell with image findings, the cell is rendered once more from a scratch copy of its
//! chart ([`imagegate_render::ScratchChart`], vendored `.tgz` subcharts unpacked) in which the
//! candidate scalars of every values layer, and `appVersion` of every `Chart.yaml`, are unique
//! markers ([`imagegate_origin::markers`]). Each marker that reaches a rendered image or pull
//! policy names the line that put it there: helm's own merge, defaults, aliases and template
//! functions carried it. The render goes through the cell's renderer and render cache like any
//! other, so a second run pays nothing for it. A field no marker reaches is the template's
//! doing, and only then is it reported so.

use crate::renderer::{render_each, Renderer};
use imagegate_decode::{DecodeOptions, Decoded, ImageSite, PullPolicy};
use imagegate_fleet::{Cell, Repo};
use imagegate_origin::markers::{self, Marked, Markers, Part, Selection};
use imagegate_origin::LayerKind;
use imagegate_policy::{Finding, RuleId};
use imagegate_render::{cell_keys, CacheKey, CacheUse, RenderCache, RenderOptions, ScratchChart};
use std::collections::HashMap;

/// Largest values file read for a provenance render (helm read it for the real render).
const MAX_VALUES_BYTES: u64 = 64 * 1024 * 1024;

/// What a provenance render needs beyond the judge: the renderer, its bounds and the cache.
#[derive(Clone, Copy)]
pub struct Rerender<'a> {
    /// The cell's renderer.
    pub renderer: &'a dyn Renderer,
    /// The render bounds of the run.
    pub opts: &'a RenderOptions,
    /// The run's render cache, if any.
    pub cache: Option<&'a RenderCache>,
    /// The cache key of the cell's own render, when it has one: the marker render of the
    /// chart in place is keyed from it ([`imagegate_render::CacheKey::variant`]).
    pub key: Option<&'a CacheKey>,
}

/// Which markers reached one image site.
#[derive(Debug, Default, Clone)]
pub struct SiteTrace {
    /// Markers in the image, by part (one marker may fill several parts).
    pub parts: Vec<(Part, usize)>,
    /// Markers in the pull policy.
    pub pull_policy: Vec<usize>,
    /// Every marker in the image, whether or not the image parses into parts.
    pub image: Vec<usize>,
}

/// The result of one cell's provenance render.
pub struct Trace {
    markers: Markers,
    /// By (document, image field) of the real render.
    sites: HashMap<(usize, String), SiteTrace>,
    /// Pull-policy field → image field, per document.
    policy_fields: HashMap<(usize, String), String>,
    /// Why helm could not confirm anything for this cell.
    failure: Option<String>,
}

/// What helm says about one finding's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// This line causes the field.
    Line(imagegate_origin::Origin, Option<String>),
    /// helm rendered the field with every candidate value marked and none reached it: the
    /// template writes it (the string says what to do).
    Template(String),
    /// helm could not tell (why).
    Unknown(String),
}

/// A marked value as an origin.
fn origin_of(m: &Marked) -> imagegate_origin::Origin {
    imagegate_origin::Origin {
        file: m.file.clone(),
        line: m.line,
        text: m.line_text.clone(),
        key: m.key.clone(),
        layer: m.layer,
        value: m.written.clone(),
    }
}

/// The key prefix of each chart folder of the copy, as its parents' values see it: the
/// dependency's `alias` when the parent's `Chart.yaml` gives one, else its name.
fn prefixes(scratch: &ScratchChart) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let charts = scratch.charts();
    if let Some(main) = charts.first() {
        out.insert(main.clone(), Vec::new());
    }
    let load = |rel: &str| {
        scratch
            .read(&format!("{rel}/Chart.yaml"), 1 << 20)
            .ok()
            .and_then(|t| imagegate_yaml::load(&t, &imagegate_yaml::Limits::default()).ok())
            .flatten()
    };
    for chart in charts.iter().skip(1) {
        let Some((parent, _)) = chart.rsplit_once("/charts/") else {
            continue;
        };
        let name = load(chart)
            .and_then(|n| n.get("name").and_then(|v| v.as_str().map(str::to_string)))
            .unwrap_or_else(|| chart.rsplit('/').next().unwrap_or("").to_string());
        let alias = load(parent).and_then(|p| {
            p.get("dependencies")?.as_seq()?.iter().find_map(|d| {
                (d.get("name")?.as_str()? == name)
                    .then(|| d.get("alias").and_then(|a| a.as_str()).map(str::to_string))
                    .flatten()
            })
        });
        let mut prefix = out.get(parent).cloned().unwrap_or_default();
        prefix.push(alias.unwrap_or(name));
        out.insert(chart.clone(), prefix);
    }
    out
}

/// Readies an Argo CD cell's own inputs in `marked` (the cell to render with markers): its
/// inline values and `--set` parameters marked like any values layer, after the value files
/// (their precedence), and the files its `--set-file` parameters read copied unchanged as
/// inputs of the copy, when there is one.
fn mark_argocd_inputs(
    repo: &Repo,
    marked: &mut Cell,
    scratch: Option<&ScratchChart>,
    markers: &mut Markers,
    selection: &Selection,
) -> Result<(), String> {
    if let Some(inline) = &mut marked.inline_values {
        if let Some(json) = markers.mark_values(
            &inline.file,
            LayerKind::ValueStack,
            &[],
            &inline.text,
            selection,
        ) {
            inline.text = json;
        }
    }
    for p in &mut marked.parameters {
        if p.kind == imagegate_fleet::ParameterKind::SetFile {
            // Rendered in place, the file is read where it is.
            if let Some(scratch) = scratch {
                let text = repo
                    .read_to_string(&p.value, MAX_VALUES_BYTES)
                    .map_err(|e| format!("{}: {e}", p.value))?;
                p.value = scratch.write_input(&p.value, &text)?;
            }
            continue;
        }
        let Some(layer) = p.as_values_layer() else {
            continue;
        };
        let Some(json) =
            markers.mark_values(&p.file, LayerKind::ValueStack, &[], &layer, selection)
        else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        let leaf = p
            .name
            .split('.')
            .try_fold(&value, |v, key| v.get(key))
            .and_then(serde_json::Value::as_str);
        if let Some(leaf) = leaf {
            p.value = imagegate_fleet::clean_set_value(leaf);
        }
    }
    Ok(())
}

/// The candidates of a cell's marker render: every string that occurs in one of its rendered
/// image references or pull policies ([`Selection`]).
fn selection(decoded: &Decoded) -> Selection {
    let mut fields = Vec::new();
    for obj in &decoded.objects {
        for site in &obj.sites {
            fields.push(site.image.clone());
            if let PullPolicy::Set(p) = &site.pull_policy {
                fields.push(p.clone());
            }
        }
    }
    Selection { fields }
}

/// Whether a layer above the defaults layer `defaults` (`layers`, then `marked`'s inline
/// values and parameters) puts a mapping back where an earlier one set something other than a
/// mapping (`null`, a scalar, a list) over a mapping of the defaults. helm merges the layers
/// before the defaults: the earlier value wiped the marked mapping, and the mapping put back
/// is merged over the *unmarked* defaults, where the copy's defaults would still be marked.
fn replaces_a_marked_map(defaults: &serde_json::Value, layers: &[String], marked: &Cell) -> bool {
    use serde_json::Value;
    /// Walks `layer` beside `defaults`: where the defaults hold a mapping, a layer's
    /// non-mapping wipes it (recorded in `wiped`), and a layer's mapping at a wiped place
    /// brings it back (a clash).
    fn walk(
        defaults: &Value,
        layer: &Value,
        path: &mut Vec<String>,
        wiped: &mut Vec<Vec<String>>,
    ) -> bool {
        let (Value::Object(d), Value::Object(l)) = (defaults, layer) else {
            return false;
        };
        for (k, v) in l {
            let Some(dv @ Value::Object(_)) = d.get(k) else {
                continue;
            };
            path.push(k.clone());
            let clash = match v {
                Value::Object(_) => wiped.contains(path) || walk(dv, v, path, wiped),
                _ => {
                    wiped.push(path.clone());
                    false
                }
            };
            path.pop();
            if clash {
                return true;
            }
        }
        false
    }
    let mut wiped: Vec<Vec<String>> = Vec::new();
    let layers = layers
        .iter()
        .map(String::as_str)
        .chain(marked.inline_values.as_ref().map(|i| i.text.as_str()));
    for text in layers {
        let layer = serde_json::from_str::<Value>(text).ok().or_else(|| {
            imagegate_yaml::load(text, &imagegate_yaml::Limits::default())
                .ok()
                .flatten()
                .map(|n| n.to_json())
        });
        match layer {
            Some(layer) if walk(defaults, &layer, &mut Vec::new(), &mut wiped) => return true,
            Some(_) => {}
            None => return true,
        }
    }
    // `--set a.b=…` makes the mappings on its way: one at a wiped place brings it back; one
    // that ends where the defaults hold a mapping wipes it.
    for p in &marked.parameters {
        let keys: Vec<String> = p.name.split('.').map(str::to_string).collect();
        if (1..keys.len()).any(|n| wiped.contains(&keys[..n].to_vec())) {
            return true;
        }
        let at = keys.iter().try_fold(defaults, |v, key| v.get(key));
        if matches!(at, Some(Value::Object(_))) {
            wiped.push(keys);
        }
    }
    false
}

/// The part of a marked layer that holds one of its markers (ids `markers`): each mapping kept
/// with only the keys that lead to one, each list that holds one kept whole (helm replaces a list of a layer above,
/// it never merges it), every other value dropped. `None` when no marker is left.
fn only_marked(
    value: serde_json::Value,
    markers: &std::ops::Range<usize>,
) -> Option<serde_json::Value> {
    use serde_json::Value;
    // A marked value may be the marker, a version carrying it, or template text around it.
    fn holds(v: &Value, markers: &std::ops::Range<usize>) -> bool {
        match v {
            Value::String(s) => markers::find_markers(s)
                .iter()
                .any(|(id, _)| markers.contains(id)),
            Value::Array(a) => a.iter().any(|v| holds(v, markers)),
            Value::Object(m) => m.values().any(|v| holds(v, markers)),
            _ => false,
        }
    }
    match value {
        Value::Object(map) => {
            let kept: serde_json::Map<String, Value> = map
                .into_iter()
                .filter_map(|(k, v)| only_marked(v, markers).map(|v| (k, v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        v => holds(&v, markers).then_some(v),
    }
}

/// Whether the marker render of `cell` for `findings` can read its chart in place
/// ([`Trace::in_place`]) and show what a render of a marked copy would: a chart folder (not
/// an archive) without subcharts (their defaults are read under their parent's, which only a
/// copy can mark in place), whose `.helmignore` cannot leave its `values.yaml` out (a layer
/// would then add what helm does not read), without a values schema unless the cell skips it
/// (markers break a schema's enums and patterns; the copy drops it), with no values file of
/// the cell inside the chart folder (its templates could read it with `.Files`, which only
/// the copy marks), and whose `appVersion` does not occur in any finding's image (it is not
/// marked in place).
fn in_place_fits(repo: &Repo, cell: &Cell, findings: &[Finding]) -> bool {
    let chart = &cell.chart;
    match repo.resolve(chart) {
        Ok(Some(p)) if p.is_dir() => {}
        _ => return false,
    }
    let exists = |rel: &str| !matches!(repo.resolve(&format!("{chart}/{rel}")), Ok(None));
    if exists("charts") || exists("requirements.yaml") || exists("requirements.lock") {
        return false;
    }
    if !cell.skip_schema_validation && exists("values.schema.json") {
        return false;
    }
    if cell
        .value_files
        .iter()
        .any(|v| v.present && v.path.starts_with(&format!("{chart}/")))
    {
        return false;
    }
    // `--set list[0].key=…` edits a list the defaults layer holds (a user layer), where helm
    // would build a new one: only the copy's defaults are out of its reach.
    if cell.parameters.iter().any(|p| p.name.contains('[')) {
        return false;
    }
    if exists(".helmignore") {
        let Ok(text) = repo.read_to_string(&format!("{chart}/.helmignore"), 1 << 20) else {
            return false;
        };
        if text.lines().any(|l| may_ignore_values(l.trim())) {
            return false;
        }
    }
    let Ok(meta) = repo.read_to_string(&format!("{chart}/Chart.yaml"), 1 << 20) else {
        return false;
    };
    let Ok(Some(meta)) = imagegate_yaml::load(&meta, &imagegate_yaml::Limits::default()) else {
        return false;
    };
    if meta
        .get("dependencies")
        .is_some_and(|d| d.as_seq().is_none_or(|s| !s.is_empty()))
    {
        return false;
    }
    let app_version = meta
        .get("appVersion")
        .and_then(|v| v.as_scalar())
        .map(|s| s.go_template_text())
        .unwrap_or_default();
    let app_version = app_version.trim();
    if app_version.is_empty() {
        return true;
    }
    let short = app_version.strip_prefix('v').unwrap_or(app_version);
    // `1.2.3+build` printed with its metadata replaced (`1.2.3_build`) still shows `1.2.3`.
    let core = short.split('+').next().unwrap_or(short);
    !findings
        .iter()
        .filter_map(|f| f.image.as_deref())
        .any(|image| {
            [app_version, short, core]
                .iter()
                .any(|v| !v.is_empty() && image.contains(v))
        })
}

/// Most bytes of a chart's templates and values read to tell whether they name `appVersion`.
const MAX_SCANNED_BYTES: u64 = 16 * 1024 * 1024;

/// Whether anything the chart of `cell` renders from could read its `appVersion`: a file of
/// the chart (a template, a file `tpl` or `.Files` reads, its `values.yaml`), walked as helm
/// reads it, or a values layer of the cell, that names it in any case (`.Chart.AppVersion`,
/// or the `appVersion` key of `.Chart` turned into YAML). True when that cannot be read.
fn reads_app_version(repo: &Repo, cell: &Cell) -> bool {
    const NEEDLE: &str = "appversion";
    if imagegate_render::chart_mentions(repo, &cell.chart, NEEDLE, MAX_SCANNED_BYTES) {
        return true;
    }
    let mentions = |text: &str| text.to_ascii_lowercase().contains(NEEDLE);
    cell.value_files.iter().filter(|v| v.present).any(|v| {
        repo.read_to_string(&v.path, MAX_SCANNED_BYTES)
            .map_or(true, |t| mentions(&t))
    }) || cell
        .inline_values
        .as_ref()
        .is_some_and(|i| mentions(&i.text))
        || cell.parameters.iter().any(|p| mentions(&p.value))
}

/// Whether `.helmignore` line `line` can leave the chart's `values.yaml` out, as helm reads
/// the file: a pattern without a `/` inside is matched against each name (`*`, `?` and
/// classes as Go's `filepath.Match`), a folder pattern (`name/`) matches folders only, a
/// pattern with a `/` inside matches a path below the chart's root folder. A `!` pattern makes
/// helm leave out every file it does *not* match, so it is taken to match; so is a pattern
/// this cannot read (a `**`, a malformed class).
fn may_ignore_values(line: &str) -> bool {
    if line.is_empty() || line.starts_with('#') {
        return false;
    }
    if line.starts_with('!') || line.len() > 1024 {
        return true;
    }
    if line.ends_with('/') {
        return false;
    }
    let pattern = line.strip_prefix('/').unwrap_or(line);
    if pattern.contains("**") {
        return true;
    }
    if pattern.contains('/') {
        return false;
    }
    glob_match(pattern.as_bytes(), b"values.yaml").unwrap_or(true)
}

/// One element of a `filepath.Match` pattern.
enum Glob {
    /// `*`: any run of bytes.
    Star,
    /// `?`, a literal or a class: one byte it accepts.
    One(Box<dyn Fn(u8) -> bool>),
}

/// Go's `filepath.Match` on one name: `*` any run of bytes, `?` one byte, `[…]` a class (`^`
/// negates it; `!` is a byte like any other), `a-z` ranges, `\` escapes. `None` for a
/// malformed pattern. Linear in the name for each star, never exponential.
fn glob_match(p: &[u8], name: &[u8]) -> Option<bool> {
    let mut globs: Vec<Glob> = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'*' => {
                globs.push(Glob::Star);
                i += 1;
            }
            b'?' => {
                globs.push(Glob::One(Box::new(|_| true)));
                i += 1;
            }
            b'\\' => {
                let c = *p.get(i + 1)?;
                globs.push(Glob::One(Box::new(move |b| b == c)));
                i += 2;
            }
            b'[' => {
                i += 1;
                let negate = p.get(i) == Some(&b'^');
                if negate {
                    i += 1;
                }
                let mut ranges: Vec<(u8, u8)> = Vec::new();
                let mut first = true;
                loop {
                    let c = *p.get(i)?;
                    if c == b']' && !first {
                        i += 1;
                        break;
                    }
                    first = false;
                    let lo = if c == b'\\' {
                        i += 1;
                        *p.get(i)?
                    } else {
                        c
                    };
                    i += 1;
                    let hi = if p.get(i) == Some(&b'-') && p.get(i + 1).is_some_and(|c| *c != b']')
                    {
                        let h = if p[i + 1] == b'\\' {
                            i += 1;
                            *p.get(i + 1)?
                        } else {
                            p[i + 1]
                        };
                        i += 2;
                        h
                    } else {
                        lo
                    };
                    ranges.push((lo, hi));
                }
                globs.push(Glob::One(Box::new(move |b| {
                    ranges.iter().any(|(lo, hi)| *lo <= b && b <= *hi) != negate
                })));
            }
            c => {
                globs.push(Glob::One(Box::new(move |b| b == c)));
                i += 1;
            }
        }
    }
    // Matching with the last star as the only backtracking point.
    let (mut g, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match globs.get(g) {
            Some(Glob::Star) => {
                star = Some((g, n));
                g += 1;
            }
            Some(Glob::One(accepts)) if accepts(name[n]) => {
                g += 1;
                n += 1;
            }
            _ => match star {
                Some((sg, sn)) => {
                    g = sg + 1;
                    n = sn + 1;
                    star = Some((sg, sn + 1));
                }
                None => return Some(false),
            },
        }
    }
    Some(globs[g..].iter().all(|x| matches!(x, Glob::Star)))
}

/// A site's place in its render, stable across the real and the marked render (object names
/// may carry markers; templates, kinds and fields do not): template, kind, field, and how many
/// such sites came before it.
type SiteKey = (Option<String>, String, String, usize);

fn site_keys(decoded: &Decoded) -> Vec<(SiteKey, usize, &ImageSite)> {
    let mut seen: HashMap<(Option<String>, String, String), usize> = HashMap::new();
    let mut out = Vec::new();
    for obj in &decoded.objects {
        for site in &obj.sites {
            let base = (
                obj.template.clone(),
                obj.object.kind.clone(),
                site.field.clone(),
            );
            let n = seen.entry(base.clone()).or_insert(0);
            out.push(((base.0, base.1, base.2, *n), obj.document, site));
            *n += 1;
        }
    }
    out
}

impl Trace {
    fn failed(why: String) -> Self {
        Self {
            markers: Markers::new(),
            sites: HashMap::new(),
            policy_fields: HashMap::new(),
            failure: Some(why),
        }
    }

    /// Renders `cell` once more with markers and reads back which reach the image sites of
    /// `decoded` (the real render).
    ///
    /// `findings` are the cell's findings, when the trace is for them: a chart without
    /// subcharts is then rendered in place, its defaults marked in a values layer of their own
    /// ([`Trace::in_place`]), and from a scratch copy only when that cannot show what the copy
    /// would. `None` (a caller that asks about every site) always renders the copy.
    pub fn of(
        repo: &Repo,
        cell: &Cell,
        decoded: &Decoded,
        decode: &DecodeOptions,
        rerender: &Rerender<'_>,
        findings: Option<&[Finding]>,
    ) -> Self {
        let selection = selection(decoded);
        if let Some(findings) = findings {
            if in_place_fits(repo, cell, findings) {
                if let Some(trace) =
                    Self::in_place(repo, cell, decoded, decode, rerender, &selection)
                {
                    // Only a render with every candidate marked says "the template writes
                    // it": a finding the markers in place leave unexplained, in a chart that
                    // can read its `appVersion`, is asked again of the copy, which marks it.
                    let settled = findings.iter().all(|f| {
                        !matches!(
                            trace.verdict(f),
                            Some(Verdict::Template(_) | Verdict::Unknown(_))
                        )
                    });
                    if settled || trace.failure.is_some() || !reads_app_version(repo, cell) {
                        return trace;
                    }
                }
            }
        }
        Self::from_copy(repo, cell, decoded, decode, rerender, &selection)
    }

    /// The marker render of a chart without subcharts, in place: its `values.yaml` marked as
    /// the lowest values layer (only the marked keys, and whole the lists that hold one: a
    /// list is replaced, never merged), every layer of the cell marked above it, given to helm
    /// as text, and the chart read where it is. helm merges a values layer over the chart's
    /// defaults exactly as the copy's rewritten defaults would be read, so the markers reach
    /// what they would reach in the copy, without a copy of the chart to make, hash and remove.
    /// `appVersion` is not marked ([`in_place_fits`] keeps the charts whose findings could
    /// show it). `None` when it cannot be rendered so (the copy says why).
    fn in_place(
        repo: &Repo,
        cell: &Cell,
        decoded: &Decoded,
        decode: &DecodeOptions,
        rerender: &Rerender<'_>,
        selection: &Selection,
    ) -> Option<Self> {
        let mut markers = Markers::new();
        let mut marked = cell.clone();
        marked.value_files.clear();
        let mut overlay = None;
        let defaults = format!("{}/values.yaml", cell.chart);
        if let Ok(text) = repo.read_to_string(&defaults, MAX_VALUES_BYTES) {
            let from = markers.len();
            let json =
                markers.mark_values(&defaults, LayerKind::ChartDefault, &[], &text, selection)?;
            let value: serde_json::Value = serde_json::from_str(&json).ok()?;
            overlay = only_marked(value, &(from..markers.len()));
            if let Some(overlay) = &overlay {
                marked.value_texts.push(overlay.to_string());
            }
        }
        for vf in cell.value_files.iter().filter(|v| v.present) {
            let text = repo.read_to_string(&vf.path, MAX_VALUES_BYTES).ok()?;
            let json = markers
                .mark_values(&vf.path, LayerKind::ValueStack, &[], &text, selection)
                .unwrap_or(text);
            marked.value_texts.push(json);
        }
        mark_argocd_inputs(repo, &mut marked, None, &mut markers, selection).ok()?;
        if let Some(overlay) = &overlay {
            if replaces_a_marked_map(overlay, &marked.value_texts[1..], &marked) {
                return None;
            }
        }
        let key = rerender.key.map(|k| k.variant(&marked));
        let keys = [key.ok_or_else(|| "the cell has no cache key".to_string())];
        let cache = rerender.cache.map(|cache| CacheUse { cache, keys: &keys });
        let rendered = render_each(
            rerender.renderer,
            repo,
            std::slice::from_ref(&marked),
            rerender.opts,
            cache,
            |_, result, _| result,
        )
        .pop()?;
        let stdout = match rendered {
            Ok(r) => r.stdout,
            // A render stopped at a bound is not asked again of the copy: the copy renders the
            // same templates with the same markers, and would only run into it a second time
            // (twice `helm.timeoutSeconds` for one cell).
            Err(f) if f.exceeded.is_some() => {
                return Some(Self::failed(format!(
                    "helm could not render the cell with markers: {}",
                    f.message
                )))
            }
            // Any other failure is rendered from the copy, whose message names the files.
            Err(_) => return None,
        };
        Some(Self::read_back(markers, &stdout, decoded, decode))
    }

    /// The marker render in place alone ([`Trace::in_place`]) when the chart fits it for
    /// `findings`, never asking the copy: what the tests hold against [`Trace::copied`].
    pub fn in_place_only(
        repo: &Repo,
        cell: &Cell,
        decoded: &Decoded,
        decode: &DecodeOptions,
        rerender: &Rerender<'_>,
        findings: &[Finding],
    ) -> Option<Self> {
        if !in_place_fits(repo, cell, findings) {
            return None;
        }
        Self::in_place(repo, cell, decoded, decode, rerender, &selection(decoded))
    }

    /// The marker render from the scratch copy alone ([`Trace::from_copy`]).
    pub fn copied(
        repo: &Repo,
        cell: &Cell,
        decoded: &Decoded,
        decode: &DecodeOptions,
        rerender: &Rerender<'_>,
    ) -> Self {
        Self::from_copy(repo, cell, decoded, decode, rerender, &selection(decoded))
    }

    /// The marker render from a scratch copy of the chart (every chart of it and its
    /// `Chart.yaml`s marked in place).
    fn from_copy(
        repo: &Repo,
        cell: &Cell,
        decoded: &Decoded,
        decode: &DecodeOptions,
        rerender: &Rerender<'_>,
        selection: &Selection,
    ) -> Self {
        let scratch = match ScratchChart::copy(repo, &cell.chart) {
            Ok(s) => s,
            Err(e) => return Self::failed(format!("the chart could not be copied ({e})")),
        };
        // Markers break the types, enums and patterns of values schemas; the real render
        // already validated the real values against them.
        if let Err(e) = scratch.drop_schemas() {
            return Self::failed(format!("a values schema could not be removed ({e})"));
        }
        let mut markers = Markers::new();
        let prefixes = prefixes(&scratch);
        // Lowest precedence first: deeper subcharts, then their parents, then the value stack.
        let mut charts: Vec<&String> = scratch.charts().iter().collect();
        charts.sort_by_key(|c| std::cmp::Reverse(c.matches("/charts/").count()));
        for chart in &charts {
            let main = chart.as_str() == scratch.chart();
            let kind = if main {
                LayerKind::ChartDefault
            } else {
                LayerKind::SubchartDefault
            };
            let meta = format!("{chart}/Chart.yaml");
            if let Ok(text) = scratch.read(&meta, 1 << 20) {
                if let Some(json) = markers.mark_chart_yaml(&scratch.shown(&meta), kind, &text) {
                    if let Err(e) = scratch.write(&meta, &json) {
                        return Self::failed(e);
                    }
                }
            }
            let values = format!("{chart}/values.yaml");
            if let Ok(text) = scratch.read(&values, MAX_VALUES_BYTES) {
                let prefix = prefixes.get(chart.as_str()).cloned().unwrap_or_default();
                if let Some(json) =
                    markers.mark_values(&scratch.shown(&values), kind, &prefix, &text, selection)
                {
                    if let Err(e) = scratch.write(&values, &json) {
                        return Self::failed(e);
                    }
                }
            }
        }
        // The cell renders from the copy: its chart folder, and each values file as an input
        // of the copy, marked under its repository path.
        let mut marked = cell.clone();
        marked.chart = scratch.chart().to_string();
        for vf in marked.value_files.iter_mut().filter(|v| v.present) {
            let file = vf.path.clone();
            let text = match repo.read_to_string(&file, MAX_VALUES_BYTES) {
                Ok(t) => t,
                Err(e) => return Self::failed(format!("{file}: {e}")),
            };
            let json = markers
                .mark_values(&file, LayerKind::ValueStack, &[], &text, selection)
                .unwrap_or(text);
            // A values file of the chart folder is also a file its templates can read
            // (`.Files.Get`): marked there too, as the layer it is.
            if let Some(in_chart) = scratch.in_chart(&file) {
                if let Err(e) = scratch.write(&in_chart, &json) {
                    return Self::failed(format!("{file}: {e}"));
                }
            }
            match scratch.write_input(&file, &json) {
                Ok(rel) => vf.path = rel,
                Err(e) => return Self::failed(e),
            }
        }
        if let Err(e) =
            mark_argocd_inputs(repo, &mut marked, Some(&scratch), &mut markers, selection)
        {
            return Self::failed(e);
        }
        let cells = std::slice::from_ref(&marked);
        let keys = match rerender.cache {
            Some(_) => cell_keys(
                scratch.repo(),
                cells,
                rerender.renderer.version(),
                rerender.opts,
            ),
            None => Vec::new(),
        };
        let cache = rerender.cache.map(|cache| CacheUse { cache, keys: &keys });
        let rendered = render_each(
            rerender.renderer,
            scratch.repo(),
            cells,
            rerender.opts,
            cache,
            |_, result, _| result,
        )
        .pop();
        let stdout = match rendered {
            Some(Ok(r)) => r.stdout,
            Some(Err(f)) => {
                return Self::failed(format!(
                    "helm could not render the cell with markers: {}",
                    scratch.unscratch(&f.message)
                ))
            }
            None => return Self::failed("the renderer returned nothing".into()),
        };
        Self::read_back(markers, &stdout, decoded, decode)
    }

    /// Which markers of `markers` the marked render `stdout` carries to the image sites of
    /// `decoded` (the real render).
    fn read_back(
        markers: Markers,
        stdout: &str,
        decoded: &Decoded,
        decode: &DecodeOptions,
    ) -> Self {
        // Only the documents of templates that wrote an image site in the real render can
        // hold one of its sites (a site is known by its template); the rest are not decoded.
        let templates: std::collections::HashSet<Option<&str>> = decoded
            .objects
            .iter()
            .filter(|o| !o.sites.is_empty())
            .map(|o| o.template.as_deref())
            .collect();
        let docs: Vec<imagegate_yaml::Document> = imagegate_yaml::split_stream(stdout)
            .into_iter()
            .filter(|d| templates.contains(&d.source.as_deref()))
            .collect();
        let marked = imagegate_decode::decode_documents(&docs, decode);
        let by_key: HashMap<SiteKey, &ImageSite> = site_keys(&marked)
            .into_iter()
            .map(|(k, _, s)| (k, s))
            .collect();
        let mut sites = HashMap::new();
        let mut policy_fields = HashMap::new();
        for (key, document, real) in site_keys(decoded) {
            if let Some(p) = &real.pull_policy_field {
                policy_fields.insert((document, p.clone()), real.field.clone());
            }
            let Some(m) = by_key.get(&key) else { continue };
            let pull_policy = match &m.pull_policy {
                PullPolicy::Set(p) => markers.find(p).into_iter().map(|(id, _)| id).collect(),
                _ => Vec::new(),
            };
            sites.insert(
                (document, real.field.clone()),
                SiteTrace {
                    parts: markers::image_markers(&markers, &m.image, &real.image),
                    pull_policy,
                    image: {
                        let mut ids: Vec<usize> = markers
                            .find(&m.image)
                            .into_iter()
                            .map(|(id, _)| id)
                            .collect();
                        ids.dedup();
                        ids
                    },
                },
            );
        }
        Self {
            markers,
            sites,
            policy_fields,
            failure: None,
        }
    }

    /// The origin of an `invalid-image-ref` finding, when helm shows that one values line alone
    /// wrote the whole reference's variable text: that line is what to correct. When several
    /// lines build it, the one line that wrote the invalid part (the digest of
    /// `…@sha256:sha256:…`, the tag that printed `%!s(float64=1.11)`) is; when several write
    /// that part, it is said to be unknown, never hard-coded. When no line writes the invalid
    /// part (a `tag: null` emptied it), none reaches the reference (an empty image, a template
    /// literal) or the marker render failed, the text search's answer stands.
    fn invalid_reference(&self, f: &Finding) -> Option<Verdict> {
        if self.failure.is_some() {
            return None;
        }
        let site = self.sites.get(&(f.document?, f.field.clone()?))?;
        let mut ids = site.image.clone();
        ids.sort_unstable();
        ids.dedup();
        match ids.as_slice() {
            [] => None,
            [id] => self
                .markers
                .get(*id)
                .map(|m| Verdict::Line(origin_of(m), None)),
            _ => {
                let part = f.image.as_deref().and_then(invalid_part);
                let mut of_part: Vec<usize> = site
                    .parts
                    .iter()
                    .filter(|(p, _)| Some(*p) == part)
                    .map(|(_, id)| *id)
                    .collect();
                of_part.sort_unstable();
                of_part.dedup();
                match (part, of_part.as_slice()) {
                    (Some(part), [id]) => self.markers.get(*id).map(|m| {
                        let part = part.as_str();
                        let note =
                            format!("the invalid part is the {part}, which this line writes");
                        Verdict::Line(origin_of(m), Some(note))
                    }),
                    // No marker reached the invalid part (a `tag: null` left it empty): the
                    // text search finds the line that emptied it.
                    (_, []) | (None, _) => None,
                    _ => Some(Verdict::Unknown(
                        "several values lines build the reference, and no one line alone \
                         writes its invalid part"
                            .into(),
                    )),
                }
            }
        }
    }

    /// Whether helm was asked about line `line` of `file` (some value there carried a marker).
    pub fn asked_about(&self, file: &str, line: u32) -> bool {
        self.markers.marks_line(file, line)
    }

    /// The site of finding `f` in the marked render: its image field's trace (a pull-policy
    /// finding's field is the policy; its site is the image beside it).
    fn site_of(&self, f: &Finding) -> Option<&SiteTrace> {
        let (document, field) = (f.document?, f.field.clone()?);
        let field = self
            .policy_fields
            .get(&(document, field.clone()))
            .cloned()
            .unwrap_or(field);
        self.sites.get(&(document, field))
    }

    /// Where each part of finding `f`'s image comes from, as helm showed it: per part the line
    /// of the last marker that reached it (the verdict of `mutable-tag` picks the tag's the
    /// same way, so `origin` and the tag part agree). The digest of an image without one is
    /// where a digest belongs beside its values ([`Markers::digest_beside`]), when the chart
    /// has such a key; the pull policy is given for pull-policy findings only. Empty when helm
    /// could not tell, and for findings about no image site.
    pub fn parts(&self, f: &Finding) -> Vec<(Part, imagegate_origin::Origin)> {
        if self.failure.is_some() || f.image.is_none() {
            return Vec::new();
        }
        let Some(site) = self.site_of(f) else {
            return Vec::new();
        };
        let last = |want: Part| {
            site.parts
                .iter()
                .filter(|(p, _)| *p == want)
                .map(|(_, id)| *id)
                .next_back()
        };
        let mut out = Vec::new();
        for part in [Part::Registry, Part::Repository, Part::Tag, Part::Digest] {
            if let Some(m) = last(part).and_then(|id| self.markers.get(id)) {
                out.push((part, origin_of(m)));
            }
        }
        let has_digest = f.image.as_deref().is_some_and(|i| i.contains('@'));
        if !has_digest && last(Part::Digest).is_none() {
            // As the verdict of `digest-required` looks for it, so the two agree.
            let beside = [Part::Tag, Part::Repository, Part::Registry]
                .iter()
                .flat_map(|want| site.parts.iter().filter(move |(p, _)| p == want))
                .find_map(|(_, id)| self.markers.digest_beside(*id));
            if let Some(o) = beside {
                out.push((Part::Digest, o));
            }
        }
        let policy_rule = matches!(
            f.rule,
            RuleId::PullPolicyMissing | RuleId::PullPolicyNotIfNotPresent
        );
        if policy_rule {
            if let Some(m) = site.pull_policy.last().and_then(|id| self.markers.get(*id)) {
                out.push((Part::PullPolicy, origin_of(m)));
            }
        }
        out
    }

    /// What helm says about the origin of finding `f`; `None` for findings that are not about
    /// an image part (labels, promotion, configuration): those keep the text search's answer.
    pub fn verdict(&self, f: &Finding) -> Option<Verdict> {
        if f.rule == RuleId::InvalidImageRef {
            return self.invalid_reference(f);
        }
        let part_of_rule = match f.rule {
            RuleId::MutableTag => Part::Tag,
            RuleId::DigestRequired => Part::Digest,
            RuleId::PullPolicyNotIfNotPresent | RuleId::PullPolicyMissing => Part::PullPolicy,
            _ => return None,
        };
        let (document, field) = (f.document?, f.field.clone()?);
        if let Some(why) = &self.failure {
            return Some(Verdict::Unknown(why.clone()));
        }
        let field = self
            .policy_fields
            .get(&(document, field.clone()))
            .cloned()
            .unwrap_or(field);
        let Some(site) = self.sites.get(&(document, field)) else {
            return Some(Verdict::Unknown(
                "the object is not in the render with markers (a marked value changed what renders)"
                    .into(),
            ));
        };
        let first = |parts: &[Part]| {
            parts.iter().find_map(|want| {
                site.parts
                    .iter()
                    .filter(|(p, _)| p == want)
                    .map(|(_, id)| *id)
                    .next_back()
            })
        };
        let line = |id: usize, note: Option<String>| {
            self.markers
                .get(id)
                .map(|m| Verdict::Line(origin_of(m), note))
        };
        let template = |what: &str| {
            let t = f.template.as_deref().unwrap_or("the chart's templates");
            Verdict::Template(format!(
                "no values line reaches the {what} (helm rendered this cell with every candidate \
                 value marked): hard-coded in the template {t}"
            ))
        };
        Some(match part_of_rule {
            Part::Tag => first(&[Part::Tag])
                .and_then(|id| line(id, None))
                .unwrap_or_else(|| template("tag")),
            Part::Repository => first(&[Part::Tag, Part::Repository, Part::Registry])
                .and_then(|id| line(id, None))
                .unwrap_or_else(|| template("image")),
            Part::Digest => {
                let near = |parts: &[Part]| -> Vec<usize> {
                    parts
                        .iter()
                        .flat_map(|want| {
                            site.parts
                                .iter()
                                .filter(move |(p, _)| p == want)
                                .map(|(_, id)| *id)
                        })
                        .collect()
                };
                let ids = near(&[Part::Tag, Part::Repository, Part::Registry]);
                if let Some(o) = ids.iter().find_map(|id| self.markers.digest_beside(*id)) {
                    let note = format!("the digest belongs in `{}`", o.key);
                    Verdict::Line(o, Some(note))
                } else if let Some(&id) = {
                    // `@sha256:` goes at the end of the reference: after the tag when the image
                    // has one (appending it to the repository would put the digest before the
                    // tag), else after the repository. `appVersion` is the chart's version, no
                    // place for a digest.
                    let ends = if f.image.as_deref().is_some_and(has_tag) {
                        near(&[Part::Tag])
                    } else {
                        near(&[Part::Tag, Part::Repository])
                    };
                    ends.into_iter()
                        .filter(|id| self.markers.get(*id).is_some_and(|m| m.key != "appVersion"))
                        .collect::<Vec<_>>()
                        .first()
                } {
                    line(
                        id,
                        Some(
                            "the chart has no `digest` key beside this value: pin here by \
                             appending `@sha256:<digest>` to it, or patch the chart"
                                .into(),
                        ),
                    )
                    .unwrap_or_else(|| template("image"))
                } else if let Some(&id) = ids.iter().find(|id| {
                    self.markers
                        .get(**id)
                        .is_some_and(|m| m.key != "appVersion")
                }) {
                    // The image has a tag no values line writes (the chart's `appVersion`, or
                    // the template's): a digest appended here would land before it.
                    line(
                        id,
                        Some(
                            "this value sets the image, but its tag comes after it from the \
                             chart (`appVersion` or the template), so no values line can carry \
                             the digest as written: override the chart's tag value with \
                             `<tag>@sha256:<digest>` if it reads one, or patch the chart"
                                .into(),
                        ),
                    )
                    .unwrap_or_else(|| template("image"))
                } else {
                    Verdict::Template(format!(
                        "no values line can carry a digest for this image: the chart cannot \
                         pin it by digest; patch the template {}",
                        f.template.as_deref().unwrap_or("that writes it")
                    ))
                }
            }
            _ => match site.pull_policy.last() {
                Some(&id) => line(id, None).unwrap_or_else(|| template("pull policy")),
                None if f.rule == RuleId::PullPolicyMissing => {
                    // The container itself, when a values file writes it whole.
                    let whole = site
                        .parts
                        .iter()
                        .map(|(_, id)| *id)
                        .find(|id| self.markers.get(*id).is_some_and(|m| m.in_container));
                    match whole {
                        Some(id) => line(
                            id,
                            Some("this values file defines the container: add `imagePullPolicy: IfNotPresent` to it".into()),
                        )
                        .unwrap_or_else(|| template("pull policy")),
                        None => template("pull policy"),
                    }
                }
                None => template("pull policy"),
            },
        })
    }
}

/// The part of invalid reference `image` its first error is in (a digest that is not hex, a
/// tag with a bad character, template residue inside the tag), or `None` when the error is
/// not in one part (an empty reference).
fn invalid_part(image: &str) -> Option<Part> {
    use imagegate_policy::RefError as E;
    let parts = markers::ImageParts::of(image);
    let at = |range: std::ops::Range<usize>| parts.touched(&range).first().copied();
    match image.parse::<imagegate_policy::ImageRef>().err()? {
        E::TemplateResidue(residue) => {
            let start = image.find(&residue)?;
            at(start..start + residue.len())
        }
        E::Whitespace(byte) => at(byte..byte + 1),
        E::EmptyTag | E::TagTooLong(_) | E::InvalidTag { .. } => Some(Part::Tag),
        E::MissingDigest
        | E::MultipleAt
        | E::DigestWithoutAlgorithm(_)
        | E::UnknownDigestAlgorithm(_)
        | E::UppercaseDigest(_)
        | E::DigestNotHex(_)
        | E::DigestLength(_) => Some(Part::Digest),
        E::NameTooLong(_)
        | E::EmptyComponent
        | E::UppercaseRepository(_)
        | E::InvalidPathComponent { .. } => Some(Part::Repository),
        E::InvalidDomain { .. } => Some(Part::Registry),
        E::Empty => None,
    }
}

/// True when `reference` names a tag (a `:` after its last `/`, before any digest).
fn has_tag(reference: &str) -> bool {
    let name = reference.split('@').next().unwrap_or(reference);
    name.rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
}

#[cfg(test)]
mod invalid_part_tests {
    use super::{invalid_part, Part};

    #[test]
    fn an_invalid_reference_is_blamed_on_the_part_that_breaks_it() {
        let cases = [
            (
                "quay.io/brancz/proxy:v1@sha256:sha256:11",
                Some(Part::Digest),
            ),
            (
                "quay.io/prom/pushgateway:%!s(float64=1.11)",
                Some(Part::Tag),
            ),
            ("quay.io/prom/push%!s(MISSING):v1", Some(Part::Repository)),
            ("quay.io/Acme/web:1", Some(Part::Repository)),
            ("quay.io/acme/web:-1", Some(Part::Tag)),
            ("ex_ample.com/acme/web:1", Some(Part::Registry)),
            ("quay.io/acme/web:1 2", Some(Part::Tag)),
            ("", None),
        ];
        for (image, want) in cases {
            assert_eq!(invalid_part(image), want, "{image}");
        }
        // A valid reference has no invalid part.
        assert_eq!(invalid_part("quay.io/acme/web:1"), None);
    }
}

#[cfg(test)]
mod has_tag_tests {
    #[test]
    fn a_tag_is_after_the_last_slash_and_a_port_is_not_one() {
        assert!(super::has_tag("acme/web:1.2.3"));
        assert!(super::has_tag("host:5000/web:1@sha256:ab"));
        assert!(!super::has_tag("host:5000/web"));
        assert!(!super::has_tag("web@sha256:ab"));
    }
}

#[cfg(test)]
mod in_place_tests {
    use super::{glob_match, may_ignore_values, only_marked};
    use serde_json::json;

    #[test]
    fn the_defaults_layer_keeps_only_the_marked_keys_and_whole_the_lists_that_hold_one() {
        let marked = 1..3;
        let layer = json!({
            "image": {"repository": "igm1q", "pullPolicy": "IfNotPresent", "tag": null},
            "replicas": 2,
            "sidecars": [{"name": "proxy", "image": "1.2+igm2q", "args": [1, null]}],
            "other": ["a", "b"],
            "empty": {},
            "labels": {"team": "web"},
            "registry": "{{ .Values.global.imageRegistry }}/igm1q",
        });
        assert_eq!(
            only_marked(layer, &marked),
            Some(json!({
                "image": {"repository": "igm1q"},
                "sidecars": [{"name": "proxy", "image": "1.2+igm2q", "args": [1, null]}],
                "registry": "{{ .Values.global.imageRegistry }}/igm1q",
            }))
        );
        // Another layer's marker is not one of this layer's.
        assert_eq!(only_marked(json!({"a": "igm3q", "b": 1}), &marked), None);
    }

    #[test]
    fn a_helmignore_line_that_can_match_values_yaml_is_recognised() {
        for line in [
            "values.yaml",
            "/values.yaml",
            "*.yaml",
            "values.*",
            "*",
            "v?lues.yaml",
            "[uv]alues.yaml",
            "[^x]alues.yaml",
            "**/values.yaml",
            "values\\.yaml",
            "[a-z]alues.yaml",
            "[unterminated",
            "[!v]alues.yaml",
            "!values.yaml",
            "![^v]*",
            "*?*?*?*?*a*l*",
        ] {
            assert!(may_ignore_values(line), "{line}");
        }
        for line in [
            "",
            "# values.yaml",
            "values.yaml/",
            ".git/",
            "*.swp",
            "values.ci.yaml",
            "templates/values.yaml",
            "*.orig",
            "[^v]alues.yaml",
            "[a-u]alues.yaml",
            "*?*?*?*?*?*?*?*?*?*?*?*?*?*?q",
            "values.yml",
        ] {
            assert!(!may_ignore_values(line), "{line}");
        }
    }

    #[test]
    fn a_glob_with_many_stars_ends_quickly() {
        let pattern = "*?".repeat(500) + "q";
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            assert_eq!(glob_match(pattern.as_bytes(), b"values.yaml"), Some(false));
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(glob_match(b"v*l*s.y*l", b"values.yaml"), Some(true));
        assert_eq!(glob_match(b"*.yaml", b"values.yaml"), Some(true));
        assert_eq!(glob_match(b"*.yml", b"values.yaml"), Some(false));
    }
}
