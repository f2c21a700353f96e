//! The embedded store: a `BTreeMap` behind a lock, filled from the bundled
//! seed data. Data lives as long as the process: writes are lost on restart,
//! and each Vercel instance has its own copy. Production uses Redis.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::RwLock;

use async_trait::async_trait;

use super::{Page, StoreError, User, UserPatch, UserStore, email_key};

/// Users by id (ordered, so a page is a range scan) and ids by email key.
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    by_id: BTreeMap<String, User>,
    by_email: HashMap<String, String>,
}

impl MemoryStore {
    /// A store holding these users.
    pub fn with_users(users: impl IntoIterator<Item = User>) -> Self {
        let store = Self::default();
        {
            let mut inner = store.write();
            for u in users {
                inner.put(u);
            }
        }
        store
    }

    // A poisoned lock only means another request panicked mid-call; every
    // write below leaves the maps consistent before it can panic, so the data
    // is still good to use.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn put(&mut self, user: User) {
        if let Some(old) = self.by_id.get(&user.id) {
            self.by_email.remove(&email_key(&old.email));
        }
        self.by_email
            .insert(email_key(&user.email), user.id.clone());
        self.by_id.insert(user.id.clone(), user);
    }

    fn email_owner(&self, email: &str) -> Option<&str> {
        self.by_email.get(&email_key(email)).map(String::as_str)
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn page(&self, after: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        let inner = self.read();
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut range = inner
            .by_id
            .range::<str, _>((lower, Bound::Unbounded))
            .map(|(_, u)| u);
        let users: Vec<User> = range.by_ref().take(limit).cloned().collect();
        let has_more = range.next().is_some();
        Ok(Page { users, has_more })
    }

    async fn get(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(self.read().by_id.get(id).cloned())
    }

    async fn create(&self, user: User) -> Result<User, StoreError> {
        let mut inner = self.write();
        if inner.email_owner(&user.email).is_some() {
            return Err(StoreError::EmailTaken);
        }
        inner.put(user.clone());
        Ok(user)
    }

    async fn update(&self, id: &str, patch: UserPatch) -> Result<Option<User>, StoreError> {
        let mut inner = self.write();
        let Some(mut user) = inner.by_id.get(id).cloned() else {
            return Ok(None);
        };
        if let Some(email) = &patch.email
            && inner.email_owner(email).is_some_and(|owner| owner != id)
        {
            return Err(StoreError::EmailTaken);
        }
        if let Some(name) = patch.name {
            user.name = name;
        }
        if let Some(email) = patch.email {
            user.email = email;
        }
        inner.put(user.clone());
        Ok(Some(user))
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut inner = self.write();
        let Some(user) = inner.by_id.remove(id) else {
            return Ok(false);
        };
        inner.by_email.remove(&email_key(&user.email));
        Ok(true)
    }

    async fn seed(&self, users: &[User]) -> Result<(), StoreError> {
        let mut inner = self.write();
        for u in users {
            if inner
                .email_owner(&u.email)
                .is_some_and(|owner| owner != u.id)
            {
                return Err(StoreError::EmailTaken);
            }
        }
        for u in users {
            inner.put(u.clone());
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}
