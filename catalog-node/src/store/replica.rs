//! What a read replica writes: its primary's products exactly as the primary sent them, and
//! the primary's seq of the newest change applied, in one transaction per feed page. A
//! replica keeps no outbox, reservations or audit of its own: it serves reads only.
//!
//! The store also remembers which role it was created for, so that a replica's directory is
//! never opened as a primary (whose seq would then continue from numbers it did not write),
//! nor a primary's as a replica (whose data a bootstrap would wipe).

use contracts::catalog::{ChangeEvent, Product};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::codec;
use super::records::{Counter, ProductRecord};
use super::{META_SEQ, Store, StoreError};

/// URL of the primary this store replicates (present only in a replica's store).
const META_REPLICA_OF: &[u8] = b"replica_of";
/// The seq a complete bootstrap started from; absent while (or until) one runs.
const META_BOOTSTRAPPED: &[u8] = b"replica_bootstrapped";

/// The role a node opens its store in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The one writer.
    Primary,
    /// A read replica of the primary at this URL.
    Replica(String),
}

impl Store {
    /// Checks that the store may be opened in `role`, and records a replica's primary.
    pub fn claim(&self, role: &Role) -> Result<(), StoreError> {
        let replica_of = self
            .meta
            .get(META_REPLICA_OF)?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        match (role, replica_of) {
            (Role::Primary, None) => Ok(()),
            (Role::Primary, Some(primary)) => Err(StoreError::WrongRole(format!(
                "it holds a read replica of {primary}; start with --replica-of, or start the \
                 primary on its own data directory"
            ))),
            (Role::Replica(_), None) if self.head_seq()? > 0 || self.product_count() > 0 => {
                Err(StoreError::WrongRole(
                    "it holds a primary's data, which following another primary would wipe; \
                     give the replica a data directory of its own"
                        .into(),
                ))
            }
            (Role::Replica(primary), _) => {
                // The primary may have moved to another address: the URL is only a label.
                self.meta.insert(META_REPLICA_OF, primary.as_bytes())?;
                Ok(())
            }
        }
    }

    /// Whether a bootstrap from the primary completed (and none has started since).
    pub fn bootstrapped(&self) -> Result<bool, StoreError> {
        Ok(self.meta.get(META_BOOTSTRAPPED)?.is_some())
    }

    /// Forgets every product, to load the primary's again; the store counts as not
    /// bootstrapped until [`Store::finish_bootstrap`], also after a crash in between.
    pub fn begin_bootstrap(&self) -> Result<(), StoreError> {
        self.meta.remove(META_BOOTSTRAPPED)?;
        // The marker must be gone on disk before the products are: a crash in between then
        // leaves a store that knows its bootstrap did not finish.
        self.db.flush()?;
        self.products.clear()?;
        Ok(())
    }

    /// Stores products of a bootstrap page as the primary sent them.
    pub fn load(&self, products: &[Product]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for product in products {
            let record = ProductRecord::from_wire(product);
            batch.insert(product.id.as_bytes(), codec::encode(&record)?);
        }
        Ok(self.products.apply_batch(batch)?)
    }

    /// Ends a bootstrap whose first page was read at the primary's `seq`.
    pub fn finish_bootstrap(&self, seq: u64) -> Result<(), StoreError> {
        let counter = codec::encode(&Counter(seq))?;
        let mut batch = sled::Batch::default();
        batch.insert(META_SEQ, counter.clone());
        batch.insert(META_BOOTSTRAPPED, counter);
        Ok(self.meta.apply_batch(batch)?)
    }

    /// Applies a page of the primary's feed that ends at `upto`, in one transaction: the
    /// products as they were after each event, and `upto` as the newest seq applied. A page
    /// at or below what is applied already changes nothing.
    pub fn apply(&self, events: &[ChangeEvent], upto: u64) -> Result<(), StoreError> {
        let encoded = events
            .iter()
            .map(|e| {
                let record = e.product.as_ref().map(ProductRecord::from_wire);
                let bytes = record.as_ref().map(codec::encode).transpose()?;
                Ok((e.product_id.as_bytes(), bytes))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let counter = codec::encode(&Counter(upto))?;
        let result = (&self.products, &self.meta).transaction(|(products, meta)| {
            let applied = match meta.get(META_SEQ)? {
                Some(bytes) => {
                    codec::decode::<Counter>(&bytes)
                        .map_err(|e| ConflictableTransactionError::Abort(StoreError::Codec(e)))?
                        .0
                }
                None => 0,
            };
            if upto <= applied {
                return Ok(());
            }
            for (id, bytes) in &encoded {
                match bytes {
                    Some(bytes) => products.insert(*id, bytes.as_slice())?,
                    None => products.remove(*id)?,
                };
            }
            meta.insert(META_SEQ, counter.as_slice())?;
            Ok(())
        });
        result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use contracts::catalog::EventKind;

    use super::*;

    fn product(id: &str, stock: u64, seq: u64) -> Product {
        Product {
            id: id.into(),
            name: format!("name of {id}"),
            description: String::new(),
            category: "tools".into(),
            price_minor: 1250,
            currency: "EUR".into(),
            stock,
            version: seq,
            updated_seq: seq,
            updated_at: "2026-01-02T03:04:05.678Z".into(),
        }
    }

    fn event(seq: u64, p: Option<Product>, id: &str) -> ChangeEvent {
        ChangeEvent {
            seq,
            product_id: id.into(),
            kind: if p.is_some() {
                EventKind::Upsert
            } else {
                EventKind::Delete
            },
            product: p,
            caller: None,
        }
    }

    fn replica() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .claim(&Role::Replica("http://primary".into()))
            .unwrap();
        (dir, store)
    }

    #[test]
    fn products_are_kept_exactly_as_the_primary_sent_them() {
        let (_dir, store) = replica();
        store.begin_bootstrap().unwrap();
        let a = product("a", 3, 4);
        store.load(std::slice::from_ref(&a)).unwrap();
        store.finish_bootstrap(4).unwrap();
        assert!(store.bootstrapped().unwrap());
        assert_eq!(store.product("a").unwrap(), Some(a));
        assert_eq!(store.head_seq().unwrap(), 4);
    }

    #[test]
    fn a_page_applies_whole_and_only_forward() {
        let (_dir, store) = replica();
        store.begin_bootstrap().unwrap();
        store
            .load(&[product("a", 3, 1), product("b", 1, 2)])
            .unwrap();
        store.finish_bootstrap(2).unwrap();
        let changed = product("a", 9, 3);
        let page = [event(3, Some(changed.clone()), "a"), event(5, None, "b")];
        store.apply(&page, 5).unwrap();
        assert_eq!(store.product("a").unwrap(), Some(changed.clone()));
        assert_eq!(store.product("b").unwrap(), None);
        assert_eq!(store.head_seq().unwrap(), 5);
        // A replayed, older page is ignored rather than undoing newer state.
        store
            .apply(&[event(3, Some(product("a", 0, 3)), "a")], 3)
            .unwrap();
        assert_eq!(store.product("a").unwrap(), Some(changed));
        assert_eq!(store.head_seq().unwrap(), 5);
    }

    #[test]
    fn an_interrupted_bootstrap_is_not_taken_for_a_finished_one() {
        let (dir, store) = replica();
        store.begin_bootstrap().unwrap();
        store.load(&[product("a", 3, 1)]).unwrap();
        drop(store);
        let store = super::super::reopen(dir.path());
        assert!(!store.bootstrapped().unwrap());
    }

    #[test]
    fn roles_do_not_mix() {
        let (dir, store) = replica();
        assert!(matches!(
            store.claim(&Role::Primary),
            Err(StoreError::WrongRole(_))
        ));
        // A primary moved to another address is still the same primary.
        store
            .claim(&Role::Replica("http://elsewhere".into()))
            .unwrap();
        drop((dir, store));

        let dir = tempfile::tempdir().unwrap();
        let primary = Store::open(dir.path()).unwrap();
        primary.claim(&Role::Primary).unwrap();
        primary.load(&[product("a", 1, 1)]).unwrap();
        assert!(matches!(
            primary.claim(&Role::Replica("http://primary".into())),
            Err(StoreError::WrongRole(_))
        ));
    }
}
