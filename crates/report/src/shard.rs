//! What a shard report carries beyond `imagegate/report/v1`, so that `imagegate merge` can judge
//! the whole fleet from the shard reports alone.
//!
//! A sharded run (`--shard K/N`) judges only its slice of the cells. The rules that need the whole
//! fleet (whether an exception matched anything, promotion lineage, values files no cell reads)
//! cannot be judged there; instead the shard records what they need under the additive `shard` key
//! of its JSON report, and the merge judges them once over the union. Readers of v1 ignore the key.

use serde::{Deserialize, Serialize};

use crate::model::{ObjectRef, Snippet};

/// The `shard` key of a shard report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShardRecord {
    /// This shard's number, 1-based (`K` of `--shard K/N`).
    pub index: u32,
    /// The number of shards (`N`).
    pub count: u32,
    /// Cells of the whole matrix (over all shards), so a merge can tell that a shard is missing.
    pub matrix_cells: u64,
    /// Per exception of the configuration, by index: how many findings of this shard it covered.
    pub exception_matches: Vec<u64>,
    /// Every first-party, digest-pinned image site in an environment of a promotion chain.
    pub lineage: Vec<LineageSite>,
    /// What the formats need of each finding beyond the JSON schema, in the order of `findings`.
    pub details: Vec<FindingDetail>,
    /// Each configured custom image field path that reached a field in this shard's cells: the
    /// index of its entry among the decoder's custom fields (the catalog's first, then the
    /// configuration's) and the path.
    #[serde(default)]
    pub custom_paths_reached: Vec<(u64, String)>,
}

/// One digest-pinned first-party image site, as promotion lineage compares them.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct LineageSite {
    /// Environment of the cell.
    pub environment: String,
    /// App of the cell.
    pub app: String,
    /// Repository-relative chart path of the cell.
    pub chart: String,
    /// The object holding the image.
    pub object: ObjectRef,
    /// The `# Source:` template path.
    pub template: Option<String>,
    /// Index of the document in the cell's rendered stream.
    pub document: u64,
    /// `container`, `initContainer`, `ephemeralContainer`, `customField` or `unclassified`.
    pub site: String,
    /// Container name, for container sites.
    pub container: Option<String>,
    /// Path of the image field inside the object.
    pub field: String,
    /// The image as rendered.
    pub image: String,
    /// Its repository, registry included.
    pub repository: String,
    /// Its digest, `sha256:…`.
    pub digest: String,
    /// 1-based line of the image inside its rendered document, when known.
    pub line: Option<u32>,
}

/// The fields of a finding that the JSON schema leaves out and some formats use.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindingDetail {
    /// 1-based line in the rendered document.
    pub rendered_line: Option<u32>,
    /// Repository-relative path of the template.
    pub template_path_in_repo: Option<String>,
    /// Why there is no origin, or where else the value comes from.
    pub origin_note: Option<String>,
    /// Which exception covers the finding and why.
    pub exception_note: Option<String>,
    /// The origin line and a few around it.
    pub snippet: Option<Snippet>,
    /// The value on the origin line as written (the fix list shows it).
    #[serde(default)]
    pub origin_value: Option<String>,
    /// What to do at the origin line (the fix list says it).
    #[serde(default)]
    pub fix: Option<String>,
}

impl FindingDetail {
    /// The detail fields of `finding`.
    pub fn of(finding: &crate::ReportFinding) -> Self {
        Self {
            rendered_line: finding.rendered_line,
            template_path_in_repo: finding.template_path_in_repo.clone(),
            origin_note: finding.origin_note.clone(),
            exception_note: finding.exception_note.clone(),
            snippet: finding.snippet.clone(),
            origin_value: finding.origin_value.clone(),
            fix: finding.fix.clone(),
        }
    }

    /// Puts these fields back on `finding` (a finding read back from JSON has none of them).
    pub fn restore(self, finding: &mut crate::ReportFinding) {
        finding.rendered_line = self.rendered_line;
        finding.template_path_in_repo = self.template_path_in_repo;
        finding.origin_note = self.origin_note;
        finding.exception_note = self.exception_note;
        finding.snippet = self.snippet;
        finding.origin_value = self.origin_value;
        finding.fix = self.fix;
    }
}
