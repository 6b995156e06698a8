//! The history file: append one line, load them all, skipping (and reporting) damaged ones.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::HistoryRow;
use crate::error::HistoryError;

/// Longest line written or read. A row is a few hundred bytes; a line far longer is not one
/// of ours, and refusing it keeps a stray binary blob from being parsed as JSON.
pub const HISTORY_LINE_MAX_BYTES: usize = 64 * 1024;

/// Why a line of the history file was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The line is not UTF-8.
    NotUtf8,
    /// Longer than [`HISTORY_LINE_MAX_BYTES`].
    TooLong { bytes: usize },
    /// Not a history row.
    Malformed { error: String },
    /// The last line, with no newline and not a whole row: a write cut short by a crash.
    Torn { error: String },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => write!(f, "not UTF-8"),
            Self::TooLong { bytes } => write!(
                f,
                "{bytes} bytes, longer than the {HISTORY_LINE_MAX_BYTES}-byte limit"
            ),
            Self::Malformed { error } => write!(f, "not a history row: {error}"),
            Self::Torn { error } => write!(f, "torn last line (a write cut short): {error}"),
        }
    }
}

/// The rows of a history file, oldest first, and the lines that were skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryLog {
    pub rows: Vec<HistoryRow>,
    /// 1-based line number and why, in file order.
    pub skipped: Vec<(usize, SkipReason)>,
}

impl HistoryLog {
    /// Parses history-file contents. Never fails: a bad line is skipped and listed.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut log = Self::default();
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        // After a final newline `split` yields one empty piece; any other last piece had no
        // newline, so its write may have been cut short.
        let unterminated = lines.len() - 1;
        for (index, line) in lines.iter().enumerate() {
            let line_no = index + 1;
            if line.len() > HISTORY_LINE_MAX_BYTES {
                log.skipped
                    .push((line_no, SkipReason::TooLong { bytes: line.len() }));
                continue;
            }
            let Ok(text) = std::str::from_utf8(line) else {
                log.skipped.push((line_no, SkipReason::NotUtf8));
                continue;
            };
            if text.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<HistoryRow>(text) {
                Ok(row) => log.rows.push(row),
                Err(e) if index == unterminated => log.skipped.push((
                    line_no,
                    SkipReason::Torn {
                        error: e.to_string(),
                    },
                )),
                Err(e) => log.skipped.push((
                    line_no,
                    SkipReason::Malformed {
                        error: e.to_string(),
                    },
                )),
            }
        }
        log
    }
}

/// Appends `row` to the history file at `path` as one line, creating the file and its parent
/// directories if needed. The line goes out in a single `write` on an `O_APPEND` handle; if the
/// file ends mid-line (a torn write), the new row starts on a line of its own.
pub fn append(path: &Path, row: &HistoryRow) -> Result<(), HistoryError> {
    if let Some(field) = row.non_finite_field() {
        return Err(HistoryError::NonFinite { field });
    }
    let mut line = serde_json::to_string(row).map_err(HistoryError::Encode)?;
    line.push('\n');
    if line.len() > HISTORY_LINE_MAX_BYTES {
        return Err(HistoryError::RowTooLong { bytes: line.len() });
    }
    let io = |source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io)?;
    if ends_mid_line(&mut file).map_err(io)? {
        line.insert(0, '\n');
    }
    let written = file.write(line.as_bytes()).map_err(io)?;
    if written != line.len() {
        return Err(HistoryError::ShortWrite {
            path: path.to_path_buf(),
            written,
            expected: line.len(),
        });
    }
    Ok(())
}

/// Reads the history file at `path`. Damaged lines are skipped and listed in
/// [`HistoryLog::skipped`]; only failing to read the file is an error.
pub fn load(path: &Path) -> Result<HistoryLog, HistoryError> {
    let bytes = fs::read(path).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(HistoryLog::parse(&bytes))
}

/// True if the file is non-empty and its last byte is not a newline.
fn ends_mid_line(file: &mut File) -> std::io::Result<bool> {
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    // Reading moves the handle's position, not where O_APPEND writes go.
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::history::LatencyPercentiles;

    fn row(n: u64) -> HistoryRow {
        HistoryRow {
            run_id: format!("run-{n}"),
            recorded_at_unix_s: 1_700_000_000 + n,
            command: "sweep".into(),
            commit: format!("{n:040x}"),
            world: "turmoil".into(),
            scenario: "default".into(),
            seeds: 100,
            verdict: "pass".into(),
            failures: 0,
            seeds_per_wall_min: Some(60.0 + n as f64),
            wall_s: Some(100.0),
            ops_per_busy_sim_s: 1_234.5,
            latencies: BTreeMap::from([(
                "append_ack".to_owned(),
                LatencyPercentiles {
                    p50_us: 100,
                    p99_us: 900 + n,
                    max_us: 5_000,
                },
            )]),
        }
    }

    #[test]
    fn rows_append_one_per_line_and_load_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dirs/history.jsonl");
        for n in 0..3 {
            append(&path, &row(n)).unwrap();
        }
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));
        let log = load(&path).unwrap();
        assert_eq!(log.rows, [row(0), row(1), row(2)]);
        assert!(log.skipped.is_empty());
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_next_row_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        append(&path, &row(0)).unwrap();
        let whole = serde_json::to_string(&row(1)).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&whole.as_bytes()[..whole.len() / 2])
            .unwrap();
        drop(file);

        let log = load(&path).unwrap();
        assert_eq!(log.rows, [row(0)]);
        assert!(
            matches!(log.skipped.as_slice(), [(2, SkipReason::Torn { .. })]),
            "{:?}",
            log.skipped
        );

        append(&path, &row(2)).unwrap();
        let log = load(&path).unwrap();
        assert_eq!(
            log.rows,
            [row(0), row(2)],
            "the torn fragment did not eat row 2"
        );
        assert!(
            matches!(log.skipped.as_slice(), [(2, SkipReason::Malformed { .. })]),
            "now terminated, the fragment is an ordinary bad line: {:?}",
            log.skipped
        );
    }

    #[test]
    fn bad_lines_are_listed_never_fatal() {
        let good = serde_json::to_string(&row(7)).unwrap();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"not json\n\n   \n");
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        bytes.extend_from_slice(b"{\"run_id\": 5}\n");
        bytes.extend_from_slice(&vec![b' '; HISTORY_LINE_MAX_BYTES + 1]);
        bytes.push(b'\n');
        bytes.extend_from_slice(good.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let log = HistoryLog::parse(&bytes);
        assert_eq!(log.rows, [row(7)], "CRLF tolerated, blanks ignored");
        let lines: Vec<usize> = log.skipped.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [1, 4, 5, 6]);
        assert!(matches!(log.skipped[0].1, SkipReason::Malformed { .. }));
        assert_eq!(log.skipped[1].1, SkipReason::NotUtf8);
        assert!(matches!(log.skipped[2].1, SkipReason::Malformed { .. }));
        assert_eq!(
            log.skipped[3].1,
            SkipReason::TooLong {
                bytes: HISTORY_LINE_MAX_BYTES + 1
            }
        );
        assert_eq!(HistoryLog::parse(b""), HistoryLog::default());
        // An unterminated last line that is a whole row (a hand edit) is kept.
        assert_eq!(HistoryLog::parse(good.as_bytes()).rows, [row(7)]);
    }

    #[test]
    fn unwritable_rows_and_missing_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let mut bad = row(1);
        bad.wall_s = Some(f64::NAN);
        assert!(matches!(
            append(&path, &bad),
            Err(HistoryError::NonFinite { field: "wall_s" })
        ));
        let mut huge = row(1);
        huge.run_id = "x".repeat(HISTORY_LINE_MAX_BYTES);
        assert!(matches!(
            append(&path, &huge),
            Err(HistoryError::RowTooLong { .. })
        ));
        assert!(!path.exists(), "nothing written for a refused row");
        let err = load(&path).unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }
}
