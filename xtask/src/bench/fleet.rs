//! The synthetic fleet of `cargo xtask bench`: N first-party charts × 4 environments in the
//! GitOps layout of `gitops-layout.md`, with an `imagegate.yaml`.
//!
//! Everything is derived from the chart index and a fixed seed (digests are sha256 of a seeded
//! name), so two runs with the same N write byte-identical fleets and measure the same work.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Seed of every generated digest: changing it changes the bytes, never the shape.
const SEED: &str = "imagegate-bench-v1";

/// Component domains, assigned round-robin (they select the value-stack paths).
const DOMAINS: &[&str] = &["apps", "data", "foundation", "observability", "platform"];

/// Stems of chart names; the index keeps names unique.
const STEMS: &[&str] = &[
    "billing", "catalog", "orders", "graph", "search", "ledger", "inbox", "identity", "pricing",
    "reports", "assets", "notify", "gateway", "profiles", "metering", "audit",
];

/// Workload names inside one chart (a chart has 2 to 4 of them).
const WORKLOADS: &[&str] = &["api", "worker", "events", "grpc"];

/// One environment of the fleet (one record of `config/clusters/*.yaml`).
pub struct Env {
    /// `{env}`.
    pub name: &'static str,
    /// `{clusterType}`.
    pub cluster_type: &'static str,
    /// `{namespace}`: every cell of this environment renders into it.
    pub namespace: &'static str,
    /// `{nodeProfile}` (`none` has no file, so that layer is skipped).
    pub node_profile: &'static str,
}

/// The four environments of the layout (local on k3d, three on AKS).
pub const ENVS: &[Env] = &[
    Env {
        name: "local",
        cluster_type: "local",
        namespace: "ameide-local",
        node_profile: "none",
    },
    Env {
        name: "dev",
        cluster_type: "azure",
        namespace: "ameide-dev",
        node_profile: "general-pool",
    },
    Env {
        name: "staging",
        cluster_type: "azure",
        namespace: "ameide-staging",
        node_profile: "general-pool",
    },
    Env {
        name: "production",
        cluster_type: "azure",
        namespace: "ameide-prod",
        node_profile: "general-pool",
    },
];

/// One chart × environment cell, as imagegate would render it.
pub struct Cell {
    /// `{env}-{name}`: the Argo CD application and the helm release.
    pub release: String,
    /// The chart folder (absolute).
    pub chart: PathBuf,
    /// The environment's namespace.
    pub namespace: String,
    /// The value stack, in order, only the files that exist (absolute).
    pub values: Vec<PathBuf>,
}

/// A generated fleet.
pub struct Fleet {
    /// Number of charts.
    pub charts: usize,
    /// Every cell (charts × environments), in a stable order.
    pub cells: Vec<Cell>,
    /// How many charts carry each deliberate violation (for the report).
    pub violations: Vec<(&'static str, usize)>,
}

/// The chart at `index`: its name and domain.
struct Chart {
    index: usize,
    /// Every chart carries the sidecar's `Always` (the fleet where every cell has findings).
    every_cell_findings: bool,
    name: String,
    domain: &'static str,
}

impl Chart {
    fn new(index: usize, every_cell_findings: bool) -> Self {
        Self {
            index,
            every_cell_findings,
            name: format!("{}-{index:03}", STEMS[index % STEMS.len()]),
            domain: DOMAINS[index % DOMAINS.len()],
        }
    }

    fn workloads(&self) -> &'static [&'static str] {
        &WORKLOADS[..2 + self.index % 3]
    }

    fn cronjobs(&self) -> usize {
        1 + self.index % 2
    }

    /// Components that list their own `chart.valueFiles` (Argo CD's `$values/` multi-source
    /// form), which replace the default stack.
    fn own_value_files(&self) -> bool {
        self.index % 10 == 9
    }

    // The deliberate violations, each on a fixed stride so the mix is the same for every N.
    /// local overlay sets `image.ref: …:main` (no digest, mutable tag) for the CronJobs.
    fn v_local_mutable(&self) -> bool {
        self.index % 20 == 3
    }
    /// `_shared` sets the sidecar's pull policy to `Always` (every environment).
    fn v_sidecar_always(&self) -> bool {
        self.every_cell_findings || self.index % 25 == 7
    }
    /// dev overlay blanks `global.imagePullPolicy`: containers render without a policy.
    fn v_dev_no_policy(&self) -> bool {
        self.index % 40 == 11
    }
    /// `_shared` gives the Domain custom resource a `:latest@sha256:` image.
    fn v_domain_latest(&self) -> bool {
        self.index % 50 == 13
    }
    /// production overlay pins a digest staging never had.
    fn v_prod_drift(&self) -> bool {
        self.index % 33 == 5
    }
}

/// A deterministic sha256 digest for `what`.
fn digest(what: &str) -> String {
    let mut h = Sha256::new();
    h.update(SEED.as_bytes());
    h.update(b"/");
    h.update(what.as_bytes());
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// A digest-pinned reference `repo@sha256:…`.
fn pinned(repo: &str) -> String {
    format!("{repo}@{}", digest(repo))
}

fn write(root: &Path, rel: &str, content: &str) -> Result<()> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))
}

/// Writes a fleet of `charts` charts × 4 environments under `root` (which must be empty or
/// missing) and returns its cells. With `every_cell_findings`, every chart's sidecar pulls
/// `Always` in every environment, so every cell has findings (and a marker render).
pub fn generate(root: &Path, charts: usize, every_cell_findings: bool) -> Result<Fleet> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    write(root, "imagegate.yaml", IMAGEGATE_YAML)?;
    write_shared_layers(root)?;
    let all: Vec<Chart> = (0..charts)
        .map(|i| Chart::new(i, every_cell_findings))
        .collect();
    for c in &all {
        write_chart(root, c)?;
        write_component(root, c)?;
        write_values(root, c)?;
    }
    let mut cells = Vec::with_capacity(charts * ENVS.len());
    for env in ENVS {
        for c in &all {
            cells.push(plan_cell(root, env, c));
        }
    }
    let count = |f: fn(&Chart) -> bool| all.iter().filter(|c| f(c)).count();
    let violations = vec![
        (
            "local :main tag without digest (CronJobs)",
            count(Chart::v_local_mutable),
        ),
        (
            "sidecar imagePullPolicy: Always",
            count(Chart::v_sidecar_always),
        ),
        ("dev: no imagePullPolicy", count(Chart::v_dev_no_policy)),
        ("Domain image :latest@sha256", count(Chart::v_domain_latest)),
        (
            "production digest never in staging",
            count(Chart::v_prod_drift),
        ),
    ];
    Ok(Fleet {
        charts,
        cells,
        violations,
    })
}

/// The value stack of one cell, resolved the way `imagegate.yaml` below declares it (and the
/// way Argo CD does: missing files are skipped).
fn plan_cell(root: &Path, env: &Env, c: &Chart) -> Cell {
    let (d, n, e) = (c.domain, c.name.as_str(), env.name);
    let stack: Vec<String> = if c.own_value_files() {
        own_value_files(c)
            .iter()
            .map(|f| {
                f.trim_start_matches("$values/")
                    .replace("{env}", e)
                    .replace("{domain}", d)
                    .replace("{name}", n)
            })
            .collect()
    } else {
        vec![
            "sources/values/base/globals.yaml".to_string(),
            format!("sources/values/cluster/{}/globals.yaml", env.cluster_type),
            format!("sources/values/env/{e}/globals.yaml"),
            format!("config/node-profiles/{}.yaml", env.node_profile),
            format!("sources/values/_shared/{d}/{n}.yaml"),
            format!("sources/values/env/{e}/{d}/{n}.yaml"),
        ]
    };
    Cell {
        release: format!("{e}-{n}"),
        chart: root.join(format!("sources/charts/apps/{n}")),
        namespace: env.namespace.to_string(),
        values: stack
            .iter()
            .map(|rel| root.join(rel))
            .filter(|p| p.is_file())
            .collect(),
    }
}

fn own_value_files(_c: &Chart) -> [&'static str; 4] {
    [
        "$values/sources/values/base/globals.yaml",
        "$values/sources/values/env/{env}/globals.yaml",
        "$values/sources/values/_shared/{domain}/{name}.yaml",
        "$values/sources/values/env/{env}/{domain}/{name}.yaml",
    ]
}

fn write_shared_layers(root: &Path) -> Result<()> {
    let mut azure = String::from(
        "# Azure (AKS) clusters: one record per environment. Argo CD's ApplicationSet reads this file.\n",
    );
    let mut local = String::from("# The developer cluster (k3d).\n");
    for env in ENVS {
        let cluster = if env.cluster_type == "local" {
            "k3d-ameide".to_string()
        } else {
            format!("aks-{}", env.namespace)
        };
        let rec = format!(
            "- cluster: {cluster}\n  clusterType: {}\n  env: {}\n  namespace: {}\n  nodeProfile: {}\n",
            env.cluster_type, env.name, env.namespace, env.node_profile
        );
        if env.cluster_type == "local" {
            local.push_str(&rec);
        } else {
            azure.push_str(&rec);
        }
    }
    write(root, "config/clusters/azure.yaml", &azure)?;
    write(root, "config/clusters/local.yaml", &local)?;
    write(
        root,
        "config/node-profiles/general-pool.yaml",
        "nodeSelector:\n  agentpool: general\ntolerations:\n  - key: workload\n    operator: Equal\n    value: general\n    effect: NoSchedule\n",
    )?;
    write(
        root,
        "sources/values/base/globals.yaml",
        "global:\n  imagePullPolicy: IfNotPresent\n  labels:\n    ameide.io/fleet: bench\nlogLevel: info\n",
    )?;
    write(
        root,
        "sources/values/cluster/azure/globals.yaml",
        "global:\n  cloud: azure\npodAnnotations:\n  azure.workload.identity/use: \"true\"\n",
    )?;
    write(
        root,
        "sources/values/cluster/local/globals.yaml",
        "global:\n  cloud: k3d\nautoscaling:\n  enabled: false\nresources:\n  requests:\n    cpu: 10m\n    memory: 32Mi\n  limits:\n    memory: 128Mi\n",
    )?;
    for env in ENVS {
        let level = if matches!(env.name, "local" | "dev") {
            "debug"
        } else {
            "info"
        };
        write(
            root,
            &format!("sources/values/env/{}/globals.yaml", env.name),
            &format!("global:\n  environment: {}\nlogLevel: {level}\n", env.name),
        )?;
    }
    Ok(())
}

fn write_component(root: &Path, c: &Chart) -> Result<()> {
    let mut s = format!(
        "name: {n}\nproject: ameide\ndomain: {d}\nrolloutPhase: \"{p}\"\nchart:\n  repoURL: https://github.com/ameideio/ameide-gitops.git\n  path: sources/charts/apps/{n}\n  version: main\n  skipCrds: false\n",
        n = c.name,
        d = c.domain,
        p = 10 * (1 + c.index % 5),
    );
    if c.own_value_files() {
        s.push_str("  valueFiles:\n");
        for f in own_value_files(c) {
            s.push_str(&format!("    - \"{f}\"\n"));
        }
    }
    write(
        root,
        &format!(
            "environments/_shared/components/{}/{}/component.yaml",
            c.domain, c.name
        ),
        &s,
    )
}

fn write_chart(root: &Path, c: &Chart) -> Result<()> {
    let dir = format!("sources/charts/apps/{}", c.name);
    write(
        root,
        &format!("{dir}/Chart.yaml"),
        &format!(
            "apiVersion: v2\nname: {}\ndescription: Ameide {} service (first-party, image.ref contract)\ntype: application\nversion: 1.{}.0\nappVersion: \"1.{}.0\"\n",
            c.name, c.name, c.index, c.index
        ),
    )?;
    write(root, &format!("{dir}/values.yaml"), CHART_VALUES)?;
    write(
        root,
        &format!("{dir}/.helmignore"),
        ".git/\n*.swp\nvalues.ci.yaml\n",
    )?;
    // Never rendered, never judged (gitops-layout.md): CI values at the chart root.
    write(
        root,
        &format!("{dir}/values.ci.yaml"),
        "image:\n  ref: ghcr.io/ameideio/ci:latest\n",
    )?;
    for (name, body) in TEMPLATES {
        write(root, &format!("{dir}/templates/{name}"), body)?;
    }
    Ok(())
}

fn write_values(root: &Path, c: &Chart) -> Result<()> {
    let n = c.name.as_str();
    let workload_list = |suffix: &str| {
        let mut s = String::from("workloads:\n");
        for (k, w) in c.workloads().iter().enumerate() {
            s.push_str(&format!(
                "  - name: {w}\n    replicas: {}\n    port: {}\n    image:\n      ref: {}\n",
                1 + (c.index + k) % 3,
                8080 + k,
                pinned(&format!("ghcr.io/ameideio/{n}-{w}{suffix}"))
            ));
        }
        s
    };
    // Layer 5: the component's own images, every one digest-pinned.
    let mut shared = format!(
        "image:\n  ref: {}\ninit:\n  ref: {}\nsidecar:\n  ref: {}\n",
        pinned(&format!("ghcr.io/ameideio/{n}")),
        pinned("ghcr.io/ameideio/wait-for"),
        pinned("docker.io/envoyproxy/envoy:v1.31.2"),
    );
    if c.v_sidecar_always() {
        shared.push_str("  pullPolicy: Always\n");
    }
    shared.push_str(&format!(
        "migrations:\n  ref: {}\nsmokeTest:\n  ref: {}\ndomain:\n  image: {}\n  migrationJobImage: {}\n",
        pinned(&format!("ghcr.io/ameideio/{n}-migrate")),
        pinned("ghcr.io/ameideio/smoke-runner:v2.4.1"),
        if c.v_domain_latest() {
            format!("ghcr.io/ameideio/{n}-domain:latest@{}", digest(n))
        } else {
            pinned(&format!("ghcr.io/ameideio/{n}-domain"))
        },
        pinned(&format!("ghcr.io/ameideio/{n}-migrate")),
    ));
    shared.push_str(&workload_list(""));
    let mut crons = String::from("cronjobs:\n");
    for k in 0..c.cronjobs() {
        let (name, schedule) = [("cleanup", "0 3 * * *"), ("report", "*/30 * * * *")][k];
        crons.push_str(&format!("  - name: {name}\n    schedule: \"{schedule}\"\n"));
    }
    shared.push_str(&crons);
    write(
        root,
        &format!("sources/values/_shared/{}/{n}.yaml", c.domain),
        &shared,
    )?;

    // Layer 6: environment overlays, present for some charts only (as in real fleets).
    for env in ENVS {
        let mut s = String::new();
        match env.name {
            "local" => {
                if c.index.is_multiple_of(4) {
                    s.push_str("logLevel: trace\nextraEnv:\n  DEV_MODE: \"true\"\n");
                }
                if c.v_local_mutable() {
                    s.push_str(&format!("image:\n  ref: ghcr.io/ameideio/{n}:main\n"));
                }
            }
            "dev" => {
                if c.index.is_multiple_of(2) {
                    s.push_str("extraEnv:\n  FEATURE_FLAGS: \"beta,preview\"\n");
                }
                if c.v_dev_no_policy() {
                    s.push_str("global:\n  imagePullPolicy: \"\"\n");
                }
            }
            "staging" => {
                if c.index.is_multiple_of(3) {
                    s.push_str("autoscaling:\n  minReplicas: 2\n  maxReplicas: 8\n");
                }
            }
            _ => {
                if c.index % 2 == 1 {
                    s.push_str("autoscaling:\n  minReplicas: 3\n  maxReplicas: 12\nresources:\n  requests:\n    cpu: 200m\n    memory: 256Mi\n  limits:\n    memory: 1Gi\n");
                    // Promotion copies the same digests forward: the list is restated whole
                    // (helm replaces lists), with the digests staging runs.
                    s.push_str(&workload_list(""));
                }
                if c.v_prod_drift() {
                    s.push_str(&format!(
                        "image:\n  ref: ghcr.io/ameideio/{n}@{}\n",
                        digest(&format!("{n}/hotfix"))
                    ));
                }
            }
        }
        if !s.is_empty() {
            write(
                root,
                &format!("sources/values/env/{}/{}/{n}.yaml", env.name, c.domain),
                &s,
            )?;
        }
    }
    Ok(())
}

/// The fleet's configuration (the shape of charts-testdata/imagegate.yaml, environment
/// components only, so the matrix is exactly charts × 4).
const IMAGEGATE_YAML: &str = r#"# Generated by `cargo xtask bench`: a synthetic fleet in the layout of gitops-layout.md.
version: 1

helm:
  kubeVersion: "1.31.0"
  apiVersions: []
  includeCrds: false
  timeoutSeconds: 120

environments:
  - from: config/clusters/*.yaml
    name: "{env}"

clusterScope:
  key: clusterType
  environment: "cluster-{clusterType}"

components:
  - from: "environments/_shared/components/{apps,data,foundation,observability,platform}/**/component.yaml"
    scope: environment

valueStacks:
  environment:
    - sources/values/base/globals.yaml
    - sources/values/cluster/{clusterType}/globals.yaml
    - sources/values/env/{env}/globals.yaml
    - config/node-profiles/{nodeProfile}.yaml
    - sources/values/_shared/{domain}/{name}.yaml
    - sources/values/env/{env}/{domain}/{name}.yaml
  cluster:
    - sources/values/cluster/globals.yaml
    - sources/values/_shared/cluster/{name}.yaml
    - sources/values/cluster/{clusterType}/{name}.yaml
valuesPrefix: "$values/"
missingValueFiles: skip

naming:
  app: "{env}-{name}"
  clusterApp: "cluster-{name}"
  release: "{app}"
  namespace: "{namespace}"

policy:
  immutableTags:
    - '^([a-z0-9][a-z0-9._-]*-)?[0-9a-f]{7,40}$'
    - '^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$'
  customImageFields:
    - group: ameide.io
      kinds: [Domain, Process, Agent, UISurface, Projection, Integration]
      images: [spec.image]
      pullPolicy: spec.imagePullPolicy
    - group: ameide.io
      kinds: [Domain]
      images: [spec.db.migrationJobImage]
  imageFieldNames: [image]
"#;

/// Chart defaults: every image knob empty, so a missing `_shared` file fails `required`.
const CHART_VALUES: &str = r#"global:
  environment: unknown
  imagePullPolicy: IfNotPresent
  labels: {}
logLevel: info
extraEnv: {}
podAnnotations: {}
# The one image knob (602 rule 2): repo@sha256:<digest> or repo:<sha>@sha256:<digest>.
image:
  ref: ""
  pullPolicy: ""
init:
  ref: ""
  pullPolicy: ""
sidecar:
  enabled: true
  ref: ""
  pullPolicy: ""
migrations:
  enabled: true
  ref: ""
smokeTest:
  enabled: true
  ref: ""
domain:
  enabled: true
  image: ""
  migrationJobImage: ""
  pullPolicy: ""
workloads: []
cronjobs: []
autoscaling:
  enabled: true
  minReplicas: 1
  maxReplicas: 4
  targetCPU: 75
resources:
  requests:
    cpu: 50m
    memory: 64Mi
  limits:
    memory: 256Mi
nodeSelector: {}
tolerations: []
"#;

/// The chart's templates (identical text in every chart; names come from `.Chart.Name`).
const TEMPLATES: &[(&str, &str)] = &[
    ("_helpers.tpl", HELPERS),
    ("serviceaccount.yaml", SERVICEACCOUNT),
    ("configmap.yaml", CONFIGMAP),
    ("deployments.yaml", DEPLOYMENTS),
    ("hpa.yaml", HPA),
    ("pdb.yaml", PDB),
    ("networkpolicy.yaml", NETWORKPOLICY),
    ("cronjobs.yaml", CRONJOBS),
    ("migration-job.yaml", MIGRATION_JOB),
    ("domain.yaml", DOMAIN),
    ("tests/smoke-test.yaml", SMOKE_TEST),
    ("NOTES.txt", NOTES),
];

const HELPERS: &str = r#"{{- define "svc.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ameide
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | trunc 63 }}
{{- with .Values.global.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* A container's pull policy: its own, else the fleet-wide one. */}}
{{- define "svc.pullPolicy" -}}
{{ default .root.Values.global.imagePullPolicy .policy }}
{{- end }}

{{- define "svc.image" -}}
{{ required (printf "%s is required" .what) .ref }}
{{- end }}
"#;

const SERVICEACCOUNT: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Chart.Name }}
  labels:
    {{- include "svc.labels" . | nindent 4 }}
automountServiceAccountToken: false
"#;

const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Chart.Name }}-config
  labels:
    {{- include "svc.labels" . | nindent 4 }}
data:
  ENVIRONMENT: {{ .Values.global.environment | quote }}
  LOG_LEVEL: {{ .Values.logLevel | quote }}
  OTEL_SERVICE_NAME: {{ .Chart.Name | quote }}
  OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector.observability:4317"
  DATABASE_HOST: {{ printf "%s-db.%s.svc" .Chart.Name .Release.Namespace | quote }}
"#;

const DEPLOYMENTS: &str = r#"{{- range $w := .Values.workloads }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $.Chart.Name }}-{{ $w.name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "svc.labels" $ | nindent 4 }}
    app.kubernetes.io/component: {{ $w.name }}
spec:
  replicas: {{ $w.replicas }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ $.Chart.Name }}
      app.kubernetes.io/component: {{ $w.name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ $.Chart.Name }}
        app.kubernetes.io/component: {{ $w.name }}
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") $ | sha256sum }}
        {{- with $.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $.Chart.Name }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      initContainers:
        - name: wait-for-deps
          image: {{ include "svc.image" (dict "ref" $.Values.init.ref "what" "init.ref") }}
          imagePullPolicy: {{ include "svc.pullPolicy" (dict "root" $ "policy" $.Values.init.pullPolicy) }}
          args: ["--timeout=60s", "{{ $.Chart.Name }}-db:5432"]
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
            limits:
              memory: 32Mi
      containers:
        - name: {{ $w.name }}
          image: {{ include "svc.image" (dict "ref" $w.image.ref "what" (printf "workloads[%s].image.ref" $w.name)) }}
          imagePullPolicy: {{ include "svc.pullPolicy" (dict "root" $ "policy" $w.image.pullPolicy) }}
          ports:
            - name: http
              containerPort: {{ $w.port }}
          env:
            - name: WORKLOAD
              value: {{ $w.name | quote }}
            {{- range $k, $v := $.Values.extraEnv }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ $.Chart.Name }}-config
          readinessProbe:
            httpGet:
              path: /healthz/ready
              port: http
            periodSeconds: 10
          livenessProbe:
            httpGet:
              path: /healthz/live
              port: http
            periodSeconds: 20
          resources:
            {{- toYaml $.Values.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
          volumeMounts:
            - name: tmp
              mountPath: /tmp
        {{- if $.Values.sidecar.enabled }}
        - name: proxy
          image: {{ include "svc.image" (dict "ref" $.Values.sidecar.ref "what" "sidecar.ref") }}
          imagePullPolicy: {{ include "svc.pullPolicy" (dict "root" $ "policy" $.Values.sidecar.pullPolicy) }}
          args: ["--config-path", "/etc/envoy/envoy.yaml", "--service-node", "{{ $.Chart.Name }}-{{ $w.name }}"]
          ports:
            - name: proxy
              containerPort: 8443
          resources:
            requests:
              cpu: 20m
              memory: 32Mi
            limits:
              memory: 128Mi
        {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
      {{- with $.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $.Chart.Name }}-{{ $w.name }}
  labels:
    {{- include "svc.labels" $ | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {{ $.Chart.Name }}
    app.kubernetes.io/component: {{ $w.name }}
  ports:
    - name: http
      port: 80
      targetPort: http
{{- end }}
"#;

const HPA: &str = r#"{{- if and .Values.autoscaling.enabled .Values.workloads }}
{{- $first := first .Values.workloads }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .Chart.Name }}-{{ $first.name }}
  labels:
    {{- include "svc.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .Chart.Name }}-{{ $first.name }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPU }}
{{- end }}
"#;

const PDB: &str = r#"apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .Chart.Name }}
  labels:
    {{- include "svc.labels" . | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
"#;

const NETWORKPOLICY: &str = r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .Chart.Name }}
  labels:
    {{- include "svc.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ .Release.Namespace }}
"#;

const CRONJOBS: &str = r#"{{- range $c := .Values.cronjobs }}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ $.Chart.Name }}-{{ $c.name }}
  labels:
    {{- include "svc.labels" $ | nindent 4 }}
spec:
  schedule: {{ $c.schedule | quote }}
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 1
  failedJobsHistoryLimit: 3
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          serviceAccountName: {{ $.Chart.Name }}
          containers:
            - name: {{ $c.name }}
              image: {{ include "svc.image" (dict "ref" $.Values.image.ref "what" "image.ref") }}
              {{- with $.Values.global.imagePullPolicy }}
              imagePullPolicy: {{ . }}
              {{- end }}
              args: ["job", "{{ $c.name }}"]
              envFrom:
                - configMapRef:
                    name: {{ $.Chart.Name }}-config
              resources:
                requests:
                  cpu: 50m
                  memory: 64Mi
{{- end }}
"#;

const MIGRATION_JOB: &str = r#"{{- if .Values.migrations.enabled }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Chart.Name }}-migrate
  labels:
    {{- include "svc.labels" . | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
    argocd.argoproj.io/hook: PreSync
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      serviceAccountName: {{ .Chart.Name }}
      containers:
        - name: migrate
          image: {{ include "svc.image" (dict "ref" .Values.migrations.ref "what" "migrations.ref") }}
          imagePullPolicy: {{ include "svc.pullPolicy" (dict "root" . "policy" "") }}
          args: ["migrate", "up"]
          envFrom:
            - configMapRef:
                name: {{ .Chart.Name }}-config
{{- end }}
"#;

const DOMAIN: &str = r#"{{- if .Values.domain.enabled }}
apiVersion: ameide.io/v1
kind: Domain
metadata:
  name: {{ .Chart.Name }}
  labels:
    {{- include "svc.labels" . | nindent 4 }}
spec:
  image: {{ include "svc.image" (dict "ref" .Values.domain.image "what" "domain.image") }}
  imagePullPolicy: {{ include "svc.pullPolicy" (dict "root" . "policy" .Values.domain.pullPolicy) }}
  db:
    schema: {{ .Chart.Name | replace "-" "_" }}
    migrationJobImage: {{ include "svc.image" (dict "ref" .Values.domain.migrationJobImage "what" "domain.migrationJobImage") }}
{{- end }}
"#;

const SMOKE_TEST: &str = r#"{{- if .Values.smokeTest.enabled }}
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Chart.Name }}-smoke
  labels:
    {{- include "svc.labels" . | nindent 4 }}
  annotations:
    helm.sh/hook: test
    argocd.argoproj.io/hook: PostSync
spec:
  restartPolicy: Never
  containers:
    - name: smoke
      image: {{ include "svc.image" (dict "ref" .Values.smokeTest.ref "what" "smokeTest.ref") }}
      imagePullPolicy: {{ include "svc.pullPolicy" (dict "root" . "policy" "") }}
      args: ["--target", "http://{{ .Chart.Name }}-{{ (first .Values.workloads).name }}"]
{{- end }}
"#;

const NOTES: &str = "{{ .Chart.Name }} is deployed to {{ .Release.Namespace }}.\n";
