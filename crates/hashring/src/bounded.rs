//! Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam,
//! SODA 2018), the scheme behind HAProxy's `hash-balance-factor`.

use parking_lot::Mutex;

use crate::ketama::Ketama;
use crate::node::{Node, Placement};
use crate::{Error, HashFn, HashTag};

/// The load bound used when none is given: HAProxy's documentation
/// suggests `hash-balance-factor 125`, i.e. ε = 0.25.
pub const BOUNDED_EPSILON_DEFAULT: f64 = 0.25;

/// A ketama ring whose nodes refuse load above `(1 + ε)` times their share
/// of the average: a key goes to the first node clockwise from its hash that
/// still has room.
///
/// Load is what callers say it is: [`Bounded::acquire`] (or
/// [`Placement::assign`]) counts one unit on the chosen node and
/// [`Bounded::release`] returns it — open requests for a proxy, stored keys
/// for a data placement. With `m` units in flight after an acquire, node i
/// holds at most `ceil((1 + ε) × m × w_i / W)`, so max/mean ≤ 1 + ε up to
/// rounding, whatever the key skew. [`Placement::locate`] reports where the
/// next unit would go without counting it.
///
/// The cost: placement depends on the order of arrivals, so a key's node is
/// stable only while loads stay under the bound (then it is plain ketama).
#[derive(Debug)]
pub struct Bounded {
    ring: Ketama,
    epsilon: f64,
    total_weight: u64,
    /// Units in flight per node, and their sum. A short lock: each call
    /// reads a handful of counters and never blocks inside.
    loads: Mutex<(Vec<u64>, u64)>,
}

impl Bounded {
    /// # Errors
    /// An invalid node list or points count (see [`Ketama::with_points`]),
    /// or ε not in (0, 100].
    pub fn new(
        nodes: Vec<Node>,
        hash: HashFn,
        tag: HashTag,
        points_per_weight: u32,
        epsilon: f64,
    ) -> Result<Bounded, Error> {
        if !(epsilon > 0.0 && epsilon <= 100.0) {
            return Err(Error::InvalidParameter(format!(
                "bounded-load epsilon must be in (0, 100], got {epsilon}"
            )));
        }
        let ring = Ketama::with_points(nodes, hash, tag, points_per_weight)?;
        let total_weight = ring.nodes().iter().map(|n| u64::from(n.weight())).sum();
        let n = ring.nodes().len();
        Ok(Bounded {
            ring,
            epsilon,
            total_weight,
            loads: Mutex::new((vec![0; n], 0)),
        })
    }

    /// Places one unit of load for `key` and returns its node.
    pub fn acquire(&self, key: &[u8]) -> usize {
        let mut loads = self.loads.lock();
        let i = self.choose(key, &loads.0, loads.1);
        loads.0[i] += 1;
        loads.1 += 1;
        i
    }

    /// Returns one unit of load taken by [`Bounded::acquire`] on node `index`.
    /// Releasing more than was acquired is ignored rather than wrapping.
    pub fn release(&self, index: usize) {
        let mut loads = self.loads.lock();
        if let Some(l) = loads.0.get_mut(index) {
            if *l > 0 {
                *l -= 1;
                loads.1 -= 1;
            }
        }
    }

    /// Current load per node.
    pub fn loads(&self) -> Vec<u64> {
        self.loads.lock().0.clone()
    }

    fn capacity(&self, weight: u32, total_after: u64) -> u64 {
        let cap = (1.0 + self.epsilon) * total_after as f64 * f64::from(weight)
            / self.total_weight as f64;
        cap.ceil() as u64
    }

    fn choose(&self, key: &[u8], loads: &[u64], total: u64) -> usize {
        let points = self.ring.points();
        let start = self.ring.point_index(self.ring.key_hash(key));
        let nodes = self.ring.nodes();
        // The capacities add up to more than total + 1, so some node has
        // room and the walk ends within one turn of the ring.
        for step in 0..points.len() {
            let i = points[(start + step) % points.len()].1 as usize;
            if loads[i] < self.capacity(nodes[i].weight(), total + 1) {
                return i;
            }
        }
        points[start].1 as usize
    }
}

impl Placement for Bounded {
    fn locate(&self, key: &[u8]) -> usize {
        let loads = self.loads.lock();
        self.choose(key, &loads.0, loads.1)
    }

    fn assign(&self, key: &[u8]) -> usize {
        self.acquire(key)
    }

    fn nodes(&self) -> &[Node] {
        self.ring.nodes()
    }

    fn describe(&self) -> String {
        format!(
            "bounded epsilon={} over {}",
            self.epsilon,
            self.ring.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::numbered;

    #[test]
    fn a_hot_key_spills_over() {
        let b = Bounded::new(numbered("n", 4), HashFn::Xxh3, HashTag::None, 160, 0.25).unwrap();
        // One key, 1,000 times: plain ketama would put all on one node.
        for _ in 0..1000 {
            b.acquire(b"hot");
        }
        let loads = b.loads();
        let max = *loads.iter().max().unwrap();
        // ceil(1.25 × 1000 / 4) = 313.
        assert!(max <= 313, "{loads:?}");
        assert_eq!(loads.iter().sum::<u64>(), 1000);
    }

    #[test]
    fn release_returns_load() {
        let b = Bounded::new(numbered("n", 3), HashFn::Xxh3, HashTag::None, 160, 0.5).unwrap();
        let i = b.acquire(b"k");
        b.release(i);
        b.release(i);
        assert_eq!(b.loads(), vec![0, 0, 0]);
    }

    #[test]
    fn rejects_bad_epsilon() {
        for eps in [0.0, -1.0, f64::NAN, 1000.0] {
            assert!(Bounded::new(numbered("n", 3), HashFn::Xxh3, HashTag::None, 160, eps).is_err());
        }
    }
}
