//! The answer cache of one run: identical questions are asked once, even when asked at the same
//! time, while memory stays bounded however many domains a bulk run audits.
//!
//! Two generations: new entries go into the young map; when it holds `capacity` entries, or
//! answers of `bytes` bytes (as charged by the caller: a few huge answers weigh as much as many
//! small ones), it becomes the old one and the previous old map is dropped. A hit in the old map
//! moves back to the young one, so the names many domains share (a provider's SPF include, a
//! blocklist's test entries) stay cached, and the rest age out. A question still in flight is
//! never lost: its waiters hold the slot itself.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

/// A bounded map from a question to the shared slot its answer is written into once.
pub struct AnswerCache<K, V> {
    generations: Mutex<Generations<K, V>>,
    capacity: usize,
    bytes: usize,
}

struct Generations<K, V> {
    young: HashMap<K, Arc<OnceCell<V>>>,
    old: HashMap<K, Arc<OnceCell<V>>>,
    /// The bytes charged since the young map was started.
    young_bytes: usize,
}

impl<K: Eq + Hash, V> AnswerCache<K, V> {
    /// A cache that keeps the last `capacity` questions, or fewer when their answers weigh
    /// `bytes` (at most twice each).
    pub fn new(capacity: usize, bytes: usize) -> Self {
        AnswerCache {
            generations: Mutex::new(Generations {
                young: HashMap::new(),
                old: HashMap::new(),
                young_bytes: 0,
            }),
            capacity: capacity.max(1),
            bytes: bytes.max(1),
        }
    }

    /// Counts `bytes` of a new answer against the young generation's byte bound.
    pub fn charge(&self, bytes: usize) {
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        generations.young_bytes = generations.young_bytes.saturating_add(bytes);
    }

    /// The slot for `key`: the same slot for every asker until it ages out.
    pub fn slot(&self, key: K) -> Arc<OnceCell<V>> {
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = generations.young.get(&key) {
            return Arc::clone(slot);
        }
        let slot = generations.old.remove(&key).unwrap_or_default();
        if generations.young.len() >= self.capacity || generations.young_bytes >= self.bytes {
            generations.old = std::mem::take(&mut generations.young);
            generations.young_bytes = 0;
        }
        generations.young.insert(key, Arc::clone(&slot));
        slot
    }

    /// Replaces `stale` (the slot `key` had) with a new empty slot and returns the slot `key`
    /// has now: the new one, or one another asker already put there.
    pub fn renew(&self, key: K, stale: &Arc<OnceCell<V>>) -> Arc<OnceCell<V>> {
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = generations
            .young
            .get(&key)
            .or_else(|| generations.old.get(&key));
        if let Some(current) = current.filter(|current| !Arc::ptr_eq(current, stale)) {
            return Arc::clone(current);
        }
        generations.old.remove(&key);
        let slot: Arc<OnceCell<V>> = Arc::default();
        generations.young.insert(key, Arc::clone(&slot));
        slot
    }

    /// How many questions are cached now.
    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        generations.young.len() + generations.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_question_gets_the_same_slot() {
        let cache: AnswerCache<&str, u32> = AnswerCache::new(10, usize::MAX);
        let a = cache.slot("x");
        let b = cache.slot("x");
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn a_renewed_slot_is_new_and_shared_by_later_askers() {
        let cache: AnswerCache<&str, u32> = AnswerCache::new(10, usize::MAX);
        let stale = cache.slot("x");
        let fresh = cache.renew("x", &stale);
        assert!(!Arc::ptr_eq(&stale, &fresh));
        assert!(Arc::ptr_eq(&fresh, &cache.slot("x")));
        // A second asker renewing the same stale slot gets the fresh one, not a third.
        assert!(Arc::ptr_eq(&fresh, &cache.renew("x", &stale)));
    }

    #[test]
    fn memory_stays_bounded_and_recent_questions_stay_cached() {
        let cache: AnswerCache<u32, u32> = AnswerCache::new(100, usize::MAX);
        let shared = cache.slot(0);
        for i in 1..10_000 {
            cache.slot(i);
            if i % 50 == 0 {
                // A name many domains share keeps being asked, so it stays.
                assert!(Arc::ptr_eq(&shared, &cache.slot(0)), "lost at {i}");
            }
        }
        assert!(cache.len() <= 200, "{}", cache.len());
        let recent = cache.slot(9_999);
        assert!(Arc::ptr_eq(&recent, &cache.slot(9_999)));
    }

    #[test]
    fn huge_answers_age_out_by_their_bytes_not_their_count() {
        let cache: AnswerCache<u32, u32> = AnswerCache::new(1_000_000, 1_000);
        for i in 0..100 {
            cache.slot(i);
            // A 300-byte answer each: a generation holds four of them.
            cache.charge(300);
        }
        assert!(cache.len() <= 8, "{}", cache.len());
        let recent = cache.slot(99);
        assert!(Arc::ptr_eq(&recent, &cache.slot(99)));
    }
}
