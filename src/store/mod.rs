//! The users store: one small trait, an embedded implementation for local
//! use and tests, and Redis for production. A process makes its store once
//! ([`from_config`]) and shares it across requests as `Arc<dyn UserStore>`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::config::Config;

pub mod memory;
pub mod redis;

pub use memory::MemoryStore;
pub use redis::RedisStore;

/// One user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct User {
    /// Made by the server; `^[A-Za-z0-9_-]{1,64}$`. New ids are ULIDs, so
    /// id order is creation order.
    pub id: String,
    /// Display name, 1 to 100 characters.
    pub name: String,
    /// Unique regardless of case.
    pub email: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// A page of users in id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// At most `limit` users, ids strictly increasing; shared, so that the
    /// embedded store hands out its records without copying them.
    pub users: Vec<Arc<User>>,
    /// Whether users follow the last one of this page.
    pub has_more: bool,
}

/// The fields a `PATCH` may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new email (still unique regardless of case).
    pub email: Option<String>,
}

/// Why a store call failed. Handlers map these to statuses in one place
/// (`ApiError::from`).
#[derive(Debug)]
pub enum StoreError {
    /// The store could not be reached in time, or refused: `503`.
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// Another user already has this email: `409`.
    EmailTaken,
    /// Seeding only: the email of the seed user `id` now belongs to another
    /// user, so seeding would take it away; nothing was written.
    SeedEmailTaken {
        /// The seed user whose email is taken.
        id: String,
        /// That email.
        email: String,
    },
    /// The store holds data this code cannot read: `500`.
    Corrupt(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(e) => write!(f, "store unavailable: {e}"),
            Self::EmailTaken => f.write_str("email already taken"),
            Self::SeedEmailTaken { id, email } => write!(
                f,
                "seed user {id}'s email {email} now belongs to another user; change or delete that user, then seed again"
            ),
            Self::Corrupt(what) => write!(f, "corrupt data in store: {what}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// What every store does. Listing costs O(limit), whatever the number of users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Up to `limit` users with ids greater than `after`, in id order.
    async fn page(&self, after: Option<&str>, limit: usize) -> Result<Page, StoreError>;
    /// One user by id.
    async fn get(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// Adds a user whose id is already made; fails with `EmailTaken` when the
    /// email (regardless of case) belongs to someone else.
    async fn create(&self, user: User) -> Result<User, StoreError>;
    /// Changes the given fields; `None` when there is no such user.
    async fn update(&self, id: &str, patch: UserPatch) -> Result<Option<User>, StoreError>;
    /// Removes a user; `false` when there was none.
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;
    /// Puts these users in the store as they are (used by `seed`); running it
    /// twice leaves the same data.
    async fn seed(&self, users: &[User]) -> Result<(), StoreError>;
    /// A short name for logs: `memory` or `redis`.
    fn kind(&self) -> &'static str;
}

/// The seed data bundled in the crate: 100 fictional users.
pub fn seed_users() -> Vec<User> {
    // The file is part of the crate and checked by a test, so this cannot fail
    // at run time unless the crate itself is broken.
    serde_json::from_str(include_str!("../../data/users.json"))
        .expect("data/users.json is valid (checked by tests)")
}

/// The email key used for uniqueness: the address in Unicode's NFKC form,
/// case-folded, so that case, composed or decomposed accents (`ü`, `u` +
/// `◌̈`) and full-width letters do not make a second account of one address.
/// Folding is lower-casing plus the two folds where it differs for letters
/// of an address: `ß` is `ss`, and the final sigma `ς` is `σ`.
pub fn email_key(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    // NFKC leaves ASCII as it is: most addresses skip the tables.
    if email.is_ascii() {
        return email.to_ascii_lowercase();
    }
    email
        .nfkc()
        .collect::<String>()
        .to_lowercase()
        .replace('ß', "ss")
        .replace('ς', "σ")
}

/// Makes the store that the configuration selects, once per process: the
/// embedded store filled with the seed data when no Redis URL is set.
pub fn from_config(config: &Config) -> Arc<dyn UserStore> {
    match &config.redis_url {
        Some(url) => Arc::new(RedisStore::new(url.expose(), &config.redis_key_prefix)),
        None => Arc::new(MemoryStore::with_users(seed_users())),
    }
}
