//! Every format over the sample report: snapshots, plus checks against what consumes them
//! (the SARIF 2.1.0 schema, an XML parser, GitHub's escaping rules).

mod common;

use imagegate_report::{
    render_to_string, Format, FormatOptions, Generator, GithubRenderer, JsonRenderer,
    JunitRenderer, MarkdownRenderer, Report, ReportFinding, SarifRenderer, Severity, TextOptions,
    TextRenderer,
};

fn render(format: Format, text: TextOptions) -> String {
    let rules = common::rules();
    let options = FormatOptions {
        text,
        rules: &rules,
        path_prefix: "",
    };
    let renderer = format.renderer(&options);
    let out = render_to_string(&*renderer, &common::report());
    out.unwrap_or_else(|e| panic!("{format} failed: {e}"))
}

fn plain(format: Format) -> String {
    render(format, TextOptions::default())
}

#[test]
fn text_snapshot() {
    insta::assert_snapshot!("text", plain(Format::Text));
}

#[test]
fn text_color_snapshot() {
    // ESC shown as ␛ so the snapshot file stays readable.
    let out = render(
        Format::Text,
        TextOptions {
            color: true,
            quiet: false,
        },
    );
    insta::assert_snapshot!("text_color", out.replace('\x1b', "␛"));
}

#[test]
fn text_quiet_snapshot() {
    insta::assert_snapshot!(
        "text_quiet",
        render(
            Format::Text,
            TextOptions {
                color: false,
                quiet: true
            }
        )
    );
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!("json", plain(Format::Json));
}

#[test]
fn sarif_snapshot() {
    insta::assert_snapshot!("sarif", plain(Format::Sarif));
}

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!("junit", plain(Format::Junit));
}

#[test]
fn github_snapshot() {
    insta::assert_snapshot!("github", plain(Format::Github));
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!("markdown", plain(Format::Markdown));
}

/// No format lets a control character of chart-controlled text through raw; the only escape
/// sequences in coloured text are the SGR ones the renderer writes itself.
#[test]
fn no_format_leaks_control_characters() {
    let mut outputs: Vec<(String, String)> = Format::ALL
        .iter()
        .map(|f| (f.to_string(), plain(*f)))
        .collect();
    let colored = render(
        Format::Text,
        TextOptions {
            color: true,
            quiet: false,
        },
    );
    let mut rest = String::new();
    let mut chars = colored.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            // Skip an SGR sequence: digits and `;`, ended by `m`.
            let mut ok = false;
            for c in chars.by_ref() {
                if c == 'm' {
                    ok = true;
                    break;
                }
                assert!(
                    c.is_ascii_digit() || c == ';',
                    "non-SGR escape in coloured text"
                );
            }
            assert!(ok, "unterminated escape in coloured text");
        } else {
            rest.push(c);
        }
    }
    outputs.push(("text (colour, SGR removed)".into(), rest));
    for (name, out) in outputs {
        let bad: Vec<char> = out
            .chars()
            .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
            .collect();
        assert!(bad.is_empty(), "{name} leaks control characters {bad:?}");
    }
}

#[test]
fn sarif_is_valid_against_the_official_schema() {
    let schema: serde_json::Value = serde_json::from_str(include_str!("sarif-schema-2.1.0.json"))
        .expect("vendored schema is JSON");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles");
    let log: serde_json::Value =
        serde_json::from_str(&plain(Format::Sarif)).expect("SARIF output is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );

    // The validator really validates: a broken log is rejected.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn sarif_meets_code_scanning_expectations() {
    let log: serde_json::Value = serde_json::from_str(&plain(Format::Sarif)).expect("JSON");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let results = run["results"].as_array().expect("results");
    // One result per finding, the synthesized render-failed one included.
    assert_eq!(results.len(), common::report().findings.len());
    for result in results {
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(
            !uri.starts_with('/') && !uri.contains("://"),
            "{uri} is not relative"
        );
        assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert!(location["region"]["startLine"].as_u64().expect("startLine") >= 1);
        let fingerprint = result["partialFingerprints"]["imagegate/v1"]
            .as_str()
            .expect("fingerprint");
        assert_eq!(fingerprint.len(), 64);
    }
    // Excepted findings are suppressed, not dropped.
    let suppressed: Vec<_> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "external");
    // The failed cell points at its chart.
    let failed = results
        .iter()
        .find(|r| r["ruleId"] == "render-failed")
        .expect("render-failed");
    assert_eq!(
        failed["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "sources/charts/apps/worker/Chart.yaml"
    );
    // Fingerprints are stable across runs and distinct across findings.
    assert_eq!(plain(Format::Sarif), plain(Format::Sarif));
    let mut prints: Vec<&str> = results
        .iter()
        .filter_map(|r| r["partialFingerprints"]["imagegate/v1"].as_str())
        .collect();
    prints.sort_unstable();
    prints.dedup();
    assert_eq!(prints.len(), results.len());
}

#[test]
fn junit_parses_with_one_case_per_cell() {
    let xml = plain(Format::Junit);
    let parsed =
        quick_junit::Report::deserialize_from_str(&xml).expect("JUnit output parses as XML");
    let report = common::report();
    let cases: usize = parsed.test_suites.iter().map(|s| s.test_cases.len()).sum();
    assert_eq!(cases, report.cells.len());
    let names: Vec<&str> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["cluster-azure", "dev", "staging"]);
    let failures: Vec<String> = parsed
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .filter(|c| !matches!(c.status, quick_junit::TestCaseStatus::Success { .. }))
        .map(|c| c.name.to_string())
        .collect();
    // staging-web only has a warning and an excepted error: it passes.
    assert_eq!(
        failures,
        ["cluster-ameide-operators", "dev-api", "staging-worker"]
    );
}

#[test]
fn github_has_one_command_per_failing_finding() {
    let out = plain(Format::Github);
    let report = common::report();
    let failing = report.findings.iter().filter(|f| !f.excepted).count();
    assert_eq!(out.lines().count(), failing);
    for line in out.lines() {
        assert!(
            line.starts_with("::error ") || line.starts_with("::warning "),
            "{line}"
        );
        let (properties, _message) = line[2..].split_once("::").expect("two `::`");
        // Properties are comma-separated key=value pairs: escaped values cannot add more.
        for pair in properties.split_once(' ').map_or("", |p| p.1).split(',') {
            let key = pair.split_once('=').map(|p| p.0);
            assert!(
                matches!(key, Some("file" | "line" | "col" | "endColumn" | "title")),
                "{pair}"
            );
        }
    }
}

#[test]
fn markdown_tables_have_consistent_columns() {
    let out = plain(Format::Markdown);
    for table in out.split("\n\n").filter(|b| b.starts_with('|')) {
        let columns = |row: &str| row.replace("\\|", "").matches('|').count();
        let header = columns(table.lines().next().unwrap_or_default());
        for row in table.lines() {
            assert_eq!(columns(row), header, "{row}");
        }
    }
}

#[test]
fn markdown_cuts_long_lists() {
    let out = render_to_string(&MarkdownRenderer::new(1, 10), &common::report()).expect("renders");
    assert!(out.contains("…and 4 more"), "{out}");
    assert!(out.contains("… (cut)"), "{out}");
}

#[test]
fn renderers_are_usable_directly() {
    let report = common::report();
    let rules = common::rules();
    let direct: [(&dyn imagegate_report::Renderer, Format); 6] = [
        (&TextRenderer::new(TextOptions::default()), Format::Text),
        (&JsonRenderer, Format::Json),
        (&SarifRenderer::new(&rules), Format::Sarif),
        (&JunitRenderer, Format::Junit),
        (
            &GithubRenderer {
                path_prefix: "",
                rules: &rules,
            },
            Format::Github,
        ),
        (&MarkdownRenderer::default(), Format::Markdown),
    ];
    for (renderer, format) in direct {
        assert_eq!(
            render_to_string(renderer, &report).ok(),
            Some(plain(format))
        );
    }
}

#[test]
fn an_empty_report_renders_in_every_format() {
    let report = Report::new(
        imagegate_report::Generator::new("imagegate", "0.1.0"),
        vec![],
        vec![],
    );
    for format in Format::ALL {
        let out = render_to_string(&*format.renderer(&FormatOptions::default()), &report);
        assert!(out.is_ok(), "{format}");
    }
    let text = render_to_string(&TextRenderer::default(), &report).unwrap_or_default();
    assert!(
        text.ends_with("passed: 0 errors, 0 warnings in 0 cells\n"),
        "{text}"
    );
}

/// A writer that always fails, to see errors come back instead of panics.
struct Broken;

impl std::io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_returned() {
    let report = common::report();
    for format in Format::ALL {
        let result = format
            .renderer(&FormatOptions::default())
            .render(&report, &mut Broken);
        assert!(result.is_err(), "{format}");
    }
}

#[test]
fn sarif_and_annotations_name_paths_from_the_checkout_root() {
    // With the configuration in a subfolder (`gitops/imagegate.yaml`), code scanning and
    // annotations resolve paths from the checkout's root: every path gets the folder in front.
    let rules = common::rules();
    let report = common::report();
    let render = |format: Format, prefix: &str| {
        let options = FormatOptions {
            text: TextOptions::default(),
            rules: &rules,
            path_prefix: prefix,
        };
        render_to_string(&*format.renderer(&options), &report).unwrap()
    };
    let sarif: serde_json::Value = serde_json::from_str(&render(Format::Sarif, "gitops")).unwrap();
    let uris: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["locations"].as_array().unwrap())
        .map(|l| {
            l["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(!uris.is_empty());
    assert!(uris.iter().all(|u| u.starts_with("gitops/")), "{uris:?}");
    let plain: serde_json::Value = serde_json::from_str(&render(Format::Sarif, "")).unwrap();
    let first = plain["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        ["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert_eq!(format!("gitops/{first}"), uris[0]);
    let github = render(Format::Github, "gitops/");
    let files: Vec<&str> = github
        .lines()
        .filter_map(|l| l.split("file=").nth(1))
        .collect();
    assert!(!files.is_empty());
    assert!(files.iter().all(|f| f.starts_with("gitops/")), "{github}");
}

#[test]
fn sarif_rules_carry_code_scanning_severity_and_results_are_distinct() {
    let sarif: serde_json::Value = serde_json::from_str(&plain(Format::Sarif)).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let digest = rules.iter().find(|r| r["id"] == "digest-required").unwrap();
    assert_eq!(digest["properties"]["security-severity"], "8.0");
    let tags: Vec<&str> = digest["properties"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        ["security", "kubernetes", "container-image", "supply-chain"]
    );
    // Every rule is tagged, even one the caller did not document.
    assert!(rules
        .iter()
        .all(|r| r["properties"]["tags"][0] == "security"));

    // Two findings about two files of the repository are two alerts, and their message says
    // no empty "In environment , app ." of a cell they do not have.
    let mut a = ReportFinding::new(
        "values-file-unused",
        Severity::Warning,
        "a is read by no cell",
        "",
        "",
        "",
    );
    a.origin = Some(imagegate_report::Origin::new("values/a.yaml", 1));
    let mut b = a.clone();
    b.message = "b is read by no cell".into();
    b.origin = Some(imagegate_report::Origin::new("values/b.yaml", 1));
    let report = Report::new(Generator::new("imagegate", "0.1.0"), vec![a, b], vec![]);
    let rules = common::rules();
    let options = FormatOptions {
        text: TextOptions::default(),
        rules: &rules,
        path_prefix: "",
    };
    let out = render_to_string(&*Format::Sarif.renderer(&options), &report).unwrap();
    let sarif: serde_json::Value = serde_json::from_str(&out).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_ne!(
        results[0]["partialFingerprints"],
        results[1]["partialFingerprints"]
    );
    for r in results {
        let text = r["message"]["text"].as_str().unwrap();
        assert!(!text.contains("In environment"), "{text}");
        assert!(text.ends_with("is read by no cell."), "{text}");
    }
}
