//! What oracles and reports read of a [`SimDisk`]: counts, damage, images and files as they
//! are live and durable. Nothing here changes the disk or counts as a call.

use super::*;

impl SimDisk {
    /// The latency model its calls draw from (the KV of the same plan draws from the same).
    pub fn latency_model(&self) -> Option<LatencyModel> {
        self.state().latency
    }

    /// A read-only view for oracles: its calls are not counted, fire no faults, take no time
    /// and work without power, so checking the disk never changes the run being checked.
    /// Writes through it fail.
    pub fn observer(&self) -> SimDisk {
        SimDisk {
            inner: self.inner.clone(),
            observer: true,
        }
    }

    /// Calls made so far (the clock that plan events are keyed by).
    pub fn ops(&self) -> u64 {
        self.state().stats.ops
    }

    pub fn stats(&self) -> DiskStats {
        self.state().stats.clone()
    }

    /// Every byte range media faults damaged so far.
    pub fn media_damage(&self) -> Vec<MediaDamage> {
        self.state().damage.clone()
    }

    /// Whether calls take simulated time at all (a plan may have no latency model).
    pub fn models_latency(&self) -> bool {
        self.state().latency.is_some()
    }

    /// Takes the simulated latency of every sync call so far (microseconds).
    pub fn take_sync_latencies_us(&self) -> Vec<u64> {
        std::mem::take(&mut self.state().sync_latencies_us)
    }

    /// Every file removed so far, in order, with the bytes reads of it saw at the removal: what
    /// a truncation took from the log, for oracles that must judge records no scan saw before
    /// they went (a removal a crash undid puts the file back, and it is listed here all the same).
    pub fn removed_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        self.state().removed.clone()
    }

    /// Every fault that fired, resolved to where it landed, in order.
    pub fn fault_log(&self) -> Vec<String> {
        self.state().fault_log.clone()
    }

    /// Bytes in use (sum of the live lengths of linked files).
    pub fn usage_bytes(&self) -> u64 {
        self.state().usage_bytes()
    }

    /// What a crash that drops everything pending would leave of `path`.
    pub fn durable_file(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.state();
        let (dir, name) = split(path).ok()?;
        if !s.durably_reachable(&dir) {
            return None;
        }
        let ino = s.dirs.get(&dir)?.durable.get(&name)?;
        Some(s.inodes.get(ino)?.durable.clone())
    }

    /// The names `dir` lists now (live entries, durable or not), sorted; empty if it is gone.
    pub fn live_names(&self, dir: &Path) -> Vec<String> {
        self.state()
            .dirs
            .get(dir)
            .map(|d| d.live.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Bytes `[start, end)` (clamped to the file) of the synced contents of the file `path`
    /// names now, with every bit rot and misdirected landing that struck them since they were
    /// synced undone: what the engine wrote and a reader could have read before the medium
    /// failed. A damaged byte written again since (it no longer holds what the fault left) is
    /// left as it is.
    pub fn synced_range_before_damage(&self, path: &Path, start: u64, end: u64) -> Option<Vec<u8>> {
        let s = self.state();
        let (dir, name) = split(path).ok()?;
        let ino = *s.dirs.get(&dir)?.live.get(&name)?;
        let bytes = &s.inodes.get(&ino)?.durable;
        let end = end.min(bytes.len() as u64);
        let start = start.min(end);
        let mut out = bytes[start as usize..end as usize].to_vec();
        // Newest first, so each undo meets the bytes its own fault left.
        for o in s.overwritten.iter().rev().filter(|o| o.ino == ino) {
            for (i, (&was, &now)) in o.was.iter().zip(&o.now).enumerate() {
                let at = o.offset + i as u64;
                if (start..end).contains(&at) {
                    let byte = &mut out[(at - start) as usize];
                    if *byte == now {
                        *byte = was;
                    }
                }
            }
        }
        Some(out)
    }

    /// What reads of `path` see now.
    pub fn live_file(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.state();
        let (dir, name) = split(path).ok()?;
        let ino = s.dirs.get(&dir)?.live.get(&name)?;
        Some(s.inodes.get(ino)?.live.clone())
    }

    /// A canonical serialisation of the durable state (directories, names, contents).
    pub fn durable_image(&self) -> Vec<u8> {
        self.state().image(true)
    }

    /// blake3 of the durable and the live image together, hex.
    pub fn image_digest(&self) -> String {
        let s = self.state();
        let mut h = blake3::Hasher::new();
        h.update(&s.image(true));
        h.update(&s.image(false));
        h.finalize().to_hex().to_string()
    }

    /// Echoes every later entry of the call trace to stderr, one line each (`disk #N TAG
    /// DIGEST`), for finding where two runs that should be one first part (`check-determinism`
    /// diffs two processes' echoes). Changes nothing the run does.
    pub fn echo_trace(&self) {
        let mut s = self.state();
        if s.trace_echoed.is_none() {
            s.trace_echoed = Some(0);
        }
    }

    /// blake3 of every call, its result and every fault so far, hex.
    pub fn trace_digest(&self) -> String {
        self.state().trace.finalize().to_hex().to_string()
    }
}
