//! Terminal progress for the binary. On a terminal: one overall line per phase (downloads: files done of
//! all, bytes, rate, ETA and the file being fetched, its full name; packing: bytes, rate, ETA). Otherwise:
//! plain lines in one format (`downloaded NAME (SIZE) [3/12]`, `packing: 40% …`). Nothing with `-q`.
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::fetch::download::Progress;
use crate::types::{human_size, plural};

/// Progress on stderr.
pub struct TermProgress {
    tty: bool,
    quiet: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
    /// Bytes received so far per file being downloaded.
    files: HashMap<String, u64>,
    expected_files: usize,
    expected_bytes: u64,
    finished: usize,
    received: u64,
}

impl TermProgress {
    /// Bars when stderr is a terminal, plain lines otherwise; nothing but errors when `quiet`.
    pub fn new() -> Self {
        Self::with(std::io::stderr().is_terminal(), false)
    }

    pub fn with(tty: bool, quiet: bool) -> Self {
        TermProgress {
            tty,
            quiet,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Announce the downloads to come (files not in the cache), for the overall line.
    pub fn expect_downloads(&self, files: usize, bytes: u64) {
        if self.quiet || files == 0 {
            return;
        }
        let mut st = self.state();
        st.expected_files += files;
        st.expected_bytes += bytes;
        if self.tty {
            self.draw_downloads(&mut st);
        } else {
            eprintln!(
                "downloading {} ({})",
                plural(files, "file"),
                human_size(bytes)
            );
        }
    }

    /// The overall download line (made on first use): files done of all, bytes, rate, ETA, current file.
    fn draw_downloads(&self, st: &mut State) {
        let total = st.expected_bytes;
        let prefix = format!("downloading {}/{} files", st.finished, st.expected_files);
        let bar = st.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {wide_msg}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        bar.set_length(total);
        bar.set_prefix(prefix);
    }

    /// End the download line; (files, bytes) that came over the network.
    pub fn finish_downloads(&self) -> (usize, u64) {
        let mut st = self.state();
        if let Some(bar) = st.bar.take() {
            bar.finish_and_clear();
        }
        (st.finished, st.received)
    }

    /// A byte meter for one phase (packing, verifying, extracting): an overall line on a terminal, a line
    /// per 10% otherwise.
    pub fn meter(&self, what: &str, total: u64) -> Meter {
        let bar = (self.tty && !self.quiet).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {wide_bar}",
            ) {
                bar.set_style(style);
            }
            bar.set_prefix(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        if !self.tty && !self.quiet {
            eprintln!("{what} ({})", human_size(total));
        }
        Meter {
            // Progress lines name the phase by its verb: `packing: 40% (…)`.
            what: what.split(' ').next().unwrap_or(what).to_string(),
            total,
            bar,
            plain: !self.tty && !self.quiet,
            done: Mutex::new((0, 0)),
            started: Instant::now(),
        }
    }
}

impl Default for TermProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for TermProgress {
    fn start(&self, label: &str, total: Option<u64>) {
        if self.quiet {
            return;
        }
        let mut st = self.state();
        // A restart (the server ignored a range, or a mismatch): take back what this file had counted.
        if let Some(done) = st.files.insert(label.to_string(), 0) {
            st.received = st.received.saturating_sub(done);
            if let Some(bar) = &st.bar {
                bar.set_position(bar.position().saturating_sub(done));
            }
        } else if st.finished + st.files.len() > st.expected_files {
            // A download nobody announced (hashes filled in while locking): count it in.
            st.expected_files += 1;
            st.expected_bytes += total.unwrap_or(0);
            if self.tty {
                self.draw_downloads(&mut st);
            }
        }
        if let Some(bar) = &st.bar {
            bar.set_message(label.to_string());
        }
    }

    fn advance(&self, label: &str, bytes: u64) {
        if self.quiet {
            return;
        }
        let mut st = self.state();
        if let Some(done) = st.files.get_mut(label) {
            *done += bytes;
            st.received += bytes;
            if let Some(bar) = &st.bar {
                bar.inc(bytes);
            }
        }
    }

    fn finish(&self, label: &str) {
        if self.quiet {
            return;
        }
        let mut st = self.state();
        let Some(done) = st.files.remove(label) else {
            return;
        };
        st.finished += 1;
        let expected = st.expected_files.max(st.finished);
        match &st.bar {
            Some(bar) => {
                bar.set_prefix(format!("downloading {}/{expected} files", st.finished));
                if let Some(other) = st.files.keys().next() {
                    bar.set_message(other.clone());
                }
            }
            None => eprintln!(
                "downloaded {label} ({}) [{}/{expected}]",
                human_size(done),
                st.finished
            ),
        }
    }

    fn message(&self, msg: &str) {
        if self.quiet {
            return;
        }
        match &self.state().bar {
            Some(bar) => bar.println(msg),
            None => eprintln!("{msg}"),
        }
    }
}

/// Bytes done of a known total, for one phase.
pub struct Meter {
    what: String,
    total: u64,
    bar: Option<ProgressBar>,
    plain: bool,
    /// (bytes done, last tenth printed)
    done: Mutex<(u64, u64)>,
    started: Instant,
}

impl Meter {
    pub fn add(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
        if self.plain && self.total > 0 {
            let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
            done.0 += bytes;
            let tenth = done.0 * 10 / self.total;
            if tenth > done.1 && tenth < 10 {
                done.1 = tenth;
                let secs = self.started.elapsed().as_secs_f64().max(0.001);
                eprintln!(
                    "{}: {}% ({} of {}, {}/s)",
                    self.what,
                    tenth * 10,
                    human_size(done.0),
                    human_size(self.total),
                    human_size((done.0 as f64 / secs) as u64)
                );
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
