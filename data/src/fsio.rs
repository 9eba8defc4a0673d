//! Crash-safe writing.
//!
//! - One file ([`AtomicFile`], [`write_atomic`]): write to a temporary name
//!   in the same folder, fsync, rename over the target, fsync the folder. A
//!   crash leaves either the old file or the new one, never half of one.
//! - A set of files and folders written together ([`StagedDir`]: a data set
//!   of `data convert` or `data generate`): everything is written into a
//!   staging folder inside the target folder and fsynced; then a journal
//!   naming the entries is written atomically, and the entries are moved into
//!   place (the old ones to a trash folder). A crash before the journal
//!   leaves the previous state (the staging leftovers are removed by the next
//!   writer or reader); a crash after it is rolled forward by [`recover`],
//!   which every writer and reader of a data folder calls first. Either way a
//!   reader sees the previous set or the new one, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// A file being written under a temporary name; becomes `path` on [`AtomicFile::commit`].
/// Dropped without commit, the temporary file is removed and `path` is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `path` (its folder must exist).
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let target = path.as_ref().to_path_buf();
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).at(&tmp)?;
        Ok(Self {
            target,
            tmp,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Flushes, fsyncs, renames into place and fsyncs the folder.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("AtomicFile committed twice");
        let file = out
            .into_inner()
            .map_err(|e| crate::Error::io(&self.tmp, e.into_error()))?;
        file.sync_all().at(&self.tmp)?;
        drop(file);
        fs::rename(&self.tmp, &self.target).at(&self.target)?;
        sync_dir(self.target.parent().unwrap_or(Path::new(".")))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.as_mut().map_or(Ok(0), |o| o.write(buf))
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.out.as_mut() {
            Some(o) => o.write_all(buf),
            None => Err(io::Error::other("AtomicFile already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().map_or(Ok(()), |o| o.flush())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// fsyncs a folder so that a rename or create in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match File::open(dir) {
        Ok(f) => f.sync_all().at(dir),
        Err(e) => Err(crate::Error::io(dir, e)),
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path.as_ref())?;
    f.write_all(bytes).at(path.as_ref())?;
    f.commit()
}

/// The journal a [`StagedDir`] commit writes before it moves anything.
const JOURNAL: &str = ".hyrank-commit.json";
/// The lock a writer (or a reader that rolls a commit forward) holds.
const LOCK: &str = ".hyrank-lock";
const STAGING_PREFIX: &str = ".hyrank-staging-";
const TRASH_PREFIX: &str = ".hyrank-trash-";

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    staging: String,
    trash: String,
    entries: Vec<String>,
}

/// The exclusive right to change a folder (a data set, a registry);
/// released on drop.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
}

fn pid_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    // Where /proc is absent (not Linux) a lock is never taken over.
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

impl DirLock {
    /// Takes the lock of `dir`, waiting up to `wait` for a live holder; a
    /// lock left by a process that no longer runs is taken over.
    pub fn acquire(dir: &Path, wait: std::time::Duration) -> Result<Self> {
        let path = dir.join(LOCK);
        let started = std::time::Instant::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    write!(f, "{}", std::process::id()).at(&path)?;
                    f.sync_all().at(&path)?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if pid_alive(pid) => {
                            if started.elapsed() >= wait {
                                return Err(Error::Conflict(format!(
                                    "{}: another hyrank process (pid {pid}) is writing this folder; wait for it or stop it",
                                    dir.display()
                                )));
                            }
                            std::thread::sleep(std::time::Duration::from_millis(50));
                        }
                        // A lock of a killed process (or one torn before its pid
                        // was written): take it over.
                        _ => {
                            let _ = fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

fn remove_any(p: &Path) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).at(p),
        Ok(_) => fs::remove_file(p).at(p),
        Err(_) => Ok(()),
    }
}

/// Moves every staged entry into place (idempotent: an entry already moved
/// is skipped), removes the journal, then the trash and the staging folder.
fn roll_forward(dir: &Path, j: &Journal) -> Result<()> {
    let staging = dir.join(&j.staging);
    let trash = dir.join(&j.trash);
    fs::create_dir_all(&trash).at(&trash)?;
    for name in &j.entries {
        let from = staging.join(name);
        if !exists(&from) {
            continue; // moved before the crash
        }
        let target = dir.join(name);
        if exists(&target) {
            fs::rename(&target, trash.join(name)).at(&target)?;
        }
        fs::rename(&from, &target).at(&target)?;
    }
    sync_dir(dir)?;
    let journal = dir.join(JOURNAL);
    fs::remove_file(&journal).at(&journal)?;
    sync_dir(dir)?;
    remove_any(&trash)?;
    remove_any(&staging)
}

/// What [`recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// An interrupted commit was rolled forward.
    pub rolled_forward: bool,
    /// Leftovers of killed writers removed (staging, trash, temporary files).
    pub removed: Vec<String>,
}

/// AtomicFile's `.NAME.tmp-PID` of a process that no longer runs.
fn is_stale_temp_file(name: &str) -> bool {
    name.starts_with('.')
        && name
            .rsplit_once(".tmp-")
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
            .is_some_and(|pid| !pid_alive(pid))
}

fn recover_locked(dir: &Path) -> Result<Recovered> {
    let mut out = Recovered::default();
    let journal = dir.join(JOURNAL);
    if journal.exists() {
        let text = fs::read_to_string(&journal).at(&journal)?;
        let j: Journal = serde_json::from_str(&text).map_err(|e| Error::Log {
            path: journal.clone(),
            message: format!("unreadable commit journal: {e}"),
        })?;
        roll_forward(dir, &j)?;
        out.rolled_forward = true;
    }
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(STAGING_PREFIX)
            || name.starts_with(TRASH_PREFIX)
            || is_stale_temp_file(&name)
        {
            remove_any(&entry.path())?;
            out.removed.push(name);
        }
    }
    if !out.removed.is_empty() {
        sync_dir(dir)?;
    }
    Ok(out)
}

/// Removes the temporary files ([`AtomicFile`]'s `.NAME.tmp-PID`) that
/// killed processes left in `dir`; returns their names.
pub fn remove_stale_temp_files(dir: &Path) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_stale_temp_file(&name) {
            remove_any(&entry.path())?;
            removed.push(name);
        }
    }
    if !removed.is_empty() {
        sync_dir(dir)?;
    }
    Ok(removed)
}

/// Finishes what a killed writer left in `dir`: rolls an interrupted commit
/// forward and removes staging folders and temporary files. Writers call it
/// (through [`StagedDir::begin`]); readers call [`settle`].
pub fn recover(dir: &Path) -> Result<Recovered> {
    let _lock = DirLock::acquire(dir, std::time::Duration::from_secs(10))?;
    recover_locked(dir)
}

/// For readers: rolls an interrupted commit forward if `dir` holds one, so
/// that what is read is one whole data set. Does nothing (and writes nothing)
/// otherwise.
pub fn settle(dir: &Path) -> Result<()> {
    if dir.join(JOURNAL).exists() {
        recover(dir)?;
    }
    Ok(())
}

/// A set of files and folders written together into a folder. Write them
/// under [`StagedDir::path`]; [`StagedDir::commit`] puts them all in place
/// (see the module docs). Dropped without commit, the staging folder is
/// removed and the folder is as it was.
#[derive(Debug)]
pub struct StagedDir {
    dir: PathBuf,
    staging: PathBuf,
    id: String,
    lock: Option<DirLock>,
}

impl StagedDir {
    /// Starts writing into `dir` (created if absent): takes its lock, recovers
    /// what a killed writer left, and creates the staging folder.
    pub fn begin(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).at(dir)?;
        let lock = DirLock::acquire(dir, std::time::Duration::from_secs(10))?;
        recover_locked(dir)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let id = format!("{}-{nanos}", std::process::id());
        let staging = dir.join(format!("{STAGING_PREFIX}{id}"));
        fs::create_dir(&staging).at(&staging)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            staging,
            id,
            lock: Some(lock),
        })
    }

    /// Where the entry `name` is written before the commit.
    pub fn path(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// The folder the entries will be in.
    pub fn target(&self) -> &Path {
        &self.dir
    }

    /// Moves every staged entry into place atomically as a set; returns their
    /// final paths (sorted by name).
    pub fn commit(mut self) -> Result<Vec<PathBuf>> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(&self.staging).at(&self.staging)? {
            let entry = entry.at(&self.staging)?;
            entries.push(entry.file_name().to_string_lossy().into_owned());
        }
        entries.sort();
        sync_dir(&self.staging)?;
        let journal = Journal {
            staging: format!("{STAGING_PREFIX}{}", self.id),
            trash: format!("{TRASH_PREFIX}{}", self.id),
            entries,
        };
        let bytes =
            serde_json::to_vec(&journal).map_err(|e| Error::io(&self.dir, io::Error::other(e)))?;
        write_atomic(self.dir.join(JOURNAL), &bytes)?;
        roll_forward(&self.dir, &journal)?;
        self.lock.take();
        Ok(journal.entries.iter().map(|n| self.dir.join(n)).collect())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if self.lock.is_some() && !self.dir.join(JOURNAL).exists() {
            let _ = remove_any(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dir: &Path, name: &str) -> String {
        fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn staged_set_replaces_owned_entries_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("other.txt"), "mine").unwrap();
        let s = StagedDir::begin(dir.path()).unwrap();
        fs::write(s.path("a.txt"), "a1").unwrap();
        fs::create_dir(s.path("events")).unwrap();
        fs::write(s.path("events").join("x"), "x1").unwrap();
        let paths = s.commit().unwrap();
        assert_eq!(
            paths,
            vec![dir.path().join("a.txt"), dir.path().join("events")]
        );
        let s = StagedDir::begin(dir.path()).unwrap();
        fs::write(s.path("a.txt"), "a2").unwrap();
        s.commit().unwrap();
        assert_eq!(read(dir.path(), "a.txt"), "a2");
        assert_eq!(
            read(dir.path(), "events/x"),
            "x1",
            "entries not rewritten stay"
        );
        assert_eq!(read(dir.path(), "other.txt"), "mine");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names.len(),
            3,
            "no staging, trash, journal or lock left: {names:?}"
        );
        // Dropped without commit: nothing changes, nothing is left.
        {
            let s = StagedDir::begin(dir.path()).unwrap();
            fs::write(s.path("a.txt"), "abandoned").unwrap();
        }
        assert_eq!(read(dir.path(), "a.txt"), "a2");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    /// A crash at every step of a commit: after the journal, recovery rolls
    /// forward to the new set; before it, the old set stays.
    #[test]
    fn crash_at_each_step_of_a_commit_is_recovered() {
        for moved in 0..=3 {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            for n in ["a", "b", "c"] {
                fs::write(d.join(n), format!("old-{n}")).unwrap();
            }
            // The state a writer killed after the journal and `moved` renames leaves.
            let j = Journal {
                staging: format!("{STAGING_PREFIX}1-1"),
                trash: format!("{TRASH_PREFIX}1-1"),
                entries: vec!["a".into(), "b".into(), "c".into()],
            };
            fs::create_dir(d.join(&j.staging)).unwrap();
            fs::create_dir(d.join(&j.trash)).unwrap();
            for n in ["a", "b", "c"] {
                fs::write(d.join(&j.staging).join(n), format!("new-{n}")).unwrap();
            }
            for n in j.entries.iter().take(moved) {
                fs::rename(d.join(n), d.join(&j.trash).join(n)).unwrap();
                fs::rename(d.join(&j.staging).join(n), d.join(n)).unwrap();
            }
            fs::write(d.join(JOURNAL), serde_json::to_vec(&j).unwrap()).unwrap();
            fs::write(d.join(LOCK), "4294967295").unwrap(); // a dead holder
            settle(d).unwrap();
            for n in ["a", "b", "c"] {
                assert_eq!(read(d, n), format!("new-{n}"), "moved {moved}");
            }
            assert_eq!(fs::read_dir(d).unwrap().count(), 3, "moved {moved}");
        }
        // Killed before the journal: the old set stays, leftovers go.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("a"), "old").unwrap();
        fs::create_dir(d.join(format!("{STAGING_PREFIX}9-9"))).unwrap();
        fs::write(d.join(format!("{STAGING_PREFIX}9-9")).join("a"), "half").unwrap();
        fs::write(d.join(".a.tmp-4294967294"), "torn").unwrap();
        settle(d).unwrap();
        assert_eq!(
            fs::read_dir(d).unwrap().count(),
            3,
            "a reader without a journal writes nothing"
        );
        let r = recover(d).unwrap();
        assert!(!r.rolled_forward);
        assert_eq!(r.removed.len(), 2, "{r:?}");
        assert_eq!(read(d, "a"), "old");
        assert_eq!(fs::read_dir(d).unwrap().count(), 1);
    }

    #[test]
    fn a_live_writer_holds_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let _s = StagedDir::begin(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path(), std::time::Duration::from_millis(100))
            .unwrap_err()
            .to_string();
        assert!(err.contains("another hyrank process"), "{err}");
    }

    #[test]
    fn uncommitted_file_leaves_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"new but abandoned").unwrap();
        }
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file removed"
        );
        write_atomic(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
    }
}
