//! What every command shares about talking to people: how much to say
//! (`-q`, `-v`), colour (`NO_COLOR`), when to draw progress, and tables.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};

/// 0 quiet, 1 normal, 2 verbose.
static VERBOSITY: AtomicU8 = AtomicU8::new(1);

/// Sets the verbosity from `-q` / `-v` (clap makes them exclusive).
pub fn set_verbosity(quiet: bool, verbose: bool) {
    let v = if quiet {
        0
    } else if verbose {
        2
    } else {
        1
    };
    VERBOSITY.store(v, Ordering::Relaxed);
}

/// `-q`: no progress bars, no step-by-step lines.
pub fn quiet() -> bool {
    VERBOSITY.load(Ordering::Relaxed) == 0
}

/// `-v`: say what is read and done, on stderr.
pub fn verbose() -> bool {
    VERBOSITY.load(Ordering::Relaxed) >= 2
}

/// `NO_COLOR` set to anything but the empty string (no-color.org).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Progress is drawn on stderr when it is a terminal, unless `-q`.
pub fn progress_shown() -> bool {
    !quiet() && std::io::stderr().is_terminal()
}

/// A progress style from `template`, the default one if it does not parse.
pub fn style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

/// A borderless table, columns two spaces apart and each as wide as its
/// widest cell, so long names never push a row out of line. A header
/// starting with `>` is a right-aligned (numeric) column; the `>` is not
/// printed.
pub fn table(header: &[&str]) -> comfy_table::Table {
    use comfy_table::{CellAlignment, Table};
    let mut t = Table::new();
    t.load_style(comfy_table::presets::NOTHING);
    t.set_header(header.iter().map(|h| h.trim_start_matches('>')));
    for (i, h) in header.iter().enumerate() {
        if let Some(c) = t.column_mut(i) {
            c.set_padding((if i == 0 { 0 } else { 1 }, 1));
            if h.starts_with('>') {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    t
}

/// The table's lines, trailing blanks trimmed, each ending in a newline.
pub fn render(t: &comfy_table::Table) -> String {
    let mut s: String = t
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    s.push('\n');
    s
}

/// The planner's progress in words. The search goes through the
/// candidates cheapest first and stops at the first that passes, so the
/// count of candidates is an upper bound on the work, not a total to
/// draw a bar against.
pub fn planning(label: &str, examined: u64, candidates: u64, simulated: u64) -> String {
    if candidates == 0 {
        return format!("{label}: sizing");
    }
    format!("{label}: candidate {examined} of at most {candidates}, {simulated} cases simulated")
}

/// Runs `work`, and when it takes more than a second and progress is
/// shown, makes a bar with `bar` (only then: a bar dropped unfinished
/// draws itself) and redraws it with `draw` every 100 ms until it is done.
pub fn with_bar<T>(
    bar: impl FnOnce() -> indicatif::ProgressBar + Send + 'static,
    mut draw: impl FnMut(&indicatif::ProgressBar) + Send + 'static,
    work: impl FnOnce() -> T,
) -> T {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Duration;
    let done = Arc::new(AtomicBool::new(false));
    let started = std::time::Instant::now();
    let watcher = progress_shown().then(|| {
        let done = done.clone();
        std::thread::spawn(move || {
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(100));
                if done.load(Ordering::Relaxed) {
                    return;
                }
            }
            let bar = bar().with_elapsed(started.elapsed());
            while !done.load(Ordering::Relaxed) {
                draw(&bar);
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        })
    });
    let result = work();
    done.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        w.join().ok();
    }
    result
}
