//! The progress bar of a run, on standard error while it is a terminal: targets done of the
//! total, a whole-number rate, and once no target has finished for a while, the target the run
//! waits on (the oldest one under way: the one the ordered formats must write next).

use std::collections::BTreeMap;
use std::io::{self, IsTerminal};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// No target finished for this long: the bar names the one it waits on.
const STALL: Duration = Duration::from_secs(5);
/// How often the bar is redrawn while nothing finishes, so that a stall shows.
const TICK: Duration = Duration::from_secs(1);

/// A progress bar and the targets under way. Hidden until [`Progress::start`], and for one
/// target or an output that is not a terminal.
pub struct Progress {
    bar: ProgressBar,
    running: Arc<Mutex<Running>>,
}

/// The targets under way, by when they started, and when one last finished.
struct Running {
    next: u64,
    started: BTreeMap<u64, (String, Instant)>,
    last_done: Instant,
}

impl Running {
    /// "waiting on slow.example (12 s)" once nothing finished for [`STALL`], else nothing.
    fn waiting(&self, now: Instant) -> Option<String> {
        if now.duration_since(self.last_done) < STALL {
            return None;
        }
        let (target, since) = self.started.values().min_by_key(|(_, since)| *since)?;
        Some(format!(
            "waiting on {target} ({} s)",
            now.duration_since(*since).as_secs()
        ))
    }
}

/// One target under way; it is done when this is dropped.
pub struct Underway {
    id: u64,
    running: Arc<Mutex<Running>>,
}

impl Drop for Underway {
    fn drop(&mut self) {
        lock(&self.running).started.remove(&self.id);
    }
}

fn lock(running: &Mutex<Running>) -> std::sync::MutexGuard<'_, Running> {
    running.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Progress {
    /// A bar not shown yet: lines can be written through [`Progress::note`] before it starts.
    pub fn new() -> Progress {
        Progress {
            bar: ProgressBar::hidden(),
            running: Arc::new(Mutex::new(Running {
                next: 0,
                started: BTreeMap::new(),
                last_done: Instant::now(),
            })),
        }
    }

    /// Shows the bar for `total` targets (a counter when the total is not known: standard
    /// input), on standard error while it is a terminal and there is more than one target.
    pub fn start(&self, total: Option<usize>) {
        lock(&self.running).last_done = Instant::now();
        if total == Some(1) || !io::stderr().is_terminal() {
            return;
        }
        let template = if total.is_some() {
            "{wide_bar} {pos}/{len} targets  {rate}  eta {eta}  {waiting}"
        } else {
            "{spinner} {pos} targets  {rate}  {waiting}"
        };
        let running = Arc::clone(&self.running);
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&rate(state.per_sec()));
                },
            )
            .with_key(
                "waiting",
                move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                    if let Some(text) = lock(&running).waiting(Instant::now()) {
                        let _ = w.write_str(&text);
                    }
                },
            );
        self.bar.set_style(style);
        if let Some(total) = total {
            self.bar.set_length(total as u64);
        }
        self.bar.set_draw_target(ProgressDrawTarget::stderr());
        self.bar.enable_steady_tick(TICK);
    }

    /// A target starts: it is under way until the returned value is dropped.
    pub fn begin(&self, target: &str) -> Underway {
        let mut running = lock(&self.running);
        let id = running.next;
        running.next += 1;
        running
            .started
            .insert(id, (target.to_owned(), Instant::now()));
        Underway {
            id,
            running: Arc::clone(&self.running),
        }
    }

    /// A target's report is written.
    pub fn advance(&self) {
        lock(&self.running).last_done = Instant::now();
        self.bar.inc(1);
    }

    /// Writes a line on standard error without tearing the bar.
    pub fn note(&self, line: &str) {
        self.bar.suspend(|| crate::warn_line!("mailaudit: {line}"));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A rate as a whole number a second: `12/s`; `<1/s` below one.
fn rate(per_sec: f64) -> String {
    if per_sec > 0.0 && per_sec < 1.0 {
        "<1/s".to_owned()
    } else {
        format!("{per_sec:.0}/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_whole_numbers() {
        assert_eq!(rate(12.345_678), "12/s");
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(rate(0.25), "<1/s");
        assert_eq!(rate(99.5), "100/s");
    }

    #[test]
    fn a_stall_names_the_oldest_target_under_way() {
        let progress = Progress::new();
        let _first = progress.begin("slow.example");
        let second = progress.begin("quick.example");
        let now = Instant::now();
        let running = lock(&progress.running);
        assert_eq!(running.waiting(now), None, "not stalled yet");
        let later = now + STALL + Duration::from_secs(2);
        let text = running.waiting(later).expect("stalled");
        assert!(text.starts_with("waiting on slow.example ("), "{text}");
        drop(running);
        drop(second);
        assert_eq!(
            lock(&progress.running).started.len(),
            1,
            "done when dropped"
        );
    }

    #[test]
    fn a_target_that_finishes_ends_the_stall() {
        let progress = Progress::new();
        let underway = progress.begin("slow.example");
        drop(underway);
        let later = Instant::now() + STALL * 2;
        assert_eq!(
            lock(&progress.running).waiting(later),
            None,
            "nothing under way"
        );
    }
}
