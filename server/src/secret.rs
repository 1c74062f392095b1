//! The HS256 signing secret when `JWT_SECRET` is not set: generated on first
//! start and kept in `<DATA_DIR>/jwt_secret`, readable by the owner only, so
//! tokens stay valid across restarts without anyone choosing a secret.

use std::{
    io,
    path::{Path, PathBuf},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use secrecy::SecretString;

use crate::{
    config::MIN_SECRET_BYTES,
    files::{self, FileError},
};

/// Why the kept secret could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{} is not text", path.display())]
    NotText { path: PathBuf },
    #[error("{} holds fewer than {MIN_SECRET_BYTES} bytes; delete it to generate a new secret", path.display())]
    TooShort { path: PathBuf },
    #[error("there is no server secret in {}: start the server once with this DATA_DIR (or set JWT_SECRET) first", path.display())]
    Missing { path: PathBuf },
}

/// Returns the secret kept in `dir/jwt_secret`, creating the folder (mode
/// 0700) and a new random 384-bit secret (mode 0600) if there is none yet.
/// A kept secret that other users can read is refused.
pub fn load_or_create(dir: &Path) -> Result<SecretString, SecretError> {
    let path = dir.join("jwt_secret");
    files::data_dir(dir)?;

    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let fresh = URL_SAFE_NO_PAD.encode(bytes);
    match files::create_private(&path, fresh.as_bytes()) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new JWT signing secret");
            return Ok(SecretString::from(fresh));
        }
        // Another process (or an earlier start) created it first: use that one.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => return Err(FileError::Io { path, source }.into()),
    }

    read(path)
}

/// Returns the secret kept in `dir/jwt_secret`, without creating one: for
/// commands whose work is keyed by the secret the server uses (an app's
/// secret is hashed under it), so a secret made anew would be one the
/// server does not have.
pub fn load(dir: &Path) -> Result<SecretString, SecretError> {
    let path = dir.join("jwt_secret");
    if !path.exists() {
        return Err(SecretError::Missing { path });
    }
    read(path)
}

fn read(path: PathBuf) -> Result<SecretString, SecretError> {
    let kept = files::read_private(&path)?;
    let kept = String::from_utf8(kept).map_err(|_| SecretError::NotText { path: path.clone() })?;
    let kept = kept.trim();
    if kept.len() < MIN_SECRET_BYTES {
        return Err(SecretError::TooShort { path });
    }
    Ok(SecretString::from(kept.to_owned()))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn first_start_generates_a_private_secret_and_later_starts_reuse_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested/data");
        let first = load_or_create(&data).unwrap();
        assert!(first.expose_secret().len() >= MIN_SECRET_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join("jwt_secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = load_or_create(&data).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
    }

    #[test]
    fn a_truncated_secret_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        files::create_private(&dir.path().join("jwt_secret"), b"short").unwrap();
        let err = load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, SecretError::TooShort { .. }));
        assert!(!err.to_string().contains("short\""));
    }
}
