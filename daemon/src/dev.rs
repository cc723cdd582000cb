//! `rosterd --dev`: a complete local setup in one directory, made on first run and reused after.
//!
//! The directory holds the dev PKI exactly as `rosterctl pki init --dir` lays it out (so
//! `rosterctl pki issue --dir DIR` works on it), a master key, the database, and `rosterd.toml`
//! with absolute paths to all of them. Settings from `--config FILE` are laid over that file.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigError};
use crate::pki;
use crate::runtime::DB_FILE;

pub const DEFAULT_STATE_DIR: &str = ".roster-dev";
pub const MASTER_KEY_FILE: &str = "master-key";
pub const CONFIG_FILE: &str = "rosterd.toml";

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("cannot prepare dev state dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DevError + '_ {
    move |source| DevError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates what is missing in `dir` and returns the effective config: DIR/rosterd.toml, with
/// `overrides` (a TOML file) laid over it key by key.
pub fn prepare(dir: &Path, overrides: Option<&Path>) -> Result<Config, DevError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))?;
    let dir = dir.canonicalize().map_err(io_err(dir))?;
    pki::ensure_dev(&dir)?;

    let key_path = dir.join(MASTER_KEY_FILE);
    if !key_path.exists() {
        crate::seal::create_key_file(&key_path)?;
    }

    let config_path = dir.join(CONFIG_FILE);
    if !config_path.exists() {
        std::fs::write(&config_path, dev_config_text(&dir)).map_err(io_err(&config_path))?;
    }
    let mut table: toml::Table = config::parse(&read(&config_path)?, &config_path)?;
    if let Some(extra) = overrides {
        // Check the overrides on their own first, so a bad key or value is reported at its
        // place in the file the operator wrote, not in the merged text.
        let text = read(extra)?;
        config::parse::<Config>(&text, extra)?;
        merge(&mut table, config::parse(&text, extra)?);
    }
    let text = toml::to_string(&table).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    Ok(Config::from_toml(&text, &config_path)?)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Lays `over` onto `base`: tables merge recursively, everything else replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn dev_config_text(dir: &Path) -> String {
    let p = |name: &str| toml::Value::String(dir.join(name).display().to_string()).to_string();
    format!(
        "# Written by `rosterd --dev` on first run. Edit freely; it is reused on every run.\n\
         [server]\nlisten = \"127.0.0.1:50051\"\n\n\
         [tls]\ncert = {cert}\nkey = {key}\nclient_ca = {ca}\nrevoked_serials = []\n\n\
         [store]\npath = {db}\n\n\
         [keys]\nmaster_key_file = {mk}\n\n\
         [monitor]\ninterval = \"10s\"\ntimeout = \"3s\"\n",
        cert = p(pki::SERVER_CERT),
        key = p(pki::SERVER_KEY),
        ca = p(pki::CA_CERT),
        db = p(DB_FILE),
        mk = p(MASTER_KEY_FILE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_run_creates_everything_and_second_run_reuses_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("dev");
        let c1 = prepare(&dir, None).unwrap();
        let key1 = std::fs::read(dir.join(MASTER_KEY_FILE)).unwrap();
        let ca1 = std::fs::read(dir.join(pki::CA_CERT)).unwrap();
        assert!(dir.join("admin").join(pki::PROFILE_CERT).exists());
        let over = tmp.path().join("over.toml");
        std::fs::write(&over, "[limits]\nburst = 7\n").unwrap();
        let c2 = prepare(&dir, Some(&over)).unwrap();
        assert_eq!(std::fs::read(dir.join(MASTER_KEY_FILE)).unwrap(), key1);
        assert_eq!(std::fs::read(dir.join(pki::CA_CERT)).unwrap(), ca1);
        assert_eq!(c1.store.path, c2.store.path);
        assert_eq!(c2.limits.burst, 7);
        assert_eq!(c2.monitor.interval, std::time::Duration::from_secs(10));
    }
}
