use super::*;
use std::io::Write;

fn call(text: &str) -> Option<String> {
    volatile_call(text.as_bytes())
}

#[test]
fn calls_are_found_however_they_are_written() {
    let cases = [
        ("{{ now }}", "now"),
        ("{{now}}", "now"),
        ("{{- now -}}", "now"),
        ("{{-\tnow\t-}}", "now"),
        ("{{ now | unixEpoch }}", "now"),
        ("{{ 1 | date \"2006\" }}", "date"),
        ("{{ (now) }}", "now"),
        ("{{ .Values.x | default now }}", "now"),
        ("{{ printf \"%d\" (randInt 0 9) }}", "randInt"),
        ("{{ randAlphaNum 8 }}", "randAlphaNum"),
        ("{{ randSomethingNew 8 }}", "randSomethingNew"),
        ("{{\n  uuidv4\n}}", "uuidv4"),
        ("{{ $x := genCA \"x\" 365 }}{{ $x.Cert }}", "genCA"),
        ("{{ list 1 2 | shuffle }}", "shuffle"),
        ("{{ lookup \"v1\" \"Secret\" \"ns\" \"n\" }}", "lookup"),
        ("{{ tpl .Values.raw . }}", "tpl"),
        ("{{ .Values.raw | tpl . }}", "tpl"),
        ("{{ toDate \"2006-01-02\" \"2024-01-01\" | ago }}", "toDate"),
        ("{{ dateInZone \"2006\" (now) \"UTC\" }}", "dateInZone"),
        ("{{ date_in_zone \"2006\" 0 \"UTC\" }}", "date_in_zone"),
        ("{{ htpasswd \"u\" \"p\" }}", "htpasswd"),
        (
            "image: app{{ if gt (now | unixEpoch) 1767225600 }}:latest{{ else }}@sha256:0{{ end }}",
            "now",
        ),
        // In a named template of a helpers file, behind plain text and other actions.
        (
            "# helpers\n{{- define \"x.tag\" -}}\n{{ .Values.tag | default (now | date \"150405\") }}\n{{- end }}",
            "now",
        ),
    ];
    for (text, name) in cases {
        assert_eq!(call(text).as_deref(), Some(name), "{text}");
    }
}

#[test]
fn fields_variables_and_plain_text_are_not_calls() {
    let calm = [
        "now is the time; date: 2024-01-01; tpl and lookup are words",
        "{{ .Values.now }}",
        "{{ .Values.date.now }}",
        "{{ $now := 1 }}{{ $now }}",
        "{{ $.Values.tpl }}",
        "{{ include \"app.lookup\" . }}",
        "{{ .Values.nowhere | default \"x\" }}",
        "{{ template \"x\" .}} now",
        "{{ \"\\\"}}\" }} now",
        // What `helm create` writes.
        "{{- define \"web.fullname\" -}}\n{{- if .Values.fullnameOverride }}\n{{- .Values.fullnameOverride | trunc 63 | trimSuffix \"-\" }}\n{{- else }}\n{{- $name := default .Chart.Name .Values.nameOverride }}\n{{- printf \"%s-%s\" .Release.Name $name | trunc 63 | trimSuffix \"-\" }}\n{{- end }}\n{{- end }}\n{{- toYaml .Values.resources | nindent 12 }}",
    ];
    for text in calm {
        assert_eq!(call(text), None, "{text}");
    }
}

#[test]
fn text_that_go_reads_as_an_action_is_never_read_as_plain_text() {
    // Each of these calls `now` for Go's text/template. A scanner that ends an action at the
    // first `}}`, or that does not know comments, reads the call as plain text.
    let tricky = [
        "{{ print \"}}\" now }}",
        "{{ print `}}` now }}",
        "{{ print '}' now }}",
        "{{ print \"\\\"}}\" now }}",
        "{{/* \" */}}{{ print \"}}\" now }}",
        "{{- /* }} */ -}}{{ now }}",
        "{{/* a comment that mentions }} */}}{{ print \"}}\" now }}",
        // Unterminated: Go refuses to parse it, the scan reads on as code.
        "{{ now",
        "{{/* never closed now",
    ];
    for text in tricky {
        assert_eq!(call(text).as_deref(), Some("now"), "{text}");
    }
    // Erring on the side of not caching: strings and comments inside actions count.
    assert_eq!(call("{{ \"now\" }}").as_deref(), Some("now"));
    assert_eq!(call("{{/* now */}}").as_deref(), Some("now"));
}

/// A gzip-compressed tar of `files`, as `helm package` writes a chart.
fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, path, *data).unwrap();
    }
    gzip(&tar.into_inner().unwrap())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn scan(name: &str, bytes: &[u8]) -> Option<String> {
    let mut s = Scanner::default();
    s.file(name, bytes);
    s.finish().map(|v| v.reason)
}

#[test]
fn vendored_subchart_archives_are_scanned_nested_ones_too() {
    let sub = tgz(&[
        (
            "sub/Chart.yaml",
            b"apiVersion: v2\nname: sub\nversion: 1.0.0\n",
        ),
        ("sub/templates/cm.yaml", b"data: {t: {{ now | quote }}}\n"),
    ]);
    let why = scan("charts/sub-1.0.0.tgz", &sub).expect("the archive's template calls now");
    assert!(
        why.contains("charts/sub-1.0.0.tgz") && why.contains("`now`"),
        "{why}"
    );

    let calm = tgz(&[(
        "sub/templates/cm.yaml",
        b"data: {t: {{ .Values.t | quote }}}\n",
    )]);
    assert_eq!(scan("charts/sub-1.0.0.tgz", &calm), None);

    // A subchart of a subchart, whatever the file is called.
    let outer = tgz(&[
        (
            "mid/Chart.yaml",
            b"apiVersion: v2\nname: mid\nversion: 1.0.0\n",
        ),
        ("mid/charts/sub-1.0.0.tgz", &sub),
    ]);
    assert!(scan("charts/mid.bin", &outer).is_some());
    assert_eq!(
        scan(
            "charts/mid.tgz",
            &tgz(&[("mid/charts/sub-1.0.0.tgz", &calm)])
        ),
        None
    );
}

#[test]
fn a_template_in_a_second_gzip_member_is_found() {
    // Go's gzip reader reads concatenated members as one stream; a reader that stops after
    // the first one would never see the second member's template.
    let mut tar = tar::Builder::new(Vec::new());
    let add = |tar: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, path, data).unwrap();
    };
    add(&mut tar, "sub/Chart.yaml", b"apiVersion: v2\nname: sub\n");
    let first = tar.get_ref().clone();
    add(&mut tar, "sub/templates/t.yaml", b"t: {{ randAlpha 5 }}\n");
    let whole = tar.into_inner().unwrap();
    let mut two = gzip(&first);
    two.extend(gzip(&whole[first.len()..]));
    assert!(scan("charts/sub.tgz", &two)
        .unwrap()
        .contains("`randAlpha`"));
}

#[test]
fn archives_that_cannot_be_read_as_go_reads_them_are_volatile() {
    let calm = tgz(&[("sub/templates/cm.yaml", b"data: {}\n")]);
    let raw = {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&calm[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let with = |t: u8, name: &[u8]| {
        let mut tar = raw.clone();
        tar[156] = t;
        tar[..100].fill(0);
        tar[..name.len()].copy_from_slice(name);
        // Fix the checksum for the changed type.
        let sum: u32 = tar[..512]
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        tar[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        gzip(&tar)
    };
    for (what, bytes) in [
        ("sparse", with(b'S', b"sub/t.yaml")),
        ("a directory with data", with(b'5', b"sub/t.yaml")),
        ("a legacy folder with data", with(0, b"sub/t/")),
        ("a legacy entry without a name", with(0, b"")),
        ("a PAX header", {
            // A PAX header whose size record would move the next header.
            let mut tar = tar::Builder::new(Vec::new());
            tar.append_pax_extensions([("size", &b"9"[..])]).unwrap();
            let mut h = tar::Header::new_ustar();
            h.set_size(3);
            h.set_cksum();
            tar.append_data(&mut h, "sub/x", &b"abc"[..]).unwrap();
            gzip(&tar.into_inner().unwrap())
        }),
        ("truncated in the padding", gzip(&raw[..700])),
        ("truncated in the data", gzip(&raw[..515])),
        ("a bad checksum", {
            let mut tar = raw.clone();
            tar[0] ^= 1;
            gzip(&tar)
        }),
        ("not gzip after all", {
            let mut b = calm.clone();
            b.truncate(b.len() - 9);
            b
        }),
    ] {
        let why = scan("charts/sub.tgz", &bytes).unwrap_or_else(|| panic!("{what}"));
        assert!(
            why.contains("cannot be scanned") || why.contains("cannot be unpacked"),
            "{what}: {why}"
        );
    }
    assert_eq!(scan("charts/sub.tgz", &calm), None, "the untouched archive");
    // A legacy (V7) file entry is a file: its data is scanned.
    assert_eq!(scan("charts/sub.tgz", &with(0, b"sub/t.yaml")), None);
    let mut v7 = raw.clone();
    v7[512..512 + 9].copy_from_slice(b"{{ now }}");
    v7[156] = 0;
    let sum: u32 = v7[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    v7[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    assert!(scan("charts/sub.tgz", &gzip(&v7))
        .unwrap()
        .contains("`now`"));
}

#[test]
fn archives_too_large_or_too_deep_to_scan_are_volatile() {
    // Zeros compress to almost nothing: a small file that unpacks past the bound.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 3 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 64 << 10);
    let mut small = Scanner {
        max_unpacked: 2 << 20,
        ..Scanner::default()
    };
    small.file("charts/bomb.tgz", &bomb);
    let why = small.finish().unwrap().reason;
    assert!(why.contains("more than 2 MiB"), "{why}");
    // The bound is over all archives of a chart, not per archive.
    let part = tgz(&[("x/t.yaml", &vec![b'a'; 1 << 20])]);
    let mut small = Scanner {
        max_unpacked: (2 << 20) + 8192,
        ..Scanner::default()
    };
    small.file("charts/a.tgz", &part);
    small.file("charts/b.tgz", &part);
    assert!(!small.found());
    small.file("charts/c.tgz", &part);
    assert!(small.found());

    let mut nested = tgz(&[("x/templates/t.yaml", b"{{ .Values.x }}")]);
    for _ in 0..MAX_ARCHIVE_DEPTH {
        nested = tgz(&[("x/charts/x.tgz", &nested)]);
    }
    assert!(scan("charts/x.tgz", &nested).unwrap().contains("deep"));
}

#[test]
fn the_first_finding_of_a_chart_is_kept() {
    let mut s = Scanner::default();
    s.file("charts/web/templates/a.yaml", b"{{ .Values.a }}");
    assert!(!s.found());
    s.file("charts/web/templates/b.yaml", b"{{ uuidv4 }}");
    s.file("charts/web/templates/c.yaml", b"{{ now }}");
    assert_eq!(
        s.finish().unwrap().reason,
        "charts/web/templates/b.yaml calls `uuidv4`"
    );
}

#[test]
fn the_documentation_names_every_volatile_function() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/diff.md"))
        .unwrap();
    for f in VOLATILE_FUNCTIONS {
        assert!(
            doc.contains(&format!("`{f}`")),
            "docs/diff.md does not name `{f}`"
        );
    }
}
