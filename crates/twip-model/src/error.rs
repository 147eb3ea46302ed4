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
