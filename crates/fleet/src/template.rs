//! `{placeholder}` substitution in path and name templates.

use std::collections::BTreeMap;

/// Replaces every `{name}` in `template` with `vars[name]`. Returns the unknown placeholder's
/// name as the error when one has no value. `{{` and `}}` are not special: braces only delimit
/// a placeholder when they enclose a name of letters, digits, `_`, `-` or `.`; anything else is
/// kept as it is (globs such as `{apps,data}` pass through untouched).
pub fn render_template(template: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                let name = &after[..close];
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => return Err(name.to_string()),
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [("env", "dev"), ("name", "web")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    }

    #[test]
    fn substitutes_and_reports_unknown() {
        assert_eq!(
            render_template("values/{env}/{name}.yaml", &vars()).unwrap(),
            "values/dev/web.yaml"
        );
        assert_eq!(render_template("{nope}.yaml", &vars()).unwrap_err(), "nope");
    }

    #[test]
    fn leaves_glob_alternations_alone() {
        assert_eq!(
            render_template("c/{apps,data}/**/x.yaml", &vars()).unwrap(),
            "c/{apps,data}/**/x.yaml"
        );
        assert_eq!(render_template("a{", &vars()).unwrap(), "a{");
    }
}
