use std::path::PathBuf;

/// An error in an input file: it names the file, the line and the field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the expected shape.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A field holds a value of the wrong type (a string where a number
    /// belongs, a number out of its type's range...).
    #[error("{}:{line}: field `{field}`: expected {expected}, found {found}", path.display())]
    Type {
        /// The file.
        path: PathBuf,
        /// 1-based line of the field.
        line: usize,
        /// Dotted path of the field, e.g. `service[0].workers`.
        field: String,
        /// What the field must hold, in words (`a whole number ≥ 0`).
        expected: String,
        /// What it holds, in words (`the string "three"`).
        found: String,
    },
    /// A field has a value that is well-formed but not acceptable.
    #[error("{}:{line}: field `{field}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (of the field, or of its nearest enclosing table).
        line: usize,
        /// Dotted path of the field, e.g. `service[2].service_time.p99_ms`.
        field: String,
        /// What was wrong and what was expected.
        message: String,
    },
}

impl Error {
    /// The 1-based line the error points at (`None` for an unreadable file).
    pub fn line(&self) -> Option<usize> {
        match self {
            Error::Io { .. } => None,
            Error::Syntax { line, .. } | Error::Type { line, .. } | Error::Invalid { line, .. } => {
                Some(*line)
            }
        }
    }

    /// The field the error is about, as a path such as `service[0].workers`
    /// (`None` for unreadable files and syntax errors).
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Type { field, .. } | Error::Invalid { field, .. } => Some(field),
            Error::Io { .. } | Error::Syntax { .. } => None,
        }
    }
}
