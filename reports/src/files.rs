//! Reading and writing report files.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::names::ordered_names;
use crate::report::Report;

/// Extension of HdrHistogram percentile-distribution files.
pub const HGRM_EXTENSION: &str = "hgrm";

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Report {
    /// Writes [`Report::to_json_pretty`] to `path`.
    pub fn save_json(&self, path: &Path) -> Result<(), ReportError> {
        fs::write(path, self.to_json_pretty()?).map_err(io_error(path))
    }

    /// Reads a report written by [`Report::save_json`], with [`Report::from_json`]'s checks.
    pub fn load_json(path: &Path) -> Result<Report, ReportError> {
        let text = fs::read_to_string(path).map_err(io_error(path))?;
        Report::from_json(&text)
    }

    /// One `.hgrm` text per latency, keyed by a file name safe on any filesystem
    /// (`append_ack.hgrm`), in rendering order.
    /// Names that sanitize to the same stem get `-2`, `-3`, ... appended.
    pub fn hgrm_files(&self) -> Vec<(String, String)> {
        let mut used = BTreeSet::new();
        ordered_names(self.latencies.keys())
            .into_iter()
            .filter_map(|name| {
                let hist = self.latencies.get(name)?;
                let stem = file_stem(name);
                let mut file_name = format!("{stem}.{HGRM_EXTENSION}");
                let mut suffix = 1u32;
                while !used.insert(file_name.clone()) {
                    suffix += 1;
                    file_name = format!("{stem}-{suffix}.{HGRM_EXTENSION}");
                }
                Some((file_name, hist.to_hgrm()))
            })
            .collect()
    }

    /// Writes [`Report::hgrm_files`] into `dir` (which must exist); returns the paths written.
    pub fn write_hgrm_files(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let mut written = Vec::new();
        for (file_name, text) in self.hgrm_files() {
            let path = dir.join(file_name);
            fs::write(&path, text).map_err(io_error(&path))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Latency names are free text; keep ASCII letters, digits, `-` and `_`, replace the rest with
/// `_`, so a name can never escape the directory or collide with a reserved name.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() {
        "_".to_owned()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn file_stem_cannot_escape_the_directory() {
        assert_eq!(file_stem("../etc/passwd"), "___etc_passwd");
        assert_eq!(file_stem("append_ack"), "append_ack");
        assert_eq!(file_stem(""), "_");
    }
}
