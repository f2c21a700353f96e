//! The embedded store: a `BTreeMap` behind a lock, filled from the bundled
//! seed data. Data lives as long as the process: writes are lost on restart,
//! and each Vercel instance has its own copy. Production uses Redis.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::{Page, StoreError, User, UserPatch, UserStore, email_key};

/// Users by id (ordered, so a page is a range scan) and ids by email key.
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    by_id: BTreeMap<String, Arc<User>>,
    by_email: HashMap<String, String>,
}

impl MemoryStore {
    /// A store holding these users (of one id, the last one). Built in bulk:
    /// the seed data is in id order, so this runs in linear time, part of
    /// every cold start of the users function.
    pub fn with_users(users: impl IntoIterator<Item = User>) -> Self {
        let by_id: BTreeMap<String, Arc<User>> = users
            .into_iter()
            .map(|u| (u.id.clone(), Arc::new(u)))
            .collect();
        let by_email = by_id
            .values()
            .map(|u| (email_key(&u.email), u.id.clone()))
            .collect();
        Self {
            inner: RwLock::new(Inner { by_id, by_email }),
        }
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
        self.by_id.insert(user.id.clone(), Arc::new(user));
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
        let users: Vec<Arc<User>> = range.by_ref().take(limit).cloned().collect();
        let has_more = range.next().is_some();
        Ok(Page { users, has_more })
    }

    async fn get(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(self.read().by_id.get(id).map(|u| User::clone(u)))
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
        let Some(mut user) = inner.by_id.get(id).map(|u| User::clone(u)) else {
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
                return Err(StoreError::SeedEmailTaken {
                    id: u.id.clone(),
                    email: u.email.clone(),
                });
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
