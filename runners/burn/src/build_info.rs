//! What built this binary, embedded by build.rs: `ready.framework_version` and `ready.build`.

use crate::protocol::RunnerBuild;

/// The Burn release this runner is built against, as locked in Cargo.lock.
pub const BURN_VERSION: &str = env!("QWEN3_BURN_VERSION");

pub fn runner_build() -> RunnerBuild {
    RunnerBuild {
        commit: env!("QWEN3_BUILD_COMMIT").to_owned(),
        dirty: match env!("QWEN3_BUILD_DIRTY") {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        features: env!("QWEN3_BUILD_FEATURES").split(',').filter(|f| !f.is_empty()).map(str::to_owned).collect(),
        profile: env!("QWEN3_BUILD_PROFILE").to_owned(),
        built_at: Some(env!("QWEN3_BUILD_TIME").to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_version_is_the_locked_one() {
        let lock = include_str!("../Cargo.lock");
        let entry = lock.split("[[package]]").find(|p| p.contains("\nname = \"burn\"\n")).expect("burn in Cargo.lock");
        assert!(entry.contains(&format!("version = \"{BURN_VERSION}\"")), "{entry}");
        assert!(BURN_VERSION.starts_with("0.22"), "{BURN_VERSION}");
    }

    #[test]
    fn build_names_this_test_builds_features_and_profile() {
        let build = runner_build();
        assert_eq!(build.features.contains(&"cpu".to_owned()), cfg!(feature = "cpu"));
        assert!(["debug", "release"].contains(&build.profile.as_str()), "{}", build.profile);
        assert!(!build.commit.is_empty());
        let built_at = build.built_at.unwrap();
        assert_eq!(built_at.len(), "2026-11-29T13:45:00Z".len(), "{built_at}");
        assert!(built_at.ends_with('Z') && built_at.as_bytes()[10] == b'T', "{built_at}");
    }
}
