//! Failure artifacts: everything needed to replay a failing run exactly.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::RunConfig;

/// A saved failure: the full config (with its fault plan made explicit), the verdict and the
/// build that produced it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Artifact {
    pub format: String,
    pub seed: u64,
    pub arena: String,
    pub verdict: String,
    pub message: String,
    pub fingerprint: String,
    pub commit: String,
    pub build_profile: String,
    /// The scheduler the run was on (`turmoil`, or `madsim` for a `--cfg madsim` build);
    /// `turmoil` in artifacts written before madsim existed.
    #[serde(default = "turmoil_world")]
    pub world: String,
    pub options: std::collections::BTreeMap<String, String>,
    pub reproduce: String,
    pub config: RunConfig,
}

fn turmoil_world() -> String {
    "turmoil".to_owned()
}

pub const ARTIFACT_FORMAT: &str = "stemedb-sim-failure/v1";

impl Artifact {
    pub fn path_in(dir: &Path, arena: &str, seed: u64) -> PathBuf {
        dir.join(format!("failure-{arena}-{seed}.json"))
    }

    pub fn save(&self, dir: &Path) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = Self::path_in(dir, &self.arena, self.seed);
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }

    pub fn load(path: &Path) -> Result<Artifact, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read artifact {}: {e}", path.display()))?;
        let artifact: Artifact = serde_json::from_str(&text)
            .map_err(|e| format!("artifact {} is not valid: {e}", path.display()))?;
        if artifact.format != ARTIFACT_FORMAT {
            return Err(format!(
                "artifact {} has format {:?}; this build reads {ARTIFACT_FORMAT:?}",
                path.display(),
                artifact.format
            ));
        }
        if artifact.world != crate::world::NAME {
            // The same seed on another scheduler is another run: replaying it here would pass or
            // fail for reasons of its own and say nothing about the recorded failure.
            return Err(format!(
                "artifact {} was recorded on the {} world and this build runs the {} world; its \
                 reproduce line builds the right one: {}",
                path.display(),
                artifact.world,
                crate::world::NAME,
                artifact.reproduce
            ));
        }
        Ok(artifact)
    }
}
