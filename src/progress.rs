//! The progress bar of `kensa scan` on a terminal: endpoints done out of endpoints planned,
//! and the connections they took.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::probe::{Progress, ProgressSink};

/// An indicatif bar on standard error, fed by scan [`Progress`] events.
pub struct ProgressBar {
    bar: indicatif::ProgressBar,
    connections: Arc<AtomicU64>,
}

impl ProgressBar {
    /// A bar with no length yet; it learns it from [`Progress::Planned`].
    pub fn new() -> ProgressBar {
        let bar = indicatif::ProgressBar::new(0);
        let style = indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        ProgressBar { bar, connections: Arc::new(AtomicU64::new(0)) }
    }

    /// The sink that advances this bar.
    pub fn sink(&self) -> ProgressSink {
        let bar = self.bar.clone();
        let connections = self.connections.clone();
        ProgressSink(Arc::new(move |event| match event {
            Progress::Planned { endpoints } => bar.set_length(endpoints as u64),
            Progress::EndpointDone { label, connections: used } => {
                let total = connections.fetch_add(u64::from(used), Ordering::Relaxed) + u64::from(used);
                bar.set_message(format!("{label} · {total} connections"));
                bar.inc(1);
            }
        }))
    }

    /// Removes the bar from the terminal.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

impl Default for ProgressBar {
    fn default() -> Self {
        ProgressBar::new()
    }
}
