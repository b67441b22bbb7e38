use std::fmt;

/// A configuration error: which file, where, what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File the error is in, relative to the repository root when it is inside it.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The other errors found in the same run, in file then line order (empty for one error):
    /// the configuration is validated whole, so one run shows every error, as ruff and
    /// cargo-deny do.
    pub others: Vec<ConfigError>,
}

impl ConfigError {
    /// An error in `file` with no position.
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
            others: Vec::new(),
        }
    }

    /// `Ok` without errors; else the first of `errors` in file then line order, carrying the
    /// rest (each error's own `others` flattened in).
    pub fn collect(errors: Vec<ConfigError>) -> Result<(), ConfigError> {
        let mut all: Vec<ConfigError> = errors
            .into_iter()
            .flat_map(|mut e| {
                let others = std::mem::take(&mut e.others);
                std::iter::once(e).chain(others)
            })
            .collect();
        all.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        all.dedup();
        let mut it = all.into_iter();
        match it.next() {
            None => Ok(()),
            Some(mut first) => {
                first.others = it.collect();
                Err(first)
            }
        }
    }

    /// This error and the others of its run, each on its own (without `others`).
    pub fn all(&self) -> Vec<ConfigError> {
        let mut first = self.clone();
        first.others = Vec::new();
        std::iter::once(first)
            .chain(self.others.iter().cloned())
            .collect()
    }

    /// `N errors in a.yaml, b.yaml` for more than one error, naming the files in order.
    pub fn summary(&self) -> Option<String> {
        if self.others.is_empty() {
            return None;
        }
        let mut files: Vec<&str> = Vec::new();
        for e in std::iter::once(self).chain(&self.others) {
            if !files.contains(&e.file.as_str()) {
                files.push(&e.file);
            }
        }
        Some(format!(
            "{} errors in {}",
            self.others.len() + 1,
            files.join(", ")
        ))
    }

    /// Sets the position.
    pub fn at(mut self, line: Option<u32>, column: Option<u32>) -> Self {
        self.line = line;
        self.column = column;
        self
    }

    /// Sets the position to that of `node`, when there is one.
    pub fn at_node(self, node: Option<&imagegate_yaml::Node>) -> Self {
        match node {
            Some(n) => self.at(Some(n.line), Some(n.col)),
            None => self,
        }
    }

    /// Sets the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_one(f)?;
        for other in &self.others {
            write!(f, "\nerror: ")?;
            other.fmt_one(f)?;
        }
        if let Some(summary) = self.summary() {
            write!(f, "\n{summary}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    fn fmt_one(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_collected_in_file_then_line_order_and_counted() {
        assert_eq!(ConfigError::collect(Vec::new()), Ok(()));
        let at = |f: &str, l: u32| ConfigError::new(f, format!("e{l}")).at(Some(l), Some(1));
        let mut nested = at("imagegate.yaml", 9);
        nested.others = vec![at("a/web.yaml", 2)];
        let e = ConfigError::collect(vec![at("imagegate.yaml", 3), nested, at("a/web.yaml", 2)])
            .unwrap_err();
        let order: Vec<(String, Option<u32>)> =
            e.all().into_iter().map(|e| (e.file, e.line)).collect();
        assert_eq!(
            order,
            [
                ("a/web.yaml".to_string(), Some(2)),
                ("imagegate.yaml".to_string(), Some(3)),
                ("imagegate.yaml".to_string(), Some(9)),
            ],
            "sorted, nested errors flattened, duplicates dropped"
        );
        assert_eq!(
            e.summary().as_deref(),
            Some("3 errors in a/web.yaml, imagegate.yaml")
        );
        assert!(e
            .to_string()
            .ends_with("\n3 errors in a/web.yaml, imagegate.yaml"));
        assert_eq!(at("x", 1).summary(), None);
    }
}
