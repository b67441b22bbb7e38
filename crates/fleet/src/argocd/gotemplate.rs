//! ApplicationSets with `goTemplate: true`: Go's `text/template` with sprig, as Argo CD's
//! `applicationset/utils/utils.go` (`Render.Replace`) runs it on every string of the template
//! (keys too) per parameter set.
//!
//! The templates are evaluated by Go itself, never here: this crate hands every string that
//! holds `{{` and every parameter set to a [`GoTemplates`] evaluator (the engine's runs them
//! through helm, whose templates are Go's `text/template` with sprig). What is decided here is
//! what the evaluator alone cannot make faithful, read off the template's tokens with Go's own
//! lexical rules ([`lex`]):
//!
//! - **The function map.** Argo CD gives templates sprig's functions less `env`, `expandenv`
//!   and `getHostByName`, plus `normalize`, `slugify`, `toYaml`, `fromYaml` and
//!   `fromYamlArray`. helm's map has more (`include`, `tpl`, `required`, `lookup`, `toToml`,
//!   …): a template that calls one of those fails in Argo CD (`function "include" not
//!   defined`), so it is that error here too. `fromJson`, `fromYaml` and `fromYamlArray` differ
//!   between helm and Argo CD on some inputs, and `slugify` (gosimple/slug) has no equivalent
//!   in helm: they are refused. `normalize` the evaluator must provide itself ([`ARGO_ONLY`]).
//! - **`define`, `block` and `template`**, which would reach past one string: refused.
//! - **`missingkey=error`.** helm evaluates with `missingkey=zero`, where a missing key is
//!   nil instead of an error; the two differ only when a lookup misses. So with
//!   `missingkey=error` every field chain of the template (`.path.basename`, `$.values.x`) is
//!   looked up in each parameter set first: a chain that misses where the template always
//!   evaluates it is Argo CD's error (`map has no entry for key`); one that misses under a
//!   condition, or a chain on something other than the parameters, is refused, since only
//!   running it would tell.

use std::ops::Range;

/// Evaluates Go templates as Argo CD does: each template against each parameter set.
pub trait GoTemplates: Sync {
    /// Every template of `job` executed with every parameter set as its data (`.` and `$`),
    /// with Argo CD's function map ([`ARGO_ONLY`] included) and `missingkey=zero`:
    /// `result[element][template]`. The first failure ends the run.
    fn evaluate(&self, job: &GoTemplateJob) -> Result<Vec<Vec<String>>, GoTemplateFailure>;
}

/// One evaluation: the templates of one ApplicationSet and all its parameter sets.
#[derive(Debug, Clone, PartialEq)]
pub struct GoTemplateJob {
    /// The ApplicationSet, for messages.
    pub name: String,
    /// The templates, as written.
    pub templates: Vec<String>,
    /// One JSON object per parameter set.
    pub params: Vec<serde_json::Value>,
}

/// Why an evaluation failed: which parameter set and template, when known, and Go's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoTemplateFailure {
    /// The parameter set, when the failure is one template's on it.
    pub element: Option<usize>,
    /// The template, when known.
    pub template: Option<usize>,
    /// What went wrong (Go's own message for a template error).
    pub message: String,
}

/// The functions Argo CD's templates have and helm's lack; the evaluator defines them.
pub const ARGO_ONLY: [&str; 1] = ["normalize"];

/// Functions helm gives templates and Argo CD does not: calling one fails in Argo CD.
const HELM_ONLY: [&str; 24] = [
    "include",
    "tpl",
    "required",
    "lookup",
    "toToml",
    "mustToToml",
    "fromToml",
    "mustToYaml",
    "toYamlPretty",
    "fromJsonArray",
    "getHostByName",
    "env",
    "expandenv",
    "mustToDuration",
    "durationSeconds",
    "durationMilliseconds",
    "durationMicroseconds",
    "durationNanoseconds",
    "durationMinutes",
    "durationHours",
    "durationDays",
    "durationWeeks",
    "durationRoundTo",
    "durationTruncateTo",
];

/// Functions both have but helm's differs from Argo CD's on some inputs, or that only Argo CD
/// has and that have no faithful equivalent in helm.
const UNFAITHFUL: [(&str, &str); 4] = [
    ("fromJson", "helm's fromJson returns a map with an `Error` key where Argo CD's (sprig's) returns the parsed value or nil; use mustFromJson, which both share"),
    ("fromYaml", "helm's fromYaml returns a map with an `Error` key on invalid YAML where Argo CD's fails"),
    ("fromYamlArray", "helm's fromYamlArray returns the error as an item on invalid YAML where Argo CD's fails"),
    ("slugify", "Argo CD's slugify (gosimple/slug) has no equivalent imagegate can run; use normalize, or lower and regexReplaceAll"),
];

/// Go's `text/template` keywords (and the constants the lexer gives their own items).
const KEYWORDS: [&str; 13] = [
    "block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template",
    "with", "true", "false",
];

/// A token inside an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A function name.
    Function(String),
    /// A keyword (`if`, `end`, …) or `true`, `false`, `nil`.
    Keyword(String),
    /// `.name` (the name without its dot; empty for `.` itself).
    Field(String),
    /// `$` or `$name`.
    Variable(String),
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// Anything else: a string, number, `|`, `:=`, `,`.
    Other,
}

/// One action (`{{ … }}`) of a template: its tokens with their byte ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The tokens, in order; a comment has none.
    pub tokens: Vec<(Token, Range<usize>)>,
}

/// The actions of a Go template, as `text/template/parse`'s lexer splits them (`{{`/`}}`, the
/// `{{- `/` -}}` trim markers, `/* */` comments, quoted, raw and character strings); an error
/// in Go's words for an action that does not close or a string that does not end.
pub fn lex(text: &str) -> Result<Vec<Action>, String> {
    let b = text.as_bytes();
    let mut actions = Vec::new();
    let mut i = 0;
    let space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    while let Some(open) = text[i..].find("{{").map(|o| o + i) {
        i = open + 2;
        if b.get(i) == Some(&b'-') && b.get(i + 1).copied().is_some_and(space) {
            i += 2;
            while b.get(i).copied().is_some_and(space) {
                i += 1;
            }
        }
        let mut tokens = Vec::new();
        if text[i..].starts_with("/*") {
            let Some(end) = text[i + 2..].find("*/") else {
                return Err("unclosed comment".into());
            };
            i += 2 + end + 2;
            if text[i..].starts_with("}}") {
                i += 2;
            } else if b.get(i).copied().is_some_and(space) && text[i + 1..].starts_with("-}}") {
                i += 4;
            } else {
                return Err("comment ends before closing delimiter".into());
            }
            actions.push(Action { tokens });
            continue;
        }
        loop {
            if b.get(i).copied().is_some_and(space) && text[i + 1..].starts_with("-}}") {
                i += 4;
                break;
            }
            if text[i..].starts_with("}}") {
                i += 2;
                break;
            }
            let Some(&c) = b.get(i) else {
                return Err("unclosed action".into());
            };
            let start = i;
            let word = |from: usize| {
                let mut j = from;
                while let Some(ch) = text[j..].chars().next() {
                    if ch == '_' || ch.is_alphanumeric() {
                        j += ch.len_utf8();
                    } else {
                        break;
                    }
                }
                j
            };
            match c {
                _ if space(c) => {
                    i += 1;
                    continue;
                }
                b'(' => {
                    i += 1;
                    tokens.push((Token::Open, start..i));
                    continue;
                }
                b')' => {
                    i += 1;
                    tokens.push((Token::Close, start..i));
                    continue;
                }
                b'"' | b'\'' => {
                    let quote = c;
                    i += 1;
                    loop {
                        match b.get(i) {
                            None | Some(b'\n') => {
                                return Err(if quote == b'"' {
                                    "unterminated quoted string".into()
                                } else {
                                    "unterminated character constant".into()
                                })
                            }
                            Some(b'\\') => i += 2,
                            Some(&q) if q == quote => {
                                i += 1;
                                break;
                            }
                            Some(_) => i += 1,
                        }
                    }
                }
                b'`' => {
                    let Some(end) = text[i + 1..].find('`') else {
                        return Err("unterminated raw quoted string".into());
                    };
                    i += 1 + end + 1;
                }
                b'$' => {
                    i = word(i + 1);
                    tokens.push((Token::Variable(text[start + 1..i].to_string()), start..i));
                    continue;
                }
                b'.' if !b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    i = word(i + 1);
                    tokens.push((Token::Field(text[start + 1..i].to_string()), start..i));
                    continue;
                }
                b'+' | b'-' | b'.' | b'0'..=b'9' => {
                    i += 1;
                    while let Some(&d) = b.get(i) {
                        let exponent = matches!(b[i - 1], b'e' | b'E' | b'p' | b'P');
                        if d.is_ascii_alphanumeric()
                            || d == b'_'
                            || d == b'.'
                            || (exponent && matches!(d, b'+' | b'-'))
                        {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
                _ if c == b'_' || text[i..].chars().next().is_some_and(char::is_alphabetic) => {
                    i = word(i);
                    let name = &text[start..i];
                    let token = if KEYWORDS.contains(&name) {
                        Token::Keyword(name.to_string())
                    } else {
                        Token::Function(name.to_string())
                    };
                    tokens.push((token, start..i));
                    continue;
                }
                _ if c.is_ascii_graphic() => i += 1,
                _ => return Err("unrecognized character in action".into()),
            }
            tokens.push((Token::Other, start..i));
        }
        actions.push(Action { tokens });
    }
    Ok(actions)
}

/// A field chain rooted in the parameters (`.a.b` where `.` is them, or `$.a.b`), and whether
/// every evaluation of the template evaluates it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Chain {
    keys: Vec<String>,
    always: bool,
}

/// What one template needs checked per parameter set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    chains: Vec<Chain>,
    /// Why some lookups cannot be decided before running (a chain on a variable or a result,
    /// or under `range`/`with`), if any.
    opaque: Option<String>,
}

/// The checks of one template that need no parameters: the function map, the keywords that
/// reach past one string, the balance of blocks (so that one template cannot close another).
pub(crate) fn check(text: &str) -> Result<Checked, String> {
    let actions = lex(text).map_err(|m| format!("template: {m}"))?;
    let mut blocks: Vec<&str> = Vec::new();
    let mut chains = Vec::new();
    let mut opaque = None;
    for action in &actions {
        let toks = &action.tokens;
        let first = toks.first().map(|(t, _)| t);
        let short_circuit = toks
            .iter()
            .any(|(t, _)| matches!(t, Token::Function(f) if f == "and" || f == "or"));
        // The opening action of a block is evaluated where the block is; else-branches are not.
        let always = blocks.is_empty()
            && !short_circuit
            && !matches!(first, Some(Token::Keyword(k)) if k == "else");
        let rebound = blocks.iter().any(|b| *b == "range" || *b == "with");
        for (i, (token, span)) in toks.iter().enumerate() {
            match token {
                Token::Keyword(k) if matches!(k.as_str(), "define" | "block" | "template") => {
                    return Err(format!(
                        "`{{{{{k}}}}}` is not evaluated: each string of an ApplicationSet's template is its own Go template, and imagegate does not follow named templates between them"
                    ));
                }
                Token::Function(f) if HELM_ONLY.contains(&f.as_str()) => {
                    return Err(format!(
                        "template: function \"{f}\" not defined (Argo CD's templates have sprig's functions and normalize, slugify, toYaml, fromYaml, fromYamlArray; `{f}` is not one of them)"
                    ));
                }
                Token::Function(f) => {
                    if let Some((_, why)) = UNFAITHFUL.iter().find(|(n, _)| n == f) {
                        return Err(format!("`{f}` is not evaluated: {why}"));
                    }
                }
                Token::Field(name) => {
                    let adjacent = |j: usize| toks.get(j).filter(|(_, s)| s.end == span.start);
                    let follows_field =
                        i > 0 && matches!(adjacent(i - 1), Some((Token::Field(_), _)));
                    if follows_field {
                        continue;
                    }
                    let mut keys = vec![name.clone()];
                    let mut end = span.end;
                    for (t, s) in &toks[i + 1..] {
                        match t {
                            Token::Field(n) if s.start == end => {
                                keys.push(n.clone());
                                end = s.end;
                            }
                            _ => break,
                        }
                    }
                    if keys.first().is_some_and(String::is_empty) {
                        keys.remove(0);
                    }
                    if keys.is_empty() {
                        // `.` itself looks nothing up.
                        continue;
                    }
                    let root = if i > 0 { adjacent(i - 1) } else { None };
                    match root.map(|(t, _)| t) {
                        Some(Token::Variable(v)) if v.is_empty() => {}
                        None if !rebound => {}
                        None => {
                            opaque.get_or_insert_with(|| {
                                format!(
                                    "`.{}` is under range or with, where `.` is not the parameters",
                                    keys.join(".")
                                )
                            });
                        }
                        Some(_) => {
                            opaque.get_or_insert_with(|| {
                                format!(
                                    "`{}.{}` is looked up on a variable or a result",
                                    &text[root.map_or(span.start, |(_, s)| s.start)..span.start],
                                    keys.join(".")
                                )
                            });
                        }
                    }
                    let on_params = match root.map(|(t, _)| t) {
                        Some(Token::Variable(v)) => v.is_empty(),
                        None => !rebound,
                        Some(_) => false,
                    };
                    if on_params {
                        chains.push(Chain { keys, always });
                    }
                }
                _ => {}
            }
        }
        match first {
            Some(Token::Keyword(k)) if matches!(k.as_str(), "if" | "range" | "with") => {
                blocks.push(if k == "if" {
                    "if"
                } else if k == "range" {
                    "range"
                } else {
                    "with"
                });
            }
            Some(Token::Keyword(k)) if k == "end" && blocks.pop().is_none() => {
                return Err("template: unexpected {{end}}".into());
            }
            Some(Token::Keyword(k)) if k == "else" && blocks.is_empty() => {
                return Err("template: unexpected {{else}}".into());
            }
            _ => {}
        }
    }
    if !blocks.is_empty() {
        return Err("template: unexpected EOF".into());
    }
    Ok(Checked { chains, opaque })
}

impl Checked {
    /// With `missingkey=error`: Argo CD's error when a chain the template always evaluates
    /// misses in `params`, or a refusal when one might (under a condition, or not decidable).
    pub(crate) fn missing_key(&self, params: &serde_json::Value) -> Result<(), String> {
        for chain in &self.chains {
            let mut at = params;
            for key in &chain.keys {
                let Some(object) = at.as_object() else {
                    // Not a map: Go's error (or value) is the same in every missingkey mode.
                    break;
                };
                match object.get(key) {
                    Some(next) => at = next,
                    None if chain.always => {
                        return Err(format!(
                            "template: executing at <.{}>: map has no entry for key \"{key}\"",
                            chain.keys.join(".")
                        ))
                    }
                    None => {
                        return Err(format!(
                            "with missingkey=error, whether Argo CD fails depends on a condition: `.{}` has no `{key}` in this element, and the lookup is under an if, else, and or or",
                            chain.keys.join(".")
                        ))
                    }
                }
            }
        }
        if let Some(why) = &self.opaque {
            return Err(format!(
                "with missingkey=error, imagegate cannot tell before running whether a key is missing: {why}"
            ));
        }
        Ok(())
    }
}

/// `text` with every call of `name` (a function token) replaced by `with`: how an evaluator
/// whose function map lacks an Argo CD function substitutes its own (`normalize` →
/// `include "argocd.normalize"`, which a pipeline calls with the same last argument).
pub fn rename_function(text: &str, name: &str, with: &str) -> String {
    let Ok(actions) = lex(text) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for action in &actions {
        for (token, span) in &action.tokens {
            if matches!(token, Token::Function(f) if f == name) {
                out.push_str(&text[last..span.start]);
                out.push_str(with);
                last = span.end;
            }
        }
    }
    out.push_str(&text[last..]);
    out
}

/// The `goTemplateOptions` Argo CD passes to `Template.Option`, checked: Go panics on any
/// other option, so Argo CD cannot render the ApplicationSet. Returns whether
/// `missingkey=error` is set (the last `missingkey` wins, as in Go).
pub(crate) fn missing_key_error(options: &[String]) -> Result<bool, String> {
    let mut error = false;
    for option in options {
        match option.as_str() {
            "missingkey=error" => error = true,
            "missingkey=default" | "missingkey=invalid" | "missingkey=zero" => error = false,
            other => {
                return Err(format!(
                    "goTemplateOptions: `{other}` is not an option of Go's text/template (missingkey=default, invalid, zero or error)"
                ))
            }
        }
    }
    Ok(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tokens(text: &str) -> Vec<Token> {
        lex(text)
            .unwrap()
            .into_iter()
            .flat_map(|a| a.tokens.into_iter().map(|(t, _)| t))
            .collect()
    }

    #[test]
    fn the_lexer_follows_go() {
        assert_eq!(
            tokens("a {{- .path.basename | normalize -}} b {{/* c }} */}}{{ $.x }}"),
            [
                Token::Field("path".into()),
                Token::Field("basename".into()),
                Token::Other,
                Token::Function("normalize".into()),
                Token::Variable(String::new()),
                Token::Field("x".into()),
            ]
        );
        // `{{-3}}` is the number -3, not a trim marker; strings hide their braces.
        assert_eq!(
            tokens("{{-3}}{{ \"}}\" }}{{ `}}` }}"),
            [Token::Other, Token::Other, Token::Other]
        );
        assert_eq!(tokens("{{ .a.b.0 }}").len(), 3);
        assert_eq!(lex("{{ .a").unwrap_err(), "unclosed action");
        assert_eq!(lex("{{ \"a }}").unwrap_err(), "unterminated quoted string");
        assert_eq!(
            lex("{{/* a */ x }}").unwrap_err(),
            "comment ends before closing delimiter"
        );
        assert!(lex("no actions, just { braces }").unwrap().is_empty());
    }

    #[test]
    fn functions_argo_cd_lacks_fail_and_unfaithful_ones_are_refused() {
        assert!(check("{{ .a | lower | trunc 3 }}").is_ok());
        let e = check("{{ include \"x\" . }}").unwrap_err();
        assert!(
            e.starts_with("template: function \"include\" not defined"),
            "{e}"
        );
        assert!(check("{{ required \"m\" .a }}").is_err());
        assert!(check("{{ lookup \"v1\" \"Pod\" \"\" \"\" }}").is_err());
        assert!(check("{{ .a | fromJson }}")
            .unwrap_err()
            .contains("mustFromJson"));
        assert!(check("{{ slugify .a }}").is_err());
        assert!(check("{{ define \"x\" }}{{ end }}").is_err());
        // A string cannot close the named template it is wrapped in.
        assert_eq!(
            check("{{ end }}").unwrap_err(),
            "template: unexpected {{end}}"
        );
        assert_eq!(
            check("{{ if .a }}").unwrap_err(),
            "template: unexpected EOF"
        );
        // A field named like a helm function is only a field.
        assert!(check("{{ .include }}").is_ok());
    }

    #[test]
    fn missing_keys_are_argo_cds_error_where_always_evaluated() {
        let params = json!({"path": {"basename": "web"}, "name": "a", "list": ["x"]});
        let ok = check("{{ .path.basename }}-{{ $.name }}{{ .list.foo }}").unwrap();
        assert_eq!(ok.missing_key(&params), Ok(()));
        let missing = check("x{{ .path.nope }}").unwrap();
        assert_eq!(
            missing.missing_key(&params).unwrap_err(),
            "template: executing at <.path.nope>: map has no entry for key \"nope\""
        );
        let conditional = check("{{ if .name }}{{ .nope }}{{ end }}").unwrap();
        assert!(conditional
            .missing_key(&params)
            .unwrap_err()
            .contains("depends on a condition"));
        // The condition of a top-level `if` is always evaluated.
        assert!(check("{{ if .nope }}{{ end }}")
            .unwrap()
            .missing_key(&params)
            .unwrap_err()
            .contains("map has no entry"));
        let opaque = check("{{ range .list }}{{ .x }}{{ end }}").unwrap();
        assert!(opaque
            .missing_key(&params)
            .unwrap_err()
            .contains("range or with"));
        // A range without field chains inside needs nothing decided.
        assert!(check("{{ range .list }}{{ . }}{{ end }}")
            .unwrap()
            .missing_key(&params)
            .is_ok());
    }

    #[test]
    fn functions_are_renamed_only_where_called() {
        assert_eq!(
            rename_function(
                "normalize {{ .normalize | normalize }}{{ normalize \"normalize\" }}",
                "normalize",
                "include \"n\""
            ),
            "normalize {{ .normalize | include \"n\" }}{{ include \"n\" \"normalize\" }}"
        );
    }

    #[test]
    fn options_are_go_options() {
        assert_eq!(missing_key_error(&[]), Ok(false));
        assert_eq!(missing_key_error(&["missingkey=error".into()]), Ok(true));
        assert!(missing_key_error(&["missingkey=nope".into()]).is_err());
    }
}
