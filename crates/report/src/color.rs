//! When the text format uses colour: `--color auto|always|never`, `NO_COLOR` and
//! `CLICOLOR_FORCE`.

use std::ffi::OsString;
use std::fmt;
use std::str::FromStr;

/// The `--color` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour on a terminal only, unless `NO_COLOR` is set; `CLICOLOR_FORCE` forces it.
    #[default]
    Auto,
    /// Always colour, whatever the environment says (an explicit flag wins over it).
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Every choice, in the order of the documentation.
    pub const ALL: [ColorChoice; 3] = [Self::Auto, Self::Always, Self::Never];

    /// The name `--color` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Always => "always",
            Self::Never => "never",
        }
    }

    /// Whether to colour output going to a stream that `is_terminal` (or not), with `var`
    /// reading the environment.
    ///
    /// `auto` follows <https://no-color.org> (`NO_COLOR` set to anything but the empty string
    /// turns colour off) and <https://bixense.com/clicolors/> (`CLICOLOR_FORCE` set and not `0`
    /// turns it on off a terminal; `CLICOLOR=0` turns it off on one). `NO_COLOR` wins over
    /// `CLICOLOR_FORCE`: asking for no colour is the safer reading of a contradiction.
    pub fn enabled(self, is_terminal: bool, var: impl Fn(&str) -> Option<OsString>) -> bool {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto if set("NO_COLOR").is_some() => false,
            Self::Auto if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
            Self::Auto if set("CLICOLOR").is_some_and(|v| v == "0") => false,
            Self::Auto => is_terminal,
        }
    }
}

impl fmt::Display for ColorChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ColorChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown colour choice `{s}`: expected auto, always or never"))
    }
}

#[cfg(test)]
mod tests {
    use super::ColorChoice::{self, *};
    use std::ffi::OsString;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn auto_follows_the_terminal_and_the_environment() {
        assert!(Auto.enabled(true, env(&[])));
        assert!(!Auto.enabled(false, env(&[])));
        assert!(!Auto.enabled(true, env(&[("NO_COLOR", "1")])));
        // An empty NO_COLOR is unset (no-color.org).
        assert!(Auto.enabled(true, env(&[("NO_COLOR", "")])));
        assert!(Auto.enabled(false, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(!Auto.enabled(false, env(&[("CLICOLOR_FORCE", "0")])));
        assert!(!Auto.enabled(true, env(&[("CLICOLOR", "0")])));
        assert!(!Auto.enabled(false, env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")])));
    }

    #[test]
    fn always_and_never_ignore_the_environment() {
        assert!(Always.enabled(false, env(&[("NO_COLOR", "1")])));
        assert!(!Never.enabled(true, env(&[("CLICOLOR_FORCE", "1")])));
    }

    #[test]
    fn names_round_trip() {
        for c in ColorChoice::ALL {
            assert_eq!(c.name().parse::<ColorChoice>(), Ok(c));
        }
        assert!("sometimes".parse::<ColorChoice>().is_err());
    }
}
