//! Terminal progress for the binary: indicatif bars on a TTY, one plain line per finished file otherwise.
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::fetch::download::Progress;

/// Progress on stderr.
pub struct TermProgress {
    bars: Option<MultiProgress>,
    files: Mutex<HashMap<String, (Option<ProgressBar>, u64)>>,
}

impl TermProgress {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn new() -> Self {
        let tty = std::io::stderr().is_terminal();
        TermProgress {
            bars: tty.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            files: Mutex::new(HashMap::new()),
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
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((bar, done)) = files.get_mut(label) {
            // A restart (the server ignored a range, or a mismatch): rewind.
            *done = 0;
            if let Some(bar) = bar {
                bar.set_position(0);
            }
            return;
        }
        let bar = self.bars.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new(total.unwrap_or(0)));
            let template = if total.is_some() {
                "{msg:40!} {bar:30} {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12}"
            } else {
                "{msg:40!} {spinner} {bytes:>10} {bytes_per_sec:>12}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.set_message(label.to_string());
            bar
        });
        files.insert(label.to_string(), (bar, 0));
    }

    fn advance(&self, label: &str, bytes: u64) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((bar, done)) = files.get_mut(label) {
            *done += bytes;
            if let Some(bar) = bar {
                bar.inc(bytes);
            }
        }
    }

    fn finish(&self, label: &str) {
        let entry = self
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(label);
        match entry {
            Some((Some(bar), _)) => bar.finish_and_clear(),
            Some((None, done)) => {
                eprintln!("downloaded {label} ({})", crate::types::human_size(done))
            }
            None => {}
        }
    }

    fn message(&self, msg: &str) {
        match &self.bars {
            Some(multi) => {
                let _ = multi.println(msg);
            }
            None => eprintln!("{msg}"),
        }
    }
}
