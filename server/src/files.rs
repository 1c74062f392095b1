//! Files the server keeps: the data folder, the SQLite database and its
//! journals, secrets and keys. Each is readable by the server's own user only
//! (folders `0700`, files `0600`) from the moment it exists, and a secret that
//! others can already read is refused rather than used: it may have been
//! copied, and only the operator can decide whether to replace it.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

/// Why a kept file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read or create {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{} is readable by other users (mode {mode:04o}); \
         run `chmod 600 {}`, and replace it if others may have copied it",
        path.display(),
        path.display()
    )]
    Exposed { path: PathBuf, mode: u32 },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `dir` and any missing parent readable by this user only. Folders
/// that exist are left as they are: a database path such as `/tmp/app.db`
/// must not change who may use `/tmp`.
pub fn private_dir(dir: &Path) -> Result<(), FileError> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_error(dir))
}

/// The server's data folder: created private, or narrowed to `0700` if an
/// earlier version created it wider. It holds only the server's own files.
pub fn data_dir(dir: &Path) -> Result<(), FileError> {
    private_dir(dir)?;
    narrow(dir, 0o700)
}

/// Writes `contents` to a new file, readable by this user only from the
/// moment it exists. Fails with `AlreadyExists` when the file is there.
pub fn create_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Reads a kept secret or key, refusing it if anyone but this user may read it.
pub fn read_private(path: &Path) -> Result<Vec<u8>, FileError> {
    refuse_if_exposed(path)?;
    fs::read(path).map_err(io_error(path))
}

/// Refuses a kept secret or key whose mode lets others read it.
pub fn refuse_if_exposed(path: &Path) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(io_error(path))?
            .permissions()
            .mode()
            & 0o7777;
        if mode & 0o077 != 0 {
            return Err(FileError::Exposed {
                path: path.to_owned(),
                mode,
            });
        }
    }
    Ok(())
}

/// Makes sure the SQLite database at `path` and the journals SQLite keeps
/// beside it are `0600`. A new database file is created empty with that mode
/// before SQLite opens it: SQLite gives its `-wal` and `-shm` files the mode
/// of the database file, so they are private from their first byte too.
pub fn private_database(path: &Path) -> Result<(), FileError> {
    if let Some(parent) = path.parent() {
        private_dir(parent)?;
    }
    match create_private(path, b"") {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error(path)(e)),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = PathBuf::from(file);
        if file.exists() {
            narrow(&file, 0o600)?;
        }
    }
    Ok(())
}

/// Removes every permission beyond `mode` from `path` (ours, so allowed).
fn narrow(path: &Path, mode: u32) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = fs::metadata(path)
            .map_err(io_error(path))?
            .permissions()
            .mode()
            & 0o7777;
        if current & !mode != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(current & mode))
                .map_err(io_error(path))?;
            tracing::info!(path = %path.display(), from = format!("{current:04o}"), to = format!("{:04o}", current & mode), "narrowed permissions");
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_folders_and_files_are_private_and_wide_old_ones_are_narrowed() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/b");
        data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);

        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&data).unwrap();
        assert_eq!(
            mode(&data),
            0o755,
            "a folder that exists is not ours to narrow"
        );
        data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700, "the data folder is");

        let db = data.join("app.db");
        fs::write(data.join("app.db-wal"), b"").unwrap();
        fs::set_permissions(data.join("app.db-wal"), fs::Permissions::from_mode(0o644)).unwrap();
        private_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&data.join("app.db-wal")), 0o600);
    }

    #[test]
    fn a_secret_that_others_can_read_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt_secret");
        create_private(&path, b"secret").unwrap();
        assert_eq!(read_private(&path).unwrap(), b"secret");
        for wide in [0o640, 0o604, 0o644] {
            fs::set_permissions(&path, fs::Permissions::from_mode(wide)).unwrap();
            let error = read_private(&path).unwrap_err().to_string();
            assert!(
                error.contains("jwt_secret is readable by other users"),
                "{error}"
            );
            assert!(error.contains(&format!("{wide:04o}")), "{error}");
        }
    }
}
