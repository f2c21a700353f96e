//! The production store: Redis, through one multiplexed, self-reconnecting
//! connection per process ([`ConnectionManager`]), made once and shared.
//!
//! Layout (with the default key prefix `users`):
//!
//! | key            | type   | holds                                         |
//! |----------------|--------|-----------------------------------------------|
//! | `users:ids`    | ZSET   | every id, score 0, so members sort by id (lex) |
//! | `users:data`   | HASH   | id → the user as JSON                          |
//! | `users:emails` | HASH   | lower-cased email → id (uniqueness)            |
//!
//! A page is one round trip (a Lua script: `ZRANGEBYLEX` then `HMGET`, so the
//! list and the records are read in one atomic step); one user is one `HGET`.
//! Every write is one Lua script, atomic in Redis: a create checks the email
//! and writes the record, its place in the list and the email index together;
//! a patch or delete is a compare-and-set on the record it read, retried when
//! another write got there first, so a delete racing a patch never brings the
//! user back. Every call is bounded by [`CALL_TIMEOUT`]; past it, or with
//! Redis down, the call fails as `Unavailable` (`503`).

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::{Page, StoreError, User, UserPatch, UserStore, email_key};

/// The longest a request waits on Redis, connecting included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a compare-and-set write is retried when another write got in between.
const CAS_ATTEMPTS: usize = 16;

const PAGE_LUA: &str = r"
local ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
";

// KEYS: ids, data, emails. ARGV: id, email key, user JSON. 1 created, 0 email taken.
const CREATE_LUA: &str = r"
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
return 1
";

// KEYS: data, emails. ARGV: id, JSON read, new JSON, old email key, new email key.
// 1 done, 0 email taken, -1 the record changed since it was read (retry).
const UPDATE_LUA: &str = r"
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return -1 end
if ARGV[4] ~= ARGV[5] then
  local owner = redis.call('HGET', KEYS[2], ARGV[5])
  if owner and owner ~= ARGV[1] then return 0 end
  redis.call('HDEL', KEYS[2], ARGV[4])
  redis.call('HSET', KEYS[2], ARGV[5], ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
";

// KEYS: ids, data, emails. ARGV: id, JSON read, its email key.
// 1 deleted, -1 the record changed since it was read (retry).
const DELETE_LUA: &str = r"
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return -1 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[3], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[3], ARGV[3]) end
return 1
";

/// The Redis store. Cloning shares the one connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: Option<ConnectionManager>,
    /// Why there is no connection (a malformed URL), for the log.
    broken: Option<String>,
    keys: Keys,
    scripts: std::sync::Arc<Scripts>,
}

#[derive(Clone)]
struct Keys {
    ids: String,
    data: String,
    emails: String,
}

struct Scripts {
    page: Script,
    create: Script,
    update: Script,
    delete: Script,
}

fn unavailable(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::Unavailable(e.into())
}

impl RedisStore {
    /// Makes the client without connecting (the first call connects), so a
    /// function starts fast and starts even while Redis is down. A malformed
    /// URL is logged here, once, without the URL (it may hold a password);
    /// every call then answers `Unavailable`.
    pub fn new(url: &str, prefix: &str) -> Self {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(1500)))
            .set_response_timeout(Some(Duration::from_millis(1500)))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(200));
        let made = redis::Client::open(url)
            .and_then(|client| ConnectionManager::new_lazy_with_config(client, config));
        let (conn, broken) = match made {
            Ok(conn) => (Some(conn), None),
            Err(e) => {
                let why = format!(
                    "REDIS_URL is not a valid redis:// or rediss:// URL ({:?})",
                    e.kind()
                );
                eprintln!("error: {why}; every request that needs the store will answer 503");
                (None, Some(why))
            }
        };
        Self {
            conn,
            broken,
            keys: Keys {
                ids: format!("{prefix}:ids"),
                data: format!("{prefix}:data"),
                emails: format!("{prefix}:emails"),
            },
            scripts: std::sync::Arc::new(Scripts {
                page: Script::new(PAGE_LUA),
                create: Script::new(CREATE_LUA),
                update: Script::new(UPDATE_LUA),
                delete: Script::new(DELETE_LUA),
            }),
        }
    }

    fn conn(&self) -> Result<ConnectionManager, StoreError> {
        self.conn.clone().ok_or_else(|| {
            unavailable(
                self.broken
                    .clone()
                    .unwrap_or_else(|| "no connection".into()),
            )
        })
    }

    /// Runs one store call under [`CALL_TIMEOUT`].
    ///
    /// When Redis has just come back, the connection manager answers the
    /// first call with the error of its last attempt and reconnects in the
    /// background; one more try, within the same bound, makes that first
    /// request succeed. Reads retry on any connection error; writes only when
    /// the connection was refused, that is when nothing was sent, so a write
    /// is never applied twice.
    async fn bounded<T, F, Fut>(&self, retry: Retry, mut call: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        tokio::time::timeout(CALL_TIMEOUT, async {
            match call().await {
                Err(e) if retry.allows(&e) => call().await,
                other => other,
            }
        })
        .await
        .unwrap_or_else(|_| Err(unavailable("redis call timed out")))
    }

    async fn read_json(
        &self,
        conn: &mut ConnectionManager,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        conn.hget(&self.keys.data, id).await.map_err(unavailable)
    }
}

/// Which failed calls [`RedisStore::bounded`] tries once more.
#[derive(Clone, Copy)]
enum Retry {
    /// Reads: any connection error.
    Read,
    /// Writes: only a refused connection (nothing was sent).
    Write,
}

impl Retry {
    fn allows(self, e: &StoreError) -> bool {
        let StoreError::Unavailable(cause) = e else {
            return false;
        };
        let Some(e) = cause.downcast_ref::<redis::RedisError>() else {
            return false;
        };
        match self {
            Self::Read => e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal(),
            Self::Write => e.is_connection_refusal(),
        }
    }
}

fn decode(json: &str) -> Result<User, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("user record: {e}")))
}

fn encode(user: &User) -> String {
    serde_json::to_string(user).unwrap_or_default()
}

#[async_trait]
impl UserStore for RedisStore {
    async fn page(&self, after: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        self.bounded(Retry::Read, || async {
            let mut conn = self.conn()?;
            let min = after.map_or_else(|| "-".to_owned(), |id| format!("({id}"));
            let rows: Vec<Option<String>> = self
                .scripts
                .page
                .key(&self.keys.ids)
                .key(&self.keys.data)
                .arg(min)
                .arg(limit + 1)
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            let has_more = rows.len() > limit;
            let users = rows
                .into_iter()
                .take(limit)
                .map(|row| {
                    row.ok_or_else(|| StoreError::Corrupt("listed id without a record".into()))
                        .and_then(|json| decode(&json))
                        .map(std::sync::Arc::new)
                })
                .collect::<Result<_, _>>()?;
            Ok(Page { users, has_more })
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.bounded(Retry::Read, || async {
            let mut conn = self.conn()?;
            self.read_json(&mut conn, id)
                .await?
                .map(|json| decode(&json))
                .transpose()
        })
        .await
    }

    async fn create(&self, user: User) -> Result<User, StoreError> {
        self.bounded(Retry::Write, || async {
            let mut conn = self.conn()?;
            let created: i64 = self
                .scripts
                .create
                .key(&self.keys.ids)
                .key(&self.keys.data)
                .key(&self.keys.emails)
                .arg(&user.id)
                .arg(email_key(&user.email))
                .arg(encode(&user))
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if created == 1 {
                Ok(())
            } else {
                Err(StoreError::EmailTaken)
            }
        })
        .await
        .map(|()| user)
    }

    async fn update(&self, id: &str, patch: UserPatch) -> Result<Option<User>, StoreError> {
        self.bounded(Retry::Write, || async {
            let mut conn = self.conn()?;
            for _ in 0..CAS_ATTEMPTS {
                let Some(old_json) = self.read_json(&mut conn, id).await? else {
                    return Ok(None);
                };
                let old = decode(&old_json)?;
                let mut new = old.clone();
                if let Some(name) = &patch.name {
                    new.name.clone_from(name);
                }
                if let Some(email) = &patch.email {
                    new.email.clone_from(email);
                }
                let outcome: i64 = self
                    .scripts
                    .update
                    .key(&self.keys.data)
                    .key(&self.keys.emails)
                    .arg(id)
                    .arg(&old_json)
                    .arg(encode(&new))
                    .arg(email_key(&old.email))
                    .arg(email_key(&new.email))
                    .invoke_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                match outcome {
                    1 => return Ok(Some(new)),
                    0 => return Err(StoreError::EmailTaken),
                    _ => continue,
                }
            }
            Err(unavailable("too much contention on one user; try again"))
        })
        .await
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        self.bounded(Retry::Write, || async {
            let mut conn = self.conn()?;
            for _ in 0..CAS_ATTEMPTS {
                let Some(old_json) = self.read_json(&mut conn, id).await? else {
                    return Ok(false);
                };
                let old = decode(&old_json)?;
                let outcome: i64 = self
                    .scripts
                    .delete
                    .key(&self.keys.ids)
                    .key(&self.keys.data)
                    .key(&self.keys.emails)
                    .arg(id)
                    .arg(&old_json)
                    .arg(email_key(&old.email))
                    .invoke_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                if outcome == 1 {
                    return Ok(true);
                }
            }
            Err(unavailable("too much contention on one user; try again"))
        })
        .await
    }

    async fn seed(&self, users: &[User]) -> Result<(), StoreError> {
        // Not bounded by CALL_TIMEOUT: a one-off command, not a request.
        let mut conn = self.conn()?;
        let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let existing: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&self.keys.data)
            .arg(&ids)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let owners: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&self.keys.emails)
            .arg(
                users
                    .iter()
                    .map(|u| email_key(&u.email))
                    .collect::<Vec<_>>(),
            )
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if let Some((u, _)) = users
            .iter()
            .zip(&owners)
            .find(|(u, owner)| owner.as_ref().is_some_and(|o| *o != u.id))
        {
            return Err(StoreError::SeedEmailTaken {
                id: u.id.clone(),
                email: u.email.clone(),
            });
        }
        let mut tx = redis::pipe();
        tx.atomic();
        for (user, old) in users.iter().zip(existing) {
            if let Some(old) = old.as_deref().map(decode).transpose()? {
                tx.hdel(&self.keys.emails, email_key(&old.email)).ignore();
            }
            tx.hset(&self.keys.data, &user.id, encode(user)).ignore();
            tx.zadd(&self.keys.ids, &user.id, 0).ignore();
            tx.hset(&self.keys.emails, email_key(&user.email), &user.id)
                .ignore();
        }
        tx.query_async::<()>(&mut conn).await.map_err(unavailable)
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
