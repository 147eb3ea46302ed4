//! A small document model rendered to HTML and to Markdown, so both carry
//! the same content.

use std::fmt::Write;

/// One block of the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A heading; level 1..=3.
    Heading(u8, String),
    /// A paragraph.
    Para(String),
    /// A bulleted (or numbered) list.
    List {
        /// Numbered.
        ordered: bool,
        /// Items.
        items: Vec<String>,
    },
    /// A table: header and rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// A preformatted line (a command).
    Code(String),
    /// A chart: file stem and caption.
    Chart(String, String),
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #aaa;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:3px 8px;text-align:left}th{background:#eee}\
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto;border:1px solid #ddd}figcaption{font-size:90%;color:#555}\
pre{background:#f4f4f4;padding:.6em;overflow-x:auto}";

/// Renders the document as one self-contained HTML page; `svg(stem)` gives
/// a chart's SVG to inline.
pub fn html(title: &str, blocks: &[Block], svg: &dyn Fn(&str) -> Option<String>) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(title)
    );
    let ids = heading_ids(blocks);
    let mut toc_done = false;
    for (k, b) in blocks.iter().enumerate() {
        // The contents go before the first section.
        if !toc_done && matches!(b, Block::Heading(2, _)) {
            toc_done = true;
            o.push_str("<nav>\n<h2 id=\"contents\">Contents</h2>\n<ul>\n");
            for (j, c) in blocks.iter().enumerate() {
                if let Block::Heading(2, t) = c {
                    let _ = writeln!(o, "<li><a href=\"#{}\">{}</a></li>", ids[j], esc(t));
                }
            }
            o.push_str("</ul>\n</nav>\n");
        }
        match b {
            Block::Heading(l, t) => {
                let _ = writeln!(o, "<h{l} id=\"{}\">{}</h{l}>", ids[k], esc(t));
            }
            Block::Para(t) => {
                let _ = writeln!(o, "<p>{}</p>", inline(t));
            }
            Block::List { ordered, items } => {
                let tag = if *ordered { "ol" } else { "ul" };
                let _ = writeln!(o, "<{tag}>");
                for i in items {
                    let _ = writeln!(o, "<li>{}</li>", inline(i));
                }
                let _ = writeln!(o, "</{tag}>");
            }
            Block::Table(head, rows) => {
                o.push_str("<table>\n<tr>");
                for h in head {
                    let _ = write!(o, "<th>{}</th>", inline(h));
                }
                o.push_str("</tr>\n");
                for r in rows {
                    o.push_str("<tr>");
                    for c in r {
                        let _ = write!(o, "<td>{}</td>", inline(c));
                    }
                    o.push_str("</tr>\n");
                }
                o.push_str("</table>\n");
            }
            Block::Code(t) => {
                let _ = writeln!(o, "<pre><code>{}</code></pre>", esc(t));
            }
            Block::Chart(stem, caption) => {
                let body = svg(stem).unwrap_or_default();
                // Drop an XML declaration, if any: the SVG is inline.
                let body = match body.find("<svg") {
                    Some(i) => &body[i..],
                    None => body.as_str(),
                };
                let _ = writeln!(
                    o,
                    "<figure id=\"chart-{stem}\">\n{body}\n<figcaption>{}</figcaption>\n</figure>",
                    esc(caption)
                );
            }
        }
    }
    o.push_str("</body>\n</html>\n");
    o
}

/// Escaped text with `code` spans as `<code>`.
fn inline(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(k, part)| {
            if k % 2 == 1 {
                format!("<code>{}</code>", esc(part))
            } else {
                esc(part)
            }
        })
        .collect()
}

/// One id per block (headings only; empty for the rest), unique in the
/// document: a level-3 heading's is its section's and its own
/// (`phase-worldwide--what-was-asked`), and a repeat gets `-2`, `-3`...
fn heading_ids(blocks: &[Block]) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut section = String::new();
    blocks
        .iter()
        .map(|b| {
            let Block::Heading(l, t) = b else {
                return String::new();
            };
            let slug = crate::model::slugify(t);
            let id = if *l >= 3 && !section.is_empty() {
                format!("{section}--{slug}")
            } else {
                slug
            };
            if *l == 2 {
                section = id.clone();
            }
            let n = seen.entry(id.clone()).or_default();
            *n += 1;
            if *n == 1 {
                id
            } else {
                format!("{id}-{n}")
            }
        })
        .collect()
}

/// GitHub's anchor of a Markdown heading: lower case, spaces as `-`,
/// other punctuation dropped.
fn md_anchor(t: &str) -> String {
    t.chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c.to_lowercase().next().unwrap_or(c))
            } else if c == ' ' {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Renders the document as Markdown; charts are `STEM.svg` beside it.
pub fn markdown(blocks: &[Block]) -> String {
    let mut o = String::new();
    let mut toc_done = false;
    for b in blocks {
        if !toc_done && matches!(b, Block::Heading(2, _)) {
            toc_done = true;
            o.push_str("## Contents\n\n");
            for c in blocks {
                if let Block::Heading(2, t) = c {
                    let _ = writeln!(o, "- [{t}](#{})", md_anchor(t));
                }
            }
            o.push('\n');
        }
        match b {
            Block::Heading(l, t) => {
                let _ = writeln!(o, "{} {t}\n", "#".repeat(*l as usize));
            }
            Block::Para(t) => {
                let _ = writeln!(o, "{t}\n");
            }
            Block::List { ordered, items } => {
                for (k, i) in items.iter().enumerate() {
                    if *ordered {
                        let _ = writeln!(o, "{}. {i}", k + 1);
                    } else {
                        let _ = writeln!(o, "- {i}");
                    }
                }
                o.push('\n');
            }
            Block::Table(head, rows) => {
                let _ = writeln!(
                    o,
                    "| {} |",
                    head.iter()
                        .map(|h| md_cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(o, "|{}", " --- |".repeat(head.len()));
                for r in rows {
                    let _ = writeln!(
                        o,
                        "| {} |",
                        r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                o.push('\n');
            }
            Block::Code(t) => {
                let _ = writeln!(o, "```sh\n{t}\n```\n");
            }
            Block::Chart(stem, caption) => {
                let _ = writeln!(o, "![{caption}]({stem}.svg)\n\n*{caption}*\n");
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_inlines_charts() {
        let b = vec![
            Block::Heading(1, "a <b>".into()),
            Block::Table(vec!["x".into()], vec![vec!["1 & 2".into()]]),
            Block::Chart("c".into(), "cap".into()),
        ];
        let h = html("t", &b, &|s| {
            Some(format!("<?xml version=\"1.0\"?><svg id=\"{s}\"></svg>"))
        });
        assert!(h.contains("<h1 id=\"a--b-\">a &lt;b&gt;</h1>"));
        assert!(!h.contains("<nav>"), "no sections, no contents");
        assert!(h.contains("<td>1 &amp; 2</td>"));
        assert!(h.contains("<svg id=\"c\"></svg>"));
        assert!(!h.contains("<?xml"));
        assert!(!h.contains("src="), "no external assets");
    }

    #[test]
    fn sections_have_unique_ids_a_table_of_contents_and_code() {
        let b = vec![
            Block::Heading(1, "Report".into()),
            Block::Heading(2, "Phase: a".into()),
            Block::Heading(3, "What was asked".into()),
            Block::Para("run `twip plan x` & see".into()),
            Block::Heading(2, "Phase: b".into()),
            Block::Heading(3, "What was asked".into()),
            Block::Heading(2, "Phase: b".into()),
        ];
        let h = html("t", &b, &|_| None);
        for id in [
            "phase--a",
            "phase--a--what-was-asked",
            "phase--b--what-was-asked",
            "phase--b-2",
        ] {
            assert_eq!(h.matches(&format!("id=\"{id}\"")).count(), 1, "{id}: {h}");
        }
        assert!(h.contains("<li><a href=\"#phase--a\">Phase: a</a></li>"));
        assert!(h.contains("<p>run <code>twip plan x</code> &amp; see</p>"));
        assert!(!h.contains('`'), "no literal backticks");
        let m = markdown(&b);
        assert!(m.contains("## Contents\n\n- [Phase: a](#phase-a)\n"), "{m}");
    }

    #[test]
    fn markdown_links_charts_and_escapes_pipes() {
        let b = vec![
            Block::Table(vec!["a|b".into()], vec![vec!["1".into()]]),
            Block::Chart("w-latency".into(), "latency".into()),
            Block::List {
                ordered: true,
                items: vec!["one".into(), "two".into()],
            },
        ];
        let m = markdown(&b);
        assert!(m.contains("| a\\|b |\n| --- |\n| 1 |"));
        assert!(m.contains("![latency](w-latency.svg)"));
        assert!(m.contains("1. one\n2. two"));
    }
}
