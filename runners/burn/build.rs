//! Embeds what built the runner (src/build_info.rs, `ready.build`): the repository's commit,
//! whether this crate's files differed from it, the Cargo features and profile, the build time,
//! and the Burn version locked in Cargo.lock.
//!
//! Cargo recompiles the crate whenever this script re-runs, whatever it prints, so it re-runs
//! only when its answers can change: this crate's files (an edit) and the git files that say which
//! commit is checked out (a commit or a checkout). Not `.git/index`, which any `git add` in the
//! repository rewrites, and git is asked with GIT_OPTIONAL_LOCKS=0 so that its `status` does not
//! rewrite the index either.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// This crate's inputs, relative to its folder; their state decides `dirty`.
const CRATE_INPUTS: [&str; 4] = ["src", "build.rs", "Cargo.toml", "Cargo.lock"];

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for input in CRATE_INPUTS {
        println!("cargo:rerun-if-changed={input}");
    }
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let git = |args: &[&str]| git_output(&crate_dir, args);
    let commit = git(&["describe", "--always"]);
    let dirty = commit.as_ref().and_then(|_| {
        let mut status = vec!["status", "--porcelain", "--"];
        status.extend(CRATE_INPUTS);
        git(&status).map(|changes| !changes.is_empty())
    });
    if commit.is_some() {
        for file in checkout_files(&crate_dir) {
            println!("cargo:rerun-if-changed={}", file.display());
        }
    }

    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(name, _)| name.strip_prefix("CARGO_FEATURE_").map(|f| f.to_lowercase().replace('_', "-")))
        .filter(|feature| feature != "default") // `default = []`: it names nothing
        .collect();
    features.sort();

    let env = |name: &str, value: &str| println!("cargo:rustc-env={name}={value}");
    env("QWEN3_BUILD_COMMIT", commit.as_deref().unwrap_or("unknown"));
    env("QWEN3_BUILD_DIRTY", &dirty.map_or(String::new(), |d| d.to_string()));
    env("QWEN3_BUILD_FEATURES", &features.join(","));
    env("QWEN3_BUILD_PROFILE", &std::env::var("PROFILE").unwrap_or_default());
    env("QWEN3_BUILD_TIME", &iso8601_utc(build_time_s()));
    env("QWEN3_BURN_VERSION", &locked_version(&crate_dir.join("Cargo.lock"), "burn"));
}

/// Trimmed stdout of a successful `git ARGS` run in `dir`; `None` without git or a repository.
fn git_output(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).current_dir(dir).env("GIT_OPTIONAL_LOCKS", "0").output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The files a commit or checkout rewrites: HEAD, the branch it points to, packed refs. Only
/// existing ones: cargo re-runs the script on every build for a path that does not exist.
fn checkout_files(crate_dir: &Path) -> Vec<PathBuf> {
    let mut refs = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    refs.extend(git_output(crate_dir, &["symbolic-ref", "-q", "HEAD"]));
    refs.iter()
        .filter_map(|name| git_output(crate_dir, &["rev-parse", "--git-path", name]))
        .map(|path| crate_dir.join(path))
        .filter(|path| path.is_file())
        .collect()
}

/// SOURCE_DATE_EPOCH where set (reproducible builds), else now; seconds since 1970.
fn build_time_s() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since 1970 (days to a civil date: Howard Hinnant's algorithm).
fn iso8601_utc(seconds: u64) -> String {
    let (days, second_of_day) = ((seconds / 86_400) as i64, seconds % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let (hour, minute, second) = (second_of_day / 3_600, second_of_day % 3_600 / 60, second_of_day % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// The version of package `name` in Cargo.lock.
fn locked_version(lock_path: &Path, name: &str) -> String {
    let lock = std::fs::read_to_string(lock_path).unwrap_or_else(|e| panic!("{}: {e}", lock_path.display()));
    lock.split("[[package]]")
        .find(|entry| entry.contains(&format!("\nname = \"{name}\"\n")))
        .and_then(|entry| entry.lines().find_map(|line| line.strip_prefix("version = \"")?.strip_suffix('"')))
        .unwrap_or_else(|| panic!("{}: no package {name:?}", lock_path.display()))
        .to_owned()
}
