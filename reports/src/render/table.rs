//! A small table that renders as aligned plain text or as Markdown.

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Spaces between plain-text columns.
const COLUMN_GAP: &str = "  ";

/// Rows of cells under a header.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
    /// A CSS class per row for the HTML form (None: plain), so a row can be marked (a starved
    /// probe, a failed run) where colour helps; text forms carry the mark in a cell instead.
    row_classes: Vec<Option<String>>,
}

impl Table {
    /// A table with the given `(header, alignment)` columns.
    pub fn new(headers: &[(&str, Align)]) -> Self {
        Self {
            headers: headers.iter().map(|(h, a)| ((*h).to_owned(), *a)).collect(),
            rows: Vec::new(),
            row_classes: Vec::new(),
        }
    }

    /// Adds a row; missing cells render empty, extra ones are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
        self.row_classes.push(None);
    }

    /// Adds a row that the HTML form gives CSS class `class`.
    pub fn row_with_class(&mut self, cells: Vec<String>, class: &str) {
        self.row(cells);
        if let Some(last) = self.row_classes.last_mut() {
            *last = Some(class.to_owned());
        }
    }

    /// True if no rows were added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn widths(&self) -> Vec<usize> {
        self.headers
            .iter()
            .enumerate()
            .map(|(i, (header, _))| {
                self.rows
                    .iter()
                    .map(|row| row[i].chars().count())
                    .chain(std::iter::once(header.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Plain text with aligned columns, each line prefixed by `indent`, no trailing spaces.
    pub fn to_text(&self, indent: &str) -> String {
        let widths = self.widths();
        let mut out = String::new();
        let header_cells: Vec<String> = self.headers.iter().map(|(h, _)| h.clone()).collect();
        for cells in std::iter::once(&header_cells).chain(self.rows.iter()) {
            let line: Vec<String> = cells
                .iter()
                .zip(&self.headers)
                .zip(&widths)
                .map(|((cell, (_, align)), width)| match align {
                    Align::Left => format!("{cell:<width$}"),
                    Align::Right => format!("{cell:>width$}"),
                })
                .collect();
            out.push_str(indent);
            out.push_str(line.join(COLUMN_GAP).trim_end());
            out.push('\n');
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|(h, _)| md_cell(h)).collect();
        out.push_str(&format!("| {} |\n", header.join(" | ")));
        let rule: Vec<&str> = self
            .headers
            .iter()
            .map(|(_, align)| match align {
                Align::Left => ":---",
                Align::Right => "---:",
            })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    /// An HTML `<table>`; cells are escaped.
    pub fn to_html(&self, class: &str) -> String {
        let mut out = format!(
            "<table class=\"{}\">\n<thead><tr>",
            super::html::escape(class)
        );
        for (header, align) in &self.headers {
            out.push_str(&format!(
                "<th class=\"{}\">{}</th>",
                align_class(*align),
                super::html::escape(header)
            ));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (row, class) in self.rows.iter().zip(&self.row_classes) {
            match class {
                Some(class) => {
                    out.push_str(&format!("<tr class=\"{}\">", super::html::escape(class)))
                }
                None => out.push_str("<tr>"),
            }
            for (cell, (_, align)) in row.iter().zip(&self.headers) {
                out.push_str(&format!(
                    "<td class=\"{}\">{}</td>",
                    align_class(*align),
                    super::html::escape(cell)
                ));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

fn align_class(align: Align) -> &'static str {
    match align {
        Align::Left => "l",
        Align::Right => "r",
    }
}

/// Escapes what would break a Markdown table cell or be read as markup.
pub fn md_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' | '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_columns_align() {
        let mut t = Table::new(&[("name", Align::Left), ("n", Align::Right)]);
        t.row(vec!["a".into(), "100".into()]);
        t.row(vec!["longer".into(), "5".into()]);
        assert_eq!(t.to_text(""), "name      n\na       100\nlonger    5\n");
    }

    #[test]
    fn marked_rows_carry_their_class_in_html_only() {
        let mut t = Table::new(&[("k", Align::Left)]);
        t.row(vec!["plain".into()]);
        t.row_with_class(vec!["marked".into()], "bad\"class");
        let html = t.to_html("t");
        assert!(
            html.contains("<tr><td class=\"l\">plain</td></tr>"),
            "{html}"
        );
        assert!(
            html.contains("<tr class=\"bad&quot;class\"><td class=\"l\">marked</td></tr>"),
            "{html}"
        );
        assert_eq!(t.to_text(""), "k\nplain\nmarked\n");
    }

    #[test]
    fn markdown_escapes_pipes() {
        let mut t = Table::new(&[("k", Align::Left)]);
        t.row(vec!["a|b".into()]);
        assert!(t.to_markdown().contains("a\\|b"));
    }
}
