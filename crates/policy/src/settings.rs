//! The `policy:` and `exceptions:` sections of `imagegate.yaml`.
//!
//! Everything that can be checked without knowing today's date or the fleet is checked while
//! deserializing, with a message that names the offending value: invalid regexes and globs,
//! unknown rule ids, empty reasons, malformed dates, severities on rules that fail closed.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use globset::{GlobBuilder, GlobMatcher};
use imagegate_decode::CustomImageField;
use regex::Regex;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::registry::{self, suggestion};
use crate::{Finding, RuleId, Severity};

/// The build-SHA and semantic-version shapes of product.md.
pub const DEFAULT_IMMUTABLE_TAGS: [&str; 2] = [
    r"^([a-z0-9][a-z0-9._-]*-)?[0-9a-f]{7,40}$",
    r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$",
];

/// The field names the safety net always looks for.
pub const DEFAULT_IMAGE_FIELD_NAMES: [&str; 1] = ["image"];

/// The `policy:` section.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySettings {
    /// A tag must match one of these regular expressions in full to count as immutable. Setting
    /// the list replaces the defaults (a build-SHA tag and a semantic version).
    #[serde(default = "default_immutable_tags")]
    pub immutable_tags: Vec<TagPattern>,
    /// Severity per rule id: `error`, `warning` or `off`, or `{default, environments}`.
    #[serde(default)]
    pub severity: SeverityOverrides,
    /// Images in custom resources, in addition to the built-in catalog (docs/custom-resources.md).
    /// An entry that applies to an object replaces the catalog's entries for that object. A
    /// path (image, container or patch) that reaches no field in any cell of a whole run is
    /// said in a warning: a misspelt path or kind would otherwise judge nothing.
    #[serde(default)]
    pub custom_image_fields: Vec<CustomImageFieldSetting>,
    /// The safety net: string fields with these names in objects no other rule covers are judged
    /// as images when they parse as one. `image` is always included.
    #[serde(default)]
    pub image_field_names: Vec<String>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            immutable_tags: default_immutable_tags(),
            severity: SeverityOverrides::default(),
            custom_image_fields: Vec::new(),
            image_field_names: Vec::new(),
        }
    }
}

fn default_immutable_tags() -> Vec<TagPattern> {
    DEFAULT_IMMUTABLE_TAGS
        .iter()
        .filter_map(|p| TagPattern::new(p).ok())
        .collect()
}

impl PolicySettings {
    /// The severity of `rule` in `environment`, or `None` when the rule is `off` there.
    pub fn severity_for(&self, rule: RuleId, environment: &str) -> Option<Severity> {
        let default = rule.default_severity();
        let level = match self.severity.get(rule) {
            None => return Some(default),
            Some(RuleSeverity::Level(level)) => Some(*level),
            Some(RuleSeverity::PerEnvironment(p)) => p
                .environments
                .get(environment)
                .or(p.default.as_ref())
                .copied(),
        };
        match level {
            None => Some(default),
            Some(level) => level.severity(),
        }
    }

    /// Sets each finding's severity from its rule and environment, and drops the findings whose
    /// rule is `off` there. [`crate::evaluate`] does this itself; findings made with the rule
    /// constructors (`render_failed::finding`, …) need it before they are reported.
    pub fn apply_severity(&self, findings: Vec<Finding>) -> Vec<Finding> {
        findings
            .into_iter()
            .filter_map(|mut f| {
                f.severity = self.severity_for(f.rule, &f.cell.environment)?;
                Some(f)
            })
            .collect()
    }

    /// The custom image fields the decoder should walk: the built-in catalog, then the
    /// configured entries (which replace the catalog's for the objects they apply to).
    pub fn custom_image_fields(&self) -> Vec<CustomImageField> {
        builtin_custom_image_fields()
            .into_iter()
            .chain(self.custom_image_fields.iter().map(CustomImageField::from))
            .collect()
    }

    /// The field names of the safety net: `image`, then the configured ones, without duplicates.
    pub fn image_field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = DEFAULT_IMAGE_FIELD_NAMES
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        for name in &self.image_field_names {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }
}

/// The built-in catalog of custom resources ([`crate::catalog::CATALOG`]), the `ameide.io`
/// primitives among them, as the decoder takes it.
pub fn builtin_custom_image_fields() -> Vec<CustomImageField> {
    crate::catalog::catalog_fields()
}

/// A regular expression a tag must match in full to count as immutable.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct TagPattern {
    source: String,
    regex: Regex,
}

impl TagPattern {
    /// Compiles `source`; the match is always against the whole tag.
    pub fn new(source: &str) -> Result<Self, SettingsError> {
        // Anchoring here means `[0-9a-f]{7}` cannot let `main-abc1234-dirty` through.
        let anchored = format!("^(?:{source})$");
        let regex = regex::RegexBuilder::new(&anchored)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| SettingsError::Regex {
                pattern: source.to_owned(),
                error: e.to_string(),
            })?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the whole `tag` matches.
    pub fn matches(&self, tag: &str) -> bool {
        self.regex.is_match(tag)
    }
}

impl PartialEq for TagPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl serde::Serialize for TagPattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl TryFrom<String> for TagPattern {
    type Error = SettingsError;

    fn try_from(source: String) -> Result<Self, Self::Error> {
        Self::new(&source)
    }
}

/// What is wrong with a setting. The messages reach users through the config loader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// An `immutableTags` entry that does not compile.
    #[error("invalid regular expression `{pattern}` in policy.immutableTags: {error}")]
    Regex {
        /// The pattern as written.
        pattern: String,
        /// The regex crate's explanation.
        error: String,
    },
    /// A glob that does not compile.
    #[error("invalid glob `{pattern}`: {error}")]
    Glob {
        /// The pattern as written.
        pattern: String,
        /// The globset crate's explanation.
        error: String,
    },
    /// An `objects:` entry without the `Kind/name` shape.
    #[error("invalid object pattern `{0}`: objects are written `Kind/name` (globs allowed, e.g. `Deployment/web-*`)")]
    ObjectPattern(String),
    /// A rule id that no rule has.
    #[error("unknown rule id `{id}` in {section}{}; known rules: {known}", suggestion(*.closest))]
    UnknownRule {
        /// The id as written.
        id: String,
        /// Where it was written.
        section: &'static str,
        /// The known rule closest to `id`, if one is close.
        closest: Option<RuleId>,
        /// Every known id, comma-separated.
        known: String,
    },
    /// A fail-closed rule set below `error`.
    #[error("`{0}` cannot be set below `error`: imagegate fails closed on what it could not render or read")]
    FailClosed(RuleId),
    /// An exception for a rule that cannot be excepted.
    #[error("`{0}` cannot be excepted: {1}")]
    NotExceptable(RuleId, &'static str),
    /// An empty or blank `reason`.
    #[error("an exception needs a non-empty `reason` saying why and where the fix is tracked")]
    EmptyReason,
    /// A date that is not `YYYY-MM-DD`.
    #[error("`expires` must be a date written YYYY-MM-DD, got `{0}`")]
    Date(String),
    /// A custom image field entry that would never match anything.
    #[error("invalid customImageFields entry: {0}")]
    CustomField(String),
}

fn known_rule(id: &str, section: &'static str) -> Result<RuleId, SettingsError> {
    id.parse::<RuleId>()
        .map_err(|e| SettingsError::UnknownRule {
            id: e.id,
            section,
            closest: e.closest,
            known: RuleId::known(),
        })
}

/// A severity level as written in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fails the run.
    Error,
    /// Reported, does not fail the run.
    Warning,
    /// Not reported.
    Off,
}

impl Level {
    /// The severity of a finding at this level; `None` for `off`.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Error => Some(Severity::Error),
            Level::Warning => Some(Severity::Warning),
            Level::Off => None,
        }
    }
}

/// Per-environment levels of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PerEnvironment {
    /// Level in environments not listed; the rule's default when left out.
    #[serde(default)]
    pub default: Option<Level>,
    /// Level per environment name.
    #[serde(default)]
    pub environments: BTreeMap<String, Level>,
}

/// The configured severity of one rule.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(untagged)]
pub enum RuleSeverity {
    /// The same level everywhere.
    Level(Level),
    /// A default and per-environment levels.
    PerEnvironment(PerEnvironment),
}

impl RuleSeverity {
    fn levels(&self) -> Vec<Level> {
        match self {
            RuleSeverity::Level(level) => vec![*level],
            RuleSeverity::PerEnvironment(p) => p
                .default
                .iter()
                .chain(p.environments.values())
                .copied()
                .collect(),
        }
    }
}

// By hand rather than `#[serde(untagged)]`, so a typo says which level was expected instead of
// "data did not match any variant".
impl<'de> Deserialize<'de> for RuleSeverity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RuleSeverityVisitor;

        impl<'de> Visitor<'de> for RuleSeverityVisitor {
            type Value = RuleSeverity;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "`error`, `warning`, `off`, or a mapping with `default` and `environments`",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Level::deserialize(v.into_deserializer()).map(RuleSeverity::Level)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                PerEnvironment::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RuleSeverity::PerEnvironment)
            }
        }

        deserializer.deserialize_any(RuleSeverityVisitor)
    }
}

/// `policy.severity`: configured severities by rule id. Unknown ids fail deserialization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "BTreeMap<String, RuleSeverity>")]
pub struct SeverityOverrides(BTreeMap<RuleId, RuleSeverity>);

impl SeverityOverrides {
    /// The configured severity of `rule`, if any.
    pub fn get(&self, rule: RuleId) -> Option<&RuleSeverity> {
        self.0.get(&rule)
    }

    /// Every configured rule and its severity, by id.
    pub fn iter(&self) -> impl Iterator<Item = (RuleId, &RuleSeverity)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }
}

impl TryFrom<BTreeMap<String, RuleSeverity>> for SeverityOverrides {
    type Error = SettingsError;

    fn try_from(map: BTreeMap<String, RuleSeverity>) -> Result<Self, Self::Error> {
        let mut out = BTreeMap::new();
        for (id, severity) in map {
            let id = known_rule(&id, "policy.severity")?;
            if id.is_fail_closed() && severity.levels().iter().any(|l| *l != Level::Error) {
                return Err(SettingsError::FailClosed(id));
            }
            out.insert(id, severity);
        }
        Ok(Self(out))
    }
}

impl JsonSchema for SeverityOverrides {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SeverityOverrides".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let level = generator.subschema_for::<RuleSeverity>().to_value();
        let properties: serde_json::Map<String, serde_json::Value> = registry::rules()
            .iter()
            .map(|r| (r.id.as_str().to_owned(), level.clone()))
            .collect();
        schemars::json_schema!({
            "type": "object",
            "description": "Severity per rule id: `error`, `warning` or `off`, or `{default, environments}`.",
            "properties": properties,
            "additionalProperties": false,
        })
    }
}

/// One `policy.customImageFields` entry: where objects of an API group keep their images.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(try_from = "RawCustomImageField")]
pub struct CustomImageFieldSetting {
    /// API group, for example `ameide.io`.
    pub group: String,
    /// Kinds this applies to; every kind of the group when empty.
    pub kinds: Vec<String>,
    /// Paths of image fields, for example `spec.image`; `[*]` takes every item of a list
    /// (`spec.steps[*].image`).
    pub images: Vec<String>,
    /// Path of the pull-policy field, if the resource has one; its `[*]` take the indices of
    /// the image of the same list.
    pub pull_policy: Option<String>,
    /// Paths of containers, or of lists of them (`spec.steps`, `spec.templates[*].container`),
    /// judged exactly as a Deployment's containers.
    pub containers: Vec<String>,
    /// Paths of container patches the operator merges into the containers it generates (one
    /// without an `image` is not judged on its own).
    pub container_patches: Vec<String>,
    /// The kinds hold image patterns or policies, not workloads: nothing in them is judged.
    pub no_images: bool,
    /// The entry names every image of its kinds: the safety net stays off for them.
    pub complete: bool,
}

/// The shape of a `customImageFields` entry before validation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCustomImageField {
    /// API group, for example `ameide.io`.
    group: String,
    /// Kinds this applies to; every kind of the group when empty.
    #[serde(default)]
    kinds: Vec<String>,
    /// Paths of image fields, for example `spec.image`; `[*]` takes every item of a list
    /// (`spec.steps[*].image`, where a step without `image` is an empty image).
    #[serde(default)]
    images: Vec<String>,
    /// Path of the pull-policy field, if the resource has one; its `[*]` take the indices of
    /// the image of the same list.
    #[serde(default)]
    pull_policy: Option<String>,
    /// Paths of containers, or of lists of them (`spec.steps`, `spec.templates[*].container`),
    /// judged exactly as a Deployment's containers: `image`, `imagePullPolicy`, a missing image.
    #[serde(default)]
    containers: Vec<String>,
    /// Paths of container patches that the operator merges into the containers it generates
    /// (Prometheus' `spec.containers`): judged as containers when they name an image.
    #[serde(default)]
    container_patches: Vec<String>,
    /// `true` for kinds that hold image patterns or policies (a policy engine's rules), not
    /// workloads: nothing in them is judged, not even by the safety net.
    #[serde(default)]
    no_images: bool,
    /// `true` when the entry names every image of its kinds: the safety net stays off for them.
    #[serde(default)]
    complete: bool,
}

fn check_path(path: &str) -> Result<(), SettingsError> {
    if imagegate_yaml::parse_path(path).is_none() {
        return Err(SettingsError::CustomField(format!(
            "`{path}` is not a field path such as `spec.image`, `spec.steps[*].image` or \
             `metadata[\"odd.key\"]`"
        )));
    }
    Ok(())
}

impl TryFrom<RawCustomImageField> for CustomImageFieldSetting {
    type Error = SettingsError;

    fn try_from(raw: RawCustomImageField) -> Result<Self, Self::Error> {
        if raw.group.trim().is_empty() {
            return Err(SettingsError::CustomField("`group` is empty".to_owned()));
        }
        let fields = raw.images.len() + raw.containers.len() + raw.container_patches.len();
        if raw.no_images && (fields > 0 || raw.pull_policy.is_some()) {
            return Err(SettingsError::CustomField(format!(
                "the entry for group `{}` has `noImages: true` and fields: say one or the other",
                raw.group
            )));
        }
        if !raw.no_images && fields == 0 {
            return Err(SettingsError::CustomField(format!(
                "the entry for group `{}` lists no `images`, `containers` or `containerPatches` \
                 (or say `noImages: true`)",
                raw.group
            )));
        }
        for path in raw
            .images
            .iter()
            .chain(raw.pull_policy.iter())
            .chain(&raw.containers)
            .chain(&raw.container_patches)
        {
            check_path(path)?;
        }
        Ok(Self {
            group: raw.group,
            kinds: raw.kinds,
            images: raw.images,
            pull_policy: raw.pull_policy,
            containers: raw.containers,
            container_patches: raw.container_patches,
            no_images: raw.no_images,
            complete: raw.complete || raw.no_images,
        })
    }
}

impl CustomImageFieldSetting {
    /// Every path the entry configures (image fields, containers, container patches; not the
    /// pull-policy path, which may rightly be absent everywhere).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.images
            .iter()
            .chain(&self.containers)
            .chain(&self.container_patches)
            .map(String::as_str)
    }
}

impl From<&CustomImageFieldSetting> for CustomImageField {
    fn from(s: &CustomImageFieldSetting) -> Self {
        CustomImageField {
            group: s.group.clone(),
            kinds: s.kinds.clone(),
            image_paths: s.images.clone(),
            pull_policy_path: s.pull_policy.clone(),
            containers: s.containers.clone(),
            container_patches: s.container_patches.clone(),
            container_defaults: Vec::new(),
            image_volumes: Vec::new(),
            no_images: s.no_images,
            complete: s.complete,
            composed: Vec::new(),
            nesting: None,
            builtin: false,
        }
    }
}

/// The `exceptions:` section: time-boxed, reasoned deviations from the policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExceptionSettings {
    /// No exception may expire later than this many days from today.
    #[serde(default)]
    pub max_lifetime_days: Option<u32>,
    /// Environments where no exception ever applies.
    #[serde(default)]
    pub forbidden_environments: Vec<String>,
    /// The exceptions; their position is the index findings refer to.
    #[serde(default, deserialize_with = "de_exception_list")]
    pub list: Vec<Exception>,
}

/// One exception: which findings it covers, why, and until when.
///
/// Every list that is left out (or empty) matches everything on that axis.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Exception {
    /// The rule id it covers.
    pub rule: ExceptionRule,
    /// Repositories (`ghcr.io/team/app`, without tag or digest), or globs on them. `*` stays
    /// within one path segment; use `**` to cross `/`.
    #[serde(default)]
    pub images: Vec<Glob>,
    /// Environment names (exact).
    #[serde(default)]
    pub environments: Vec<String>,
    /// Argo CD application names, or globs on them.
    #[serde(default)]
    pub apps: Vec<Glob>,
    /// `Kind/name` of objects, globs allowed.
    #[serde(default)]
    pub objects: Vec<ObjectGlob>,
    /// Why, and where the fix is tracked. Required.
    #[serde(deserialize_with = "de_reason")]
    pub reason: String,
    /// Last day the exception applies (`YYYY-MM-DD`). Required.
    #[serde(deserialize_with = "de_date")]
    #[schemars(with = "String", extend("format" = "date"))]
    pub expires: NaiveDate,
    /// 1-based line of the entry in the configuration file (set when the list is read).
    #[serde(skip)]
    pub line: Option<u32>,
}

impl Exception {
    /// Whether the exception could cover a finding of the cell (`environment`, `app`): its
    /// `environments` and `apps` (empty: any) admit the cell. Images and objects are not
    /// known before rendering, so they do not narrow it.
    pub fn may_apply_to(&self, environment: &str, app: &str) -> bool {
        (self.environments.is_empty() || self.environments.iter().any(|e| e == environment))
            && (self.apps.is_empty() || self.apps.iter().any(|g| g.matches(app)))
    }

    /// True when `expires` is before `today` (the `expires` day itself still counts).
    pub fn is_expired(&self, today: NaiveDate) -> bool {
        self.expires < today
    }
}

/// The rule id of an exception: a known rule that may be excepted (not a fail-closed rule, not
/// one about exceptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExceptionRule(RuleId);

impl ExceptionRule {
    /// Checks that `id` names a rule that may be excepted.
    pub fn new(id: &str) -> Result<Self, SettingsError> {
        let id = known_rule(id, "exceptions.list[].rule")?;
        if id.is_fail_closed() {
            return Err(SettingsError::NotExceptable(
                id,
                "imagegate fails closed on what it could not render or read",
            ));
        }
        if id.is_exception_hygiene() {
            return Err(SettingsError::NotExceptable(
                id,
                "it is about the exceptions themselves",
            ));
        }
        Ok(Self(id))
    }

    /// The rule.
    pub fn rule(&self) -> RuleId {
        self.0
    }

    /// The rule id.
    pub fn as_str(&self) -> &'static str {
        self.0.as_str()
    }
}

impl fmt::Display for ExceptionRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl PartialEq<&str> for ExceptionRule {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_str() == *other
    }
}

impl<'de> Deserialize<'de> for ExceptionRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        Self::new(&id).map_err(de::Error::custom)
    }
}

impl JsonSchema for ExceptionRule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ExceptionRule".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let ids: Vec<&str> = RuleId::ALL
            .iter()
            .map(|r| r.as_str())
            .filter(|id| Self::new(id).is_ok())
            .collect();
        schemars::json_schema!({
            "type": "string",
            "description": "The rule id the exception covers.",
            "enum": ids,
        })
    }
}

/// A JSON schema for a string with a `format`, for the compiled-pattern newtypes.
fn string_schema(format: Option<&str>, description: &str) -> Schema {
    let mut schema = schemars::json_schema!({
        "type": "string",
        "description": description,
    });
    if let Some(format) = format {
        schema.insert("format".to_owned(), format.into());
    }
    schema
}

impl JsonSchema for TagPattern {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TagPattern".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(
            Some("regex"),
            "A regular expression a tag must match in full to count as immutable.",
        )
    }
}

impl JsonSchema for Glob {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Glob".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema(
            None,
            "A glob: `*` and `?` stay within one `/` segment, `**` crosses them.",
        )
    }
}

impl JsonSchema for ObjectGlob {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ObjectGlob".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut schema = string_schema(None, "`Kind/name` of an object, globs allowed.");
        schema.insert("pattern".to_owned(), "^[^/]+/[^/]+$".into());
        schema
    }
}

/// Reads the list with each entry's position, so findings about an exception point at its line.
fn de_exception_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Exception>, D::Error> {
    let list: Vec<imagegate_yaml::Spanned<Exception>> = Vec::deserialize(d)?;
    Ok(list
        .into_iter()
        .map(|spanned| Exception {
            line: Some(spanned.line),
            ..spanned.value
        })
        .collect())
}

fn de_reason<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let reason = String::deserialize(d)?;
    if reason.trim().is_empty() {
        return Err(de::Error::custom(SettingsError::EmptyReason));
    }
    Ok(reason)
}

fn de_date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = String::deserialize(d)?;
    // `%Y` alone would accept `+12345-01-01` and 5-digit years; insist on the plain shape.
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        Ok(date) if shaped => Ok(date),
        _ => Err(de::Error::custom(SettingsError::Date(text))),
    }
}

/// A glob, compiled once.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Glob {
    source: String,
    matcher: GlobMatcher,
}

impl Glob {
    /// Compiles `source`. `*` and `?` do not cross `/`; `**` does.
    pub fn new(source: &str) -> Result<Self, SettingsError> {
        let glob = GlobBuilder::new(source)
            .literal_separator(true)
            .build()
            .map_err(|e| SettingsError::Glob {
                pattern: source.to_owned(),
                error: e.kind().to_string(),
            })?;
        Ok(Self {
            source: source.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.matcher.is_match(text)
    }
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl TryFrom<String> for Glob {
    type Error = SettingsError;

    fn try_from(source: String) -> Result<Self, Self::Error> {
        Self::new(&source)
    }
}

/// A `Kind/name` glob for exceptions' `objects:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct ObjectGlob(Glob);

impl ObjectGlob {
    /// Compiles `source`, which must have the shape `Kind/name`.
    pub fn new(source: &str) -> Result<Self, SettingsError> {
        match source.split_once('/') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() && !name.contains('/') => {
                Glob::new(source).map(Self)
            }
            _ => Err(SettingsError::ObjectPattern(source.to_owned())),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// True when `Kind/name` matches.
    pub fn matches(&self, kind: &str, name: &str) -> bool {
        self.0.matches(&format!("{kind}/{name}"))
    }
}

impl TryFrom<String> for ObjectGlob {
    type Error = SettingsError;

    fn try_from(source: String) -> Result<Self, Self::Error> {
        Self::new(&source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(yaml: &str) -> Result<PolicySettings, String> {
        imagegate_yaml::from_str(yaml, &imagegate_yaml::Limits::default())
            .map_err(|e| e.to_string())
    }

    fn exceptions(yaml: &str) -> Result<ExceptionSettings, String> {
        imagegate_yaml::from_str(yaml, &imagegate_yaml::Limits::default())
            .map_err(|e| e.to_string())
    }

    fn ok<T>(r: Result<T, String>) -> T {
        r.unwrap_or_else(|e| panic!("should deserialize: {e}"))
    }

    fn err<T: fmt::Debug>(r: Result<T, String>) -> String {
        match r {
            Ok(v) => panic!("should fail, got {v:?}"),
            Err(e) => e,
        }
    }

    /// The `policy:` and `exceptions:` sections of docs/configuration.md, verbatim.
    const DOCUMENTED_POLICY: &str = r#"
immutableTags:                  # a tag must match one of these (defaults shown)
  - '^([a-z0-9][a-z0-9._-]*-)?[0-9a-f]{7,40}$'
  - '^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$'
severity:                       # error | warning | off, per rule, optionally per environment
  values-file-unused: warning
  pull-policy-missing:
    default: error
    environments: { local: warning }
customImageFields:              # images in custom resources, beyond the built-in catalog
  - group: example.com
    kinds: [Runner]
    images: [spec.runner.image]             # image strings
    pullPolicy: spec.runner.imagePullPolicy
  - group: ci.example.com
    kinds: [Job]
    containers: ["spec.steps", "spec.templates[*].container"]
    containerPatches: ["spec.stepTemplate"]   # merged by the operator; judged when it names an image
    complete: true                            # every image is listed: no safety net on these kinds
  - group: policy.example.com
    noImages: true
imageFieldNames: [image]        # the safety net: string fields with these names in any other object
"#;

    const DOCUMENTED_EXCEPTIONS: &str = r#"
maxLifetimeDays: 90             # an exception may not expire later than this many days from today
forbiddenEnvironments: [staging, production]   # no exception may apply here
list:
  - rule: mutable-tag
    images: ["ghcr.io/ameideio/devcontainer-service"]   # repository, or a glob on it
    environments: [local]
    apps: ["local-platform-devcontainer-service"]       # optional
    objects: ["Deployment/devcontainer-service"]        # optional, Kind/name globs
    reason: "inner-loop devcontainer; tracked in PLAT-123"
    expires: 2026-12-31
"#;

    #[test]
    fn documented_policy_section_deserializes() {
        let p = ok(policy(DOCUMENTED_POLICY));
        assert_eq!(p.immutable_tags, PolicySettings::default().immutable_tags);
        assert_eq!(
            p.severity_for(RuleId::ValuesFileUnused, "dev"),
            Some(Severity::Warning)
        );
        assert_eq!(
            p.severity_for(RuleId::PullPolicyMissing, "local"),
            Some(Severity::Warning)
        );
        assert_eq!(
            p.severity_for(RuleId::PullPolicyMissing, "production"),
            Some(Severity::Error)
        );
        assert_eq!(
            p.severity_for(RuleId::DigestRequired, "local"),
            Some(Severity::Error)
        );
        assert_eq!(p.custom_image_fields.len(), 3);
        assert_eq!(p.image_field_names(), vec!["image".to_owned()]);
    }

    #[test]
    fn documented_exceptions_section_deserializes() {
        let e = ok(exceptions(DOCUMENTED_EXCEPTIONS));
        assert_eq!(e.max_lifetime_days, Some(90));
        assert_eq!(e.forbidden_environments, ["staging", "production"]);
        let x = &e.list[0];
        assert_eq!(x.rule, "mutable-tag");
        assert!(x.images[0].matches("ghcr.io/ameideio/devcontainer-service"));
        assert!(x.objects[0].matches("Deployment", "devcontainer-service"));
        assert_eq!(
            x.expires,
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or_default()
        );
        // The entry's line in the text (the text starts with an empty line).
        assert_eq!(x.line, Some(5));
    }

    #[test]
    fn empty_sections_take_defaults() {
        let p = ok(policy("{}"));
        assert_eq!(p.immutable_tags.len(), 2);
        assert_eq!(
            p.severity_for(RuleId::ExceptionUnused, "dev"),
            Some(Severity::Warning)
        );
        assert_eq!(ok(exceptions("{}")), ExceptionSettings::default());
    }

    #[test]
    fn invalid_regex_is_named() {
        let e = err(policy("immutableTags: ['v(1']"));
        assert!(
            e.contains("invalid regular expression `v(1` in policy.immutableTags"),
            "{e}"
        );
    }

    #[test]
    fn unknown_rule_id_is_named() {
        let e = err(policy("severity: { digest-requried: warning }"));
        assert!(
            e.contains("unknown rule id `digest-requried` in policy.severity"),
            "{e}"
        );
        assert!(e.contains("digest-required"), "{e}");
        let e = err(exceptions(
            "list: [{rule: nope, reason: r, expires: 2026-01-01}]",
        ));
        assert!(e.contains("unknown rule id `nope`"), "{e}");
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn unknown_rule_id_suggests_the_closest() {
        let e = err(policy("severity: { digest-requried: warning }"));
        assert!(
            e.contains(
                "unknown rule id `digest-requried` in policy.severity (did you mean `digest-required`?); known rules: "
            ),
            "{e}"
        );
        let e = err(exceptions(
            "list: [{rule: mutable-tags, reason: r, expires: 2026-01-01}]",
        ));
        assert!(
            e.contains("unknown rule id `mutable-tags` in exceptions.list[].rule (did you mean `mutable-tag`?)"),
            "{e}"
        );
    }

    #[test]
    fn severity_shapes() {
        let p = ok(policy(
            "severity:\n  mutable-tag: off\n  digest-required:\n    environments: { local: off }\n  invalid-label-value: { default: warning }",
        ));
        assert_eq!(p.severity_for(RuleId::MutableTag, "dev"), None);
        assert_eq!(p.severity_for(RuleId::DigestRequired, "local"), None);
        assert_eq!(
            p.severity_for(RuleId::DigestRequired, "dev"),
            Some(Severity::Error)
        );
        assert_eq!(
            p.severity_for(RuleId::InvalidLabelValue, "x"),
            Some(Severity::Warning)
        );

        let e = err(policy("severity: { mutable-tag: fatal }"));
        assert!(e.contains("fatal") && e.contains("error"), "{e}");
        let e = err(policy(
            "severity: { mutable-tag: { default: warning, envs: {} } }",
        ));
        assert!(e.contains("envs"), "{e}");
    }

    #[test]
    fn fail_closed_rules_cannot_be_lowered() {
        for yaml in [
            "severity: { render-failed: off }",
            "severity: { invalid-manifest: warning }",
            "severity: { render-failed: { environments: { local: off } } }",
        ] {
            let e = err(policy(yaml));
            assert!(e.contains("cannot be set below `error`"), "{e}");
        }
        ok(policy("severity: { render-failed: error }"));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(err(policy("immutableTag: []")).contains("immutableTag"));
        assert!(err(exceptions("max_lifetime_days: 3")).contains("max_lifetime_days"));
        let e = err(exceptions(
            "list: [{rule: mutable-tag, reason: r, expires: 2026-01-01, image: [x]}]",
        ));
        assert!(e.contains("image"), "{e}");
    }

    #[test]
    fn exception_fields_are_validated() {
        let cases = [
            ("{rule: mutable-tag, expires: 2026-01-01}", "reason"),
            (
                "{rule: mutable-tag, reason: '  ', expires: 2026-01-01}",
                "non-empty `reason`",
            ),
            ("{rule: mutable-tag, reason: r}", "expires"),
            (
                "{rule: mutable-tag, reason: r, expires: 2026-13-01}",
                "YYYY-MM-DD, got `2026-13-01`",
            ),
            (
                "{rule: mutable-tag, reason: r, expires: 31.12.2026}",
                "YYYY-MM-DD",
            ),
            (
                "{rule: mutable-tag, reason: r, expires: 2026-1-1}",
                "YYYY-MM-DD",
            ),
            (
                "{rule: render-failed, reason: r, expires: 2026-01-01}",
                "cannot be excepted",
            ),
            (
                "{rule: exception-unused, reason: r, expires: 2026-01-01}",
                "cannot be excepted",
            ),
            (
                "{rule: mutable-tag, reason: r, expires: 2026-01-01, images: ['a[']}",
                "invalid glob `a[`",
            ),
            (
                "{rule: mutable-tag, reason: r, expires: 2026-01-01, objects: [web]}",
                "`Kind/name`",
            ),
        ];
        for (entry, want) in cases {
            let e = err(exceptions(&format!("list: [{entry}]")));
            assert!(e.contains(want), "{entry}: {e}");
        }
    }

    #[test]
    fn custom_image_fields_add_to_builtins() {
        let p = ok(policy(
            "customImageFields:\n  - group: example.com\n    images: [spec.runner.image]\n",
        ));
        let fields = p.custom_image_fields();
        let builtin = builtin_custom_image_fields();
        assert_eq!(fields.len(), builtin.len() + 1);
        assert_eq!(fields[..builtin.len()], builtin[..]);
        assert!(builtin.iter().all(|f| f.builtin));
        assert_eq!(
            fields[builtin.len()],
            CustomImageField {
                group: "example.com".to_owned(),
                image_paths: vec!["spec.runner.image".to_owned()],
                ..CustomImageField::default()
            }
        );
        let e = err(policy("customImageFields: [{group: x, images: []}]"));
        assert!(e.contains("lists no `images`"), "{e}");
        // Containers, patches and policy kinds are entries of the same list.
        let p = ok(policy(
            "customImageFields:\n  - {group: x.dev, kinds: [Job], containers: ['spec.steps'], containerPatches: [spec.template], complete: true}\n  - {group: policy.example, noImages: true}\n",
        ));
        let fields = p.custom_image_fields();
        let [.., steps, rules] = &fields[..] else {
            unreachable!()
        };
        assert_eq!(steps.containers, ["spec.steps"]);
        assert_eq!(steps.container_patches, ["spec.template"]);
        assert!(steps.complete && !steps.no_images && !steps.builtin);
        assert!(rules.no_images && rules.complete);
        let e = err(policy(
            "customImageFields: [{group: x, noImages: true, images: [spec.image]}]",
        ));
        assert!(e.contains("one or the other"), "{e}");
        let e = err(policy(
            "customImageFields: [{group: x, containers: ['spec.steps[x]']}]",
        ));
        assert!(e.contains("not a field path"), "{e}");
        let e = err(policy(
            "customImageFields: [{group: x, images: ['spec..image']}]",
        ));
        assert!(e.contains("not a field path"), "{e}");
        // Wildcards parse; a bracket that holds nonsense, or is never closed, does not.
        ok(policy(
            "customImageFields: [{group: x, images: ['spec.steps[*].image', 'spec.s[].image', 'a[\"b.c\"]'], pullPolicy: 'spec.steps[*].imagePullPolicy'}]",
        ));
        for bad in [
            "spec.steps[x].image",
            "spec.steps[*.image",
            "spec. image",
            "[*]x",
        ] {
            let e = err(policy(&format!(
                "customImageFields: [{{group: x, images: ['{bad}']}}]"
            )));
            assert!(e.contains("not a field path"), "{bad}: {e}");
        }
    }

    #[test]
    fn image_field_names_add_to_image() {
        let p = ok(policy("imageFieldNames: [image, runnerImage]"));
        assert_eq!(p.image_field_names(), ["image", "runnerImage"]);
    }

    #[test]
    fn globs_stay_within_a_segment() {
        let g = Glob::new("ghcr.io/ameideio/*").unwrap_or_else(|e| panic!("{e}"));
        assert!(g.matches("ghcr.io/ameideio/web"));
        assert!(!g.matches("ghcr.io/ameideio/team/web"));
        let g = Glob::new("ghcr.io/**").unwrap_or_else(|e| panic!("{e}"));
        assert!(g.matches("ghcr.io/ameideio/team/web"));
    }

    #[test]
    fn schema_lists_rules_and_forbids_unknown_fields() {
        let schema = schemars::schema_for!(PolicySettings).to_value();
        let text = schema.to_string();
        assert!(text.contains("\"additionalProperties\":false"), "{text}");
        let severity = &schema["properties"]["severity"];
        let resolved = match severity.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => &schema["$defs"][r.trim_start_matches("#/$defs/")],
            None => severity,
        };
        for rule in registry::rules() {
            assert!(
                resolved["properties"].get(rule.id.as_str()).is_some(),
                "{} missing: {resolved}",
                rule.id
            );
        }
        let exceptions = schemars::schema_for!(ExceptionSettings)
            .to_value()
            .to_string();
        assert!(exceptions.contains("\"format\":\"date\""), "{exceptions}");
        assert!(!exceptions.contains("\"line\""), "{exceptions}");
    }
}
