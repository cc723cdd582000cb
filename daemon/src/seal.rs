//! Sealing of API keys at rest: AES-256-GCM-SIV under a master key, with the account id as
//! associated data so a sealed value copied to another account fails to open.
//!
//! The master key is 32 raw bytes in a file that only the daemon's user may read. Every sealed
//! value records the id of the key that sealed it; the keyring can hold older keys so values sealed
//! before a rotation (and backups) stay readable while their key is kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aes_gcm_siv::Aes256GcmSiv;
use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::secret::{Credential, Secret};

pub const MASTER_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Domain separation: the associated data names what is sealed as well as whose it is.
const AAD_PREFIX: &[u8] = b"roster/v1/api-key/";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot read master key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "master key {path} is readable by group or others (mode {mode:o}); run: chmod 600 {path}"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("master key {path} must be exactly {MASTER_KEY_LEN} bytes, found {len}")]
    Size { path: PathBuf, len: usize },
    #[error("no master key with id {0} is loaded; cannot open values sealed with it")]
    UnknownKey(String),
    #[error(
        "sealed API key of account {0} failed authentication (tampered, or sealed for another account)"
    )]
    Tampered(String),
    #[error("sealed value is malformed")]
    Malformed,
}

/// A credential as stored: never the plaintext.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    /// How the plaintext is laid out. Absent in records of schema 1, which sealed an OpenAlgo
    /// API key alone; every value sealed since says `fields`.
    #[serde(default)]
    pub form: SealedForm,
}

/// The layout of a sealed plaintext.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealedForm {
    /// Schema 1: the bytes are OpenAlgo's API key. Opened as the credential `{api_key}`; a key
    /// rotation re-seals it as `Fields`.
    #[default]
    BareApiKey,
    /// A JSON object of the venue's credential fields ([`Credential::to_plaintext`]).
    Fields,
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedKey(key_id={})", self.key_id)
    }
}

/// One 32-byte master key and its id.
pub struct MasterKey {
    id: String,
    cipher: Aes256GcmSiv,
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != MASTER_KEY_LEN {
            return None;
        }
        let cipher = Aes256GcmSiv::new_from_slice(bytes).ok()?;
        Some(Self {
            id: key_id(bytes),
            cipher,
        })
    }

    /// Reads a key file, refusing one that group or others can read, or of the wrong size.
    pub fn load(path: &Path) -> Result<Self, SealError> {
        use std::os::unix::fs::PermissionsExt;
        let read_err = |source| SealError::Read {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read_err)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SealError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let bytes = std::fs::read(path).map_err(read_err)?;
        Self::from_bytes(&bytes).ok_or(SealError::Size {
            path: path.to_path_buf(),
            len: bytes.len(),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The key id is a fingerprint of the key (not the key): the first 8 bytes of a domain-separated
/// SHA-256, so the same key always has the same id and ids can be shown and logged.
fn key_id(bytes: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"roster/v1/key-id/")
        .chain_update(bytes)
        .finalize();
    hex::encode(digest.get(..8).unwrap_or_default())
}

/// 32 fresh random bytes for a new master key file.
pub fn generate_master_key() -> [u8; MASTER_KEY_LEN] {
    let mut key = [0u8; MASTER_KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    key
}

/// The active key seals; any loaded key opens.
pub struct Keyring {
    active: String,
    keys: BTreeMap<String, MasterKey>,
}

impl Keyring {
    pub fn new(active: MasterKey) -> Self {
        let id = active.id.clone();
        let mut keys = BTreeMap::new();
        keys.insert(id.clone(), active);
        Self { active: id, keys }
    }

    /// Adds a key that can open values but does not seal new ones (for example, the previous key).
    pub fn add_retired(&mut self, key: MasterKey) {
        self.keys.entry(key.id.clone()).or_insert(key);
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    pub fn key_ids(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    pub fn seal(&self, account_id: &str, credential: &Credential) -> Result<SealedKey, SealError> {
        let master = self
            .keys
            .get(&self.active)
            .ok_or_else(|| SealError::UnknownKey(self.active.clone()))?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = aad(account_id);
        let ciphertext = master
            .cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: &credential.to_plaintext(),
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Malformed)?;
        Ok(SealedKey {
            key_id: master.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
            form: SealedForm::Fields,
        })
    }

    pub fn unseal(&self, account_id: &str, sealed: &SealedKey) -> Result<Credential, SealError> {
        let master = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| SealError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; NONCE_LEN] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| SealError::Malformed)?;
        let aad = aad(account_id);
        let plain = master
            .cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Tampered(account_id.to_string()))?;
        match sealed.form {
            SealedForm::BareApiKey => String::from_utf8(plain)
                .map(|key| Credential::api_key(Secret::new(key)))
                .map_err(|_| SealError::Malformed),
            SealedForm::Fields => Credential::from_plaintext(&plain).ok_or(SealError::Malformed),
        }
    }
}

fn aad(account_id: &str) -> Vec<u8> {
    [AAD_PREFIX, account_id.as_bytes()].concat()
}

// ---------------------------------------------------------------------------------------------
// Key files and rotation.
//
// The active key lives in the configured file. Rotation stages the new key as `<file>.next`,
// re-seals every value in one transaction, then renames the old key to `<file>.retired-<id>` and
// the new one into place. At startup every `<file>.next` and `<file>.retired-*` is loaded too, so
// a crash at any step, or a backup taken before the rotation, never leaves a value unopenable.

const NEXT_SUFFIX: &str = ".next";
const RETIRED_SUFFIX: &str = ".retired-";

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// The active key from `path` plus every staged or retired key beside it.
pub fn load_keyring(path: &Path) -> Result<Keyring, SealError> {
    let mut ring = Keyring::new(MasterKey::load(path)?);
    let (Some(dir), Some(base)) = (path.parent(), path.file_name()) else {
        return Ok(ring);
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let base = base.to_string_lossy();
    let entries = std::fs::read_dir(dir).map_err(|source| SealError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(base.as_ref()) else {
            continue;
        };
        if rest == NEXT_SUFFIX {
            match MasterKey::load(&entry.path()) {
                Ok(key) => ring.add_retired(key),
                // A staged key of the wrong size was never used to seal anything (a rotation
                // seals only with a key that loaded): it is what a rotation on a full disk
                // left behind, so it is set aside rather than refusing to start.
                Err(SealError::Size { len, .. }) => set_aside_next_key(&entry.path(), len),
                Err(e) => return Err(e),
            }
        } else if rest.starts_with(RETIRED_SUFFIX) {
            ring.add_retired(MasterKey::load(&entry.path())?);
        }
    }
    Ok(ring)
}

/// Moves an incomplete staged key out of the way (`<file>.next.invalid-<time>`, so the next
/// rotation can stage a new one), or leaves it when its directory is read-only; says so either way.
fn set_aside_next_key(next: &Path, len: usize) {
    let mut name = next
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    name.push(format!(".invalid-{millis}"));
    let aside = next.with_file_name(name);
    match std::fs::rename(next, &aside) {
        Ok(()) => tracing::warn!(
            file = %next.display(),
            moved_to = %aside.display(),
            bytes = len,
            "ignoring an incomplete staged master key (an interrupted rotation); it was never used and was moved aside"
        ),
        Err(e) => tracing::warn!(
            file = %next.display(),
            bytes = len,
            error = %e,
            "ignoring an incomplete staged master key (an interrupted rotation); it was never used; remove it before the next rotation"
        ),
    }
}

/// Writes a new random master key to `path`, which must not exist yet: never readable by others
/// (mode 0600 from the start), and complete or absent (see [`write_file_atomically`]).
pub fn create_key_file(path: &Path) -> Result<MasterKey, SealError> {
    let bytes = generate_master_key();
    write_file_atomically(path, &bytes, 0o600).map_err(|source| SealError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    MasterKey::from_bytes(&bytes).ok_or(SealError::Malformed)
}

/// Creates `path` (which must not exist) holding exactly `bytes`, or leaves nothing there
/// ([`crate::pki::file::write_whole`], never replacing). A full disk or a crash part way used to
/// leave a 0-byte or short key file that the next start refused.
pub fn write_file_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    crate::pki::file::write_whole(path, bytes, mode, crate::pki::file::Existing::Keep)
}

/// Step 1 of a rotation: the key to rotate to, `<path>.next`. An operator may provide it (for
/// example as a systemd credential next to the master key); a file left by an interrupted
/// rotation may already seal live values, so it is reused, never replaced. Only when there is
/// none is a new random key written there. Returns the key and whether it was generated.
pub fn next_key(path: &Path) -> Result<(MasterKey, bool), SealError> {
    let next = sibling(path, NEXT_SUFFIX);
    if next.exists() {
        return Ok((MasterKey::load(&next)?, false));
    }
    Ok((create_key_file(&next)?, true))
}

/// The file name a retired key is kept under, beside `path`.
pub fn retired_key_path(path: &Path, id: &str) -> PathBuf {
    sibling(path, &format!("{RETIRED_SUFFIX}{id}"))
}

pub fn next_key_path(path: &Path) -> PathBuf {
    sibling(path, NEXT_SUFFIX)
}

/// Step 3 of a rotation, after the database holds only values sealed with the staged key:
/// keep the old key as `<path>.retired-<old id>` and move the staged key into place.
pub fn promote_next_key(path: &Path, old_id: &str) -> Result<(), SealError> {
    let err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| SealError::Read { path: p, source }
    };
    // The active key file exists at every moment: the old key gets its second name first, then
    // the staged key replaces it in one rename. (Renaming the old key away first left no master
    // key at all if the daemon died between the two steps, and the next start failed.)
    let retired = retired_key_path(path, old_id);
    match std::fs::hard_link(path, &retired) {
        Ok(()) => {}
        // Kept by an earlier attempt of this same rotation.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(err(path)(e)),
    }
    let next = sibling(path, NEXT_SUFFIX);
    std::fs::rename(&next, path).map_err(err(&next))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

impl Keyring {
    /// A keyring that seals with `key` and still opens everything this one opens.
    pub fn rotated_to(&self, key: MasterKey) -> Keyring {
        let mut next = Keyring::new(key);
        for (id, old) in &self.keys {
            next.keys.entry(id.clone()).or_insert_with(|| MasterKey {
                id: old.id.clone(),
                cipher: old.cipher.clone(),
            });
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Credential {
        Credential::api_key(Secret::new(k))
    }

    #[test]
    fn a_schema_1_bare_api_key_opens_as_the_api_key_field() {
        let r = ring();
        let mut sealed = r.seal("acc-1", &key("placeholder")).unwrap();
        // What schema 1 sealed: the key's bytes alone, with no `form` in the record.
        let master = r.keys.get(r.active_id()).unwrap();
        let nonce: [u8; NONCE_LEN] = sealed.nonce.as_slice().try_into().unwrap();
        sealed.ciphertext = master
            .cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: b"demo-key-1",
                    aad: &aad("acc-1"),
                },
            )
            .unwrap();
        let mut json = serde_json::to_value(&sealed).unwrap();
        json.as_object_mut().unwrap().remove("form");
        let old: SealedKey = serde_json::from_value(json).unwrap();
        assert_eq!(old.form, SealedForm::BareApiKey);
        assert_eq!(r.unseal("acc-1", &old).unwrap(), key("demo-key-1"));
    }

    fn ring() -> Keyring {
        Keyring::new(MasterKey::from_bytes(&generate_master_key()).unwrap())
    }

    #[test]
    fn seal_round_trip_and_fresh_nonce_each_time() {
        let r = ring();
        let k = key("the-api-key-0123456789");
        let a = r.seal("acc-1", &k).unwrap();
        let b = r.seal("acc-1", &k).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(r.unseal("acc-1", &a).unwrap(), k);
        assert_eq!(a.key_id, r.active_id());
    }

    #[test]
    fn flipped_byte_or_other_account_fails_closed() {
        let r = ring();
        let sealed = r.seal("acc-1", &key("k")).unwrap();
        for i in 0..sealed.ciphertext.len() {
            let mut t = sealed.clone();
            t.ciphertext[i] ^= 0x01;
            assert!(matches!(r.unseal("acc-1", &t), Err(SealError::Tampered(_))));
        }
        let mut t = sealed.clone();
        t.nonce[0] ^= 0x80;
        assert!(matches!(r.unseal("acc-1", &t), Err(SealError::Tampered(_))));
        let err = r.unseal("acc-2", &sealed).unwrap_err();
        assert!(err.to_string().contains("acc-2"), "{err}");
    }

    #[test]
    fn wrong_key_and_unknown_key_id_fail_closed() {
        let a = ring();
        let b = ring();
        let sealed = a.seal("acc-1", &key("k")).unwrap();
        assert!(matches!(
            b.unseal("acc-1", &sealed),
            Err(SealError::UnknownKey(_))
        ));
        let mut forged = sealed.clone();
        forged.key_id = b.active_id().to_string();
        assert!(matches!(
            b.unseal("acc-1", &forged),
            Err(SealError::Tampered(_))
        ));
    }

    #[test]
    fn retired_key_still_opens() {
        let old = generate_master_key();
        let r_old = Keyring::new(MasterKey::from_bytes(&old).unwrap());
        let sealed = r_old.seal("acc-1", &key("k")).unwrap();
        let mut r_new = ring();
        r_new.add_retired(MasterKey::from_bytes(&old).unwrap());
        assert_eq!(r_new.unseal("acc-1", &sealed).unwrap(), key("k"));
    }

    #[test]
    fn rotation_files_keep_every_key_loadable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("master-key");
        std::fs::write(&p, generate_master_key()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let old = load_keyring(&p).unwrap();
        let sealed_old = old.seal("a", &key("k1")).unwrap();
        let (next, generated) = next_key(&p).unwrap();
        assert!(generated);
        let next_id = next.id().to_string();
        // A crash here: the staged key is loaded too, as a retired key.
        assert!(load_keyring(&p).unwrap().key_ids().contains(&next_id));
        let ring = old.rotated_to(next);
        let sealed_new = ring.seal("a", &key("k2")).unwrap();
        promote_next_key(&p, old.active_id()).unwrap();
        let reloaded = load_keyring(&p).unwrap();
        assert_eq!(reloaded.active_id(), next_id);
        assert_eq!(reloaded.unseal("a", &sealed_old).unwrap(), key("k1"));
        assert_eq!(reloaded.unseal("a", &sealed_new).unwrap(), key("k2"));
    }

    #[test]
    fn key_file_permissions_and_size_are_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("master-key");
        std::fs::write(&p, generate_master_key()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            MasterKey::load(&p),
            Err(SealError::Permissions { .. })
        ));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(MasterKey::load(&p).is_ok());
        std::fs::write(&p, b"short").unwrap();
        assert!(matches!(
            MasterKey::load(&p),
            Err(SealError::Size { len: 5, .. })
        ));
    }

    #[test]
    fn an_incomplete_staged_key_is_set_aside_not_fatal() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("master-key");
        let active = create_key_file(&p).unwrap();
        // What a rotation on a full disk used to leave.
        let next = next_key_path(&p);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&next)
            .unwrap();
        let ring = load_keyring(&p).unwrap();
        assert_eq!(ring.key_ids(), vec![active.id().to_string()]);
        assert!(!next.exists(), "set aside");
        let (staged, generated) = next_key(&p).unwrap();
        assert!(generated);
        assert_eq!(std::fs::read(&next).unwrap().len(), MASTER_KEY_LEN);
        assert_ne!(staged.id(), active.id());
    }

    #[test]
    fn a_key_file_is_never_replaced_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("master-key");
        let first = create_key_file(&p).unwrap();
        assert!(create_key_file(&p).is_err());
        assert_eq!(MasterKey::load(&p).unwrap().id(), first.id());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
