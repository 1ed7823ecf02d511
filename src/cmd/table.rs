//! Text tables the views print: columns as wide as their widest cell, and cells kept on
//! their line.

use std::io::Write;

/// Columns as wide as their widest cell; the last one as it is.
pub(crate) fn table_out<const N: usize>(
    out: &mut dyn Write,
    heading: [&str; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut widths = heading.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; N]| -> std::io::Result<()> {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, heading)?;
    for row in rows {
        line(out, std::array::from_fn(|i| row[i].as_str()))?;
    }
    Ok(())
}

/// `text` with its control characters escaped (`\n`, `\t`, `\u{1b}`): a `sh -c` script
/// or a file name with a newline in it stays on its line.
pub(crate) fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn control_characters_are_escaped_in_a_cell() {
        assert_eq!(one_line("sh -c id\ncat /etc/shadow"), "sh -c id\\ncat /etc/shadow");
        assert_eq!(one_line("a\tb\u{1b}"), "a\\tb\\u{1b}");
        assert_eq!(one_line("plain"), "plain");
    }
}
