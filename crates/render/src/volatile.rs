//! Finds charts whose render is not a function of their files: templates that call the clock,
//! a random source, the network or `tpl` (which runs template text built at render time).
//!
//! Such a render must never be stored in the render cache: a cached
//! `{{ if gt (now | unixEpoch) 1767225600 }}:latest{{ else }}@sha256:…{{ end }}` would pass every
//! later run. The scan errs on the side of not caching:
//!
//! - every file of the chart folder is scanned (not only `templates/`: `_helpers.tpl`, subchart
//!   folders under `charts/`, and files read with `.Files.Get`), and every gzip archive among
//!   them (a vendored `charts/*.tgz`, whatever its name) is unpacked and scanned too, nested
//!   archives included;
//! - inside template actions (`{{ … }}`, comments and string literals included) every
//!   identifier that is not a field (`.now`) or a variable (`$now`) counts, whatever surrounds
//!   it (`|`, parentheses, whitespace, `-` trim markers);
//! - the lexer follows Go's `text/template` rules for delimiters, comments and quotes, so text
//!   that Go reads as an action is never read as plain text here;
//! - an archive that cannot be read exactly as Go's `archive/tar` would read it (sparse files,
//!   PAX size overrides, corrupt headers), or that is too large or too deeply nested to scan,
//!   counts as volatile.

use std::io::Read;

/// Functions whose result depends on the time, the machine's time zone, a random source or the
/// network, and `tpl` (its template text may be built at render time from values, so no scan of
/// the chart's files could see what it calls). Any other identifier starting with `rand` counts
/// too.
pub const VOLATILE_FUNCTIONS: &[&str] = &[
    // time and time zone
    "now",
    "date",
    "dateInZone",
    "date_in_zone",
    "dateModify",
    "date_modify",
    "mustDateModify",
    "must_date_modify",
    "unixEpoch",
    "ago",
    "durationRound",
    "htmlDate",
    "htmlDateInZone",
    "toDate",
    "mustToDate",
    // randomness (and any other identifier starting with `rand`)
    "randAlpha",
    "randAlphaNum",
    "randAscii",
    "randNumeric",
    "randInt",
    "randBytes",
    "uuidv4",
    "shuffle",
    "genPrivateKey",
    "genCA",
    "genCAWithKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "derivePassword",
    "encryptAES",
    "bcrypt",
    "htpasswd",
    // the cluster and the network
    "lookup",
    "getHostByName",
    // template text that only exists at render time
    "tpl",
];

/// Most bytes unpacked from the archives of one chart (helm refuses a chart that unpacks to more
/// than 100 MiB).
const MAX_UNPACKED_BYTES: u64 = 128 * 1024 * 1024;
/// Deepest nesting of archives in archives.
const MAX_ARCHIVE_DEPTH: usize = 8;
/// Largest single file scanned; a larger one makes the chart volatile.
pub const MAX_SCANNED_FILE_BYTES: u64 = 32 * 1024 * 1024;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// Why a chart's render cannot be reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volatile {
    /// What was found, e.g. "calls `now`" or "holds an archive that cannot be scanned (…)".
    pub reason: String,
}

/// Scans the files of one chart; [`Scanner::file`] for each, [`Scanner::finish`] at the end.
#[derive(Debug)]
pub struct Scanner {
    unpacked: u64,
    max_unpacked: u64,
    found: Option<Volatile>,
}

impl Default for Scanner {
    fn default() -> Self {
        Self {
            unpacked: 0,
            max_unpacked: MAX_UNPACKED_BYTES,
            found: None,
        }
    }
}

impl Scanner {
    /// Scans one file of the chart (`shown` names it in the reason).
    pub fn file(&mut self, shown: &str, bytes: &[u8]) {
        if self.found.is_some() {
            return;
        }
        if let Err(reason) = self.scan(bytes, 0) {
            self.found = Some(Volatile {
                reason: format!("{shown} {reason}"),
            });
        }
    }

    /// Marks the chart volatile for a reason found outside the scan (a file too large to read).
    pub fn give_up(&mut self, reason: String) {
        if self.found.is_none() {
            self.found = Some(Volatile { reason });
        }
    }

    /// Whether anything volatile was found.
    pub fn found(&self) -> bool {
        self.found.is_some()
    }

    /// The verdict: `None` when the chart renders the same from the same files every time.
    pub fn finish(self) -> Option<Volatile> {
        self.found
    }

    fn scan(&mut self, bytes: &[u8], depth: usize) -> Result<(), String> {
        if let Some(name) = volatile_call(bytes) {
            return Err(format!("calls `{name}`"));
        }
        if bytes.starts_with(GZIP_MAGIC) {
            if depth >= MAX_ARCHIVE_DEPTH {
                return Err(format!(
                    "nests archives more than {MAX_ARCHIVE_DEPTH} deep, which is not scanned"
                ));
            }
            let tar = self.gunzip(bytes)?;
            for entry in tar_entries(&tar)? {
                self.scan(entry, depth + 1)
                    .map_err(|e| format!("(in an archive) {e}"))?;
            }
        }
        Ok(())
    }

    /// Every gzip member of `bytes`, concatenated, as Go's `compress/gzip` reads them.
    fn gunzip(&mut self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let left = self.max_unpacked.saturating_sub(self.unpacked);
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(left + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("holds an archive that cannot be unpacked ({e})"))?;
        if out.len() as u64 > left {
            return Err(format!(
                "holds archives that unpack to more than {} MiB, which is not scanned",
                self.max_unpacked >> 20
            ));
        }
        self.unpacked += out.len() as u64;
        Ok(out)
    }
}

/// The content of every entry Go's `archive/tar` (as helm's chart loader uses it) returns with
/// data, or why the archive cannot be read exactly as Go would read it.
fn tar_entries(tar: &[u8]) -> Result<Vec<&[u8]>, String> {
    let unreadable = |why: &str| format!("holds an archive that cannot be scanned ({why})");
    let mut out = Vec::new();
    let mut at = 0usize;
    // The previous entry was a PAX or GNU extension that applies to the next one.
    let mut extended = false;
    while at < tar.len() {
        let Some(block) = tar.get(at..at + 512) else {
            return Err(unreadable("truncated header"));
        };
        if block.iter().all(|&b| b == 0) {
            // The end-of-archive marker: Go reads no further.
            break;
        }
        if !checksum_ok(block) {
            return Err(unreadable("bad header checksum"));
        }
        let size = numeric(&block[124..136]).ok_or_else(|| unreadable("bad size field"))?;
        let size = usize::try_from(size).map_err(|_| unreadable("bad size field"))?;
        let data_at = at + 512;
        let data = data_at
            .checked_add(size)
            .and_then(|end| tar.get(data_at..end))
            .ok_or_else(|| unreadable("truncated entry"))?;
        let typeflag = block[156];
        let after_extension = std::mem::replace(&mut extended, false);
        match typeflag {
            // Sparse files: Go fills holes the raw data does not show.
            b'S' => return Err(unreadable("sparse file")),
            // PAX records: a `size` record moves where Go finds the next header, GNU sparse
            // records change what the data means.
            b'x' | b'g' => {
                if contains(data, b"size=") || contains(data, b"GNU.sparse") {
                    return Err(unreadable("PAX size or sparse records"));
                }
                extended = typeflag == b'x';
            }
            // GNU long names: they only name the next entry.
            b'L' | b'K' => extended = true,
            // Header-only types: Go skips no data after them, whatever the size says.
            b'1'..=b'6' if size > 0 => return Err(unreadable("a header-only entry with a size")),
            b'1'..=b'6' => {}
            // The legacy type of both files and folders: Go takes a name ending in `/` for a
            // folder (and skips no data). Whenever the name could end so, give up.
            0 if size > 0 && (after_extension || legacy_dir_name(block)) => {
                return Err(unreadable(
                    "a legacy entry that may be a folder with a size",
                ));
            }
            _ => out.push(data),
        }
        let padded = size.div_ceil(512) * 512;
        at = data_at
            .checked_add(padded)
            .filter(|&end| end <= tar.len())
            .ok_or_else(|| unreadable("truncated entry"))?;
    }
    Ok(out)
}

/// Whether a header's own name (with its USTAR prefix) is empty or ends with `/`.
fn legacy_dir_name(block: &[u8]) -> bool {
    let name = &block[..100];
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    name.is_empty() || name.ends_with(b"/")
}

/// A tar header's checksum, as Go accepts it (unsigned or signed sum).
fn checksum_ok(block: &[u8]) -> bool {
    let Some(want) = numeric(&block[148..156]) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    want == unsigned || want == signed
}

/// A numeric tar field: base-256 when the high bit is set, else octal with spaces and NULs
/// trimmed (Go's `parseNumeric`).
fn numeric(field: &[u8]) -> Option<i64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // Base-256, two's complement; only small non-negative values are of use.
        let mut v: i64 = i64::from(field[0] & 0x7f);
        if field[0] & 0x40 != 0 {
            return None;
        }
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(i64::from(b))?;
        }
        return Some(v);
    }
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    i64::from_str_radix(s, 8).ok().filter(|v| *v >= 0)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Go's `isSpace`, as used for trim markers.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn volatile_name(token: &[u8]) -> Option<String> {
    let known = VOLATILE_FUNCTIONS.iter().any(|f| f.as_bytes() == token);
    (known || token.starts_with(b"rand")).then(|| String::from_utf8_lossy(token).into_owned())
}

/// The first volatile function that template text may call: any identifier in an action,
/// comment or string literal that is not a field or a variable. Plain text outside `{{ … }}` is
/// not looked at.
pub fn volatile_call(text: &[u8]) -> Option<String> {
    let mut at = 0;
    while let Some(open) = find(text, at, b"{{") {
        let mut p = open + 2;
        if text.get(p) == Some(&b'-') && text.get(p + 1).copied().is_some_and(is_space) {
            p += 2;
        }
        if text[p..].starts_with(b"/*") {
            let Some(close) = find(text, p + 2, b"*/") else {
                // Go: "unclosed comment". Read the rest as code.
                return action(text, p).err().flatten();
            };
            if let Some(hit) = tokens(&text[p..close]) {
                return Some(hit);
            }
            match right_delim(text, close + 2) {
                Some(after) => {
                    at = after;
                    continue;
                }
                // Go: "comment ends before closing delimiter". Read on as code.
                None => p = close + 2,
            }
        }
        match action(text, p) {
            Ok(after) => at = after,
            Err(hit) => return hit,
        }
    }
    None
}

/// The end of a right delimiter (`}}`, or a space, `-` and `}}`) starting at `p`.
fn right_delim(text: &[u8], p: usize) -> Option<usize> {
    let rest = text.get(p..)?;
    if rest.starts_with(b"}}") {
        Some(p + 2)
    } else if rest.len() >= 4
        && is_space(rest[0])
        && rest[1] == b'-'
        && rest[2..].starts_with(b"}}")
    {
        Some(p + 4)
    } else {
        None
    }
}

/// Scans an action from `p`: `Ok` with the position after its right delimiter, or `Err` with
/// the volatile function it names (`Err(None)`: the text ended inside the action).
fn action(text: &[u8], mut p: usize) -> Result<usize, Option<String>> {
    let start = p;
    while p < text.len() {
        if let Some(after) = right_delim(text, p) {
            return match tokens(&text[start..p]) {
                Some(hit) => Err(Some(hit)),
                None => Ok(after),
            };
        }
        match text[p] {
            q @ (b'"' | b'\'') => {
                p += 1;
                while p < text.len() && text[p] != q {
                    p += if text[p] == b'\\' { 2 } else { 1 };
                }
                p += 1;
            }
            b'`' => {
                p = find(text, p + 1, b"`").map_or(text.len(), |e| e + 1);
            }
            _ => p += 1,
        }
    }
    Err(tokens(&text[start..]))
}

/// The first volatile identifier of `code` that is neither a field (`.x`) nor a variable (`$x`).
fn tokens(code: &[u8]) -> Option<String> {
    let mut p = 0;
    while p < code.len() {
        if !is_ident(code[p]) {
            p += 1;
            continue;
        }
        let start = p;
        while p < code.len() && is_ident(code[p]) {
            p += 1;
        }
        let after_dot_or_dollar = start > 0 && matches!(code[start - 1], b'.' | b'$');
        if !after_dot_or_dollar {
            if let Some(hit) = volatile_name(&code[start..p]) {
                return Some(hit);
            }
        }
    }
    None
}

#[cfg(test)]
#[path = "volatile_tests.rs"]
mod tests;
