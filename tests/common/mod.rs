//! Running the kensa binary from integration tests, shared by the end-to-end suites.

#![allow(dead_code)] // each test binary uses its own subset

use std::ffi::OsString;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

/// An upper bound for any single run of the binary, so a hang fails instead of blocking.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// One finished run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// The JSON report on standard output.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}); exit {}\nstdout:\n{}\nstderr:\n{}", self.code, self.stdout, self.stderr)
        })
    }
}

/// Runs `kensa ARGS` with the locale variables cleared (so reports default to English) plus
/// `env`, and waits for it without blocking the runtime the test servers run on.
pub async fn kensa_with_env(args: Vec<OsString>, env: &[(&str, &str)]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kensa"));
    command
        .args(&args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let started = Instant::now();
    let output = tokio::time::timeout(RUN_LIMIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("kensa {args:?} ran longer than {RUN_LIMIT:?}"))
        .expect("run the kensa binary");
    let run = Run {
        code: output.status.code().unwrap_or_else(|| panic!("kensa {args:?} was killed: {:?}", output.status)),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    };
    assert!(!run.stderr.contains("panicked"), "kensa {args:?} panicked:\n{}", run.stderr);
    run
}

pub async fn kensa(args: Vec<OsString>) -> Run {
    kensa_with_env(args, &[]).await
}

/// Builds an argument list from strings and paths.
#[macro_export]
macro_rules! args {
    ($($arg:expr),* $(,)?) => {
        vec![$(std::ffi::OsString::from($arg)),*]
    };
}
