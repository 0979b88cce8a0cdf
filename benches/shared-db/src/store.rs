//! The queries: every one prepared once per connection (`prepare_cached`) and run over a
//! pool of connections to the one shared database.

use std::time::Duration;

use contracts::catalog::Product;
use contracts::composer::OrderView;
use contracts::orders::{Order, OrderItem, OrderStatus};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::{NoTls, Row};

use crate::plan::{self, Locked, Refusal};
use crate::view::{self, LiveRow, ViewRow};

/// How long a request waits for a free connection before it is answered 503 `overloaded`.
const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(5);
/// How long opening a new connection may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

const PRODUCT: &str = "SELECT id, name, description, category, price_minor, currency, stock, \
     version, updated_seq, updated_at FROM products WHERE id = $1";

// `ORDER BY id`: every placement locks its rows in one global order, so two placements
// naming the same products wait for each other instead of deadlocking.
const LOCK_PRODUCTS: &str = "SELECT id, name, price_minor, currency, stock FROM products \
     WHERE id = ANY($1) ORDER BY id FOR UPDATE";

const TAKE_STOCK: &str = "UPDATE products AS p SET stock = p.stock - d.qty, \
     version = p.version + 1, updated_seq = nextval('product_changes'), updated_at = $3 \
     FROM unnest($1::text[], $2::bigint[]) AS d(id, qty) WHERE p.id = d.id";

const INSERT_ORDER: &str = "INSERT INTO orders \
     (id, customer_id, status, total_minor, currency, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $6)";

const INSERT_LINES: &str = "INSERT INTO order_lines \
     (order_id, line_no, product_id, name, unit_price_minor, qty) \
     SELECT $1, l.n, l.product_id, l.name, l.unit_price_minor, l.qty \
     FROM unnest($2::text[], $3::text[], $4::bigint[], $5::int[]) \
     WITH ORDINALITY AS l(product_id, name, unit_price_minor, qty, n)";

// LEFT JOIN: a line whose product was deleted since still shows, with `product: null`.
const ORDER_VIEW: &str = "SELECT o.id, o.customer_id, o.status, o.currency, o.total_minor, \
     o.created_at, l.product_id, l.qty, l.name, l.unit_price_minor, \
     p.name, p.price_minor, p.currency, p.stock \
     FROM orders o JOIN order_lines l ON l.order_id = o.id \
     LEFT JOIN products p ON p.id = l.product_id \
     WHERE o.id = $1 ORDER BY l.line_no";

/// A query failed, or a stored value does not fit its wire type.
#[derive(Debug, Error)]
pub enum StoreError {
    /// No connection could be had from the pool.
    #[error("no database connection: {0}")]
    Pool(#[from] PoolError),
    /// The database refused or lost a query.
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// A stored value that this service never writes.
    #[error("a stored value is out of range: {0}")]
    Corrupt(String),
}

/// The pool could not be set up.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The database URL does not parse.
    #[error("invalid database URL: {0}")]
    Url(#[source] tokio_postgres::Error),
    /// The pool could not be built.
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] deadpool_postgres::BuildError),
}

/// A placement that did not happen; nothing was changed.
#[derive(Debug, Error)]
pub enum PlaceError {
    /// Refused by the rules (unknown products, stock, currency, total).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<tokio_postgres::Error> for PlaceError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<PoolError> for PlaceError {
    fn from(e: PoolError) -> Self {
        Self::Store(e.into())
    }
}

/// The one shared database, through a pool of connections.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// A pool of up to `size` connections to `url` (`postgres://user@host:port/db`). Connects
    /// lazily: the first query tells whether the database is there.
    pub fn open(url: &str, size: usize) -> Result<Self, OpenError> {
        let config: tokio_postgres::Config = url.parse().map_err(OpenError::Url)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // Fast: a broken connection shows at its next query, and a check per
                // checkout would add a round trip to every request being measured.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .wait_timeout(Some(WAIT_FOR_CONNECTION))
            .create_timeout(Some(CONNECT_LIMIT))
            .runtime(Runtime::Tokio1)
            .build()?;
        Ok(Self { pool })
    }

    /// A connection of the pool, for the schema and the loader.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// The product `id`, if there is one.
    pub async fn product(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(PRODUCT).await?;
        client
            .query_opt(&statement, &[&id])
            .await?
            .map(|row| product_from_row(&row))
            .transpose()
    }

    /// Places an order for `items` (validated and merged) in one transaction: locks the
    /// products, refuses or takes the stock, stores the order and its lines, commits. The
    /// commit is durable when this returns (the server runs with `synchronous_commit=on`).
    pub async fn place(&self, customer_id: &str, items: &[OrderItem]) -> Result<Order, PlaceError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let ids: Vec<&str> = items.iter().map(|i| i.product_id.as_str()).collect();
        let lock = tx.prepare_cached(LOCK_PRODUCTS).await?;
        let locked = tx
            .query(&lock, &[&ids])
            .await?
            .iter()
            .map(locked_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let plan = match plan::plan(items, &locked) {
            Ok(plan) => plan,
            Err(refusal) => {
                // At once, not when the connection is next used: the locks go with it.
                tx.rollback().await?;
                return Err(refusal.into());
            }
        };
        let now = now();
        let id = format!("ord-{}", uuid::Uuid::now_v7().simple());
        let line_ids: Vec<&str> = plan.lines.iter().map(|l| l.product_id.as_str()).collect();
        let qtys: Vec<i64> = plan.lines.iter().map(|l| i64::from(l.qty)).collect();
        let take = tx.prepare_cached(TAKE_STOCK).await?;
        tx.execute(&take, &[&line_ids, &qtys, &now]).await?;
        let insert = tx.prepare_cached(INSERT_ORDER).await?;
        let status = OrderStatus::Confirmed;
        tx.execute(
            &insert,
            &[
                &id,
                &customer_id,
                &view::status_text(status),
                &to_i64(plan.total_minor, "total_minor")?,
                &plan.currency,
                &now,
            ],
        )
        .await?;
        let names: Vec<&str> = plan.lines.iter().map(|l| l.name.as_str()).collect();
        let prices = plan
            .lines
            .iter()
            .map(|l| to_i64(l.unit_price_minor, "unit_price_minor"))
            .collect::<Result<Vec<_>, _>>()?;
        let line_qtys: Vec<i32> = plan
            .lines
            .iter()
            .map(|l| i32::try_from(l.qty).map_err(|_| corrupt("qty", l.qty)))
            .collect::<Result<_, _>>()?;
        let lines = tx.prepare_cached(INSERT_LINES).await?;
        tx.execute(&lines, &[&id, &line_ids, &names, &prices, &line_qtys])
            .await?;
        tx.commit().await?;
        let at = rfc3339(now);
        Ok(Order {
            id,
            customer_id: customer_id.to_owned(),
            status,
            status_reason: None,
            lines: plan.lines,
            total_minor: plan.total_minor,
            currency: plan.currency,
            created_at: at.clone(),
            updated_at: at,
        })
    }

    /// The view of order `id`: the order, its lines and their products now, in one JOIN.
    pub async fn order_view(&self, id: &str) -> Result<Option<OrderView>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(ORDER_VIEW).await?;
        let rows = client
            .query(&statement, &[&id])
            .await?
            .iter()
            .map(view_row_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(view::order_view(&rows))
    }
}

/// Now, to the millisecond: the precision the nodes answer with, so the time placed in the
/// answer and the one read back later are the same text.
pub(crate) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond()).unwrap_or(now)
}

/// RFC 3339 in UTC, as the nodes write times.
fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what} = {value}"))
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(what, value))
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| corrupt(what, value))
}

fn product_from_row(row: &Row) -> Result<Product, StoreError> {
    Ok(Product {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        description: row.try_get(2)?,
        category: row.try_get(3)?,
        price_minor: to_u64(row.try_get(4)?, "price_minor")?,
        currency: row.try_get(5)?,
        stock: to_u64(row.try_get(6)?, "stock")?,
        version: to_u64(row.try_get(7)?, "version")?,
        updated_seq: to_u64(row.try_get(8)?, "updated_seq")?,
        updated_at: rfc3339(row.try_get(9)?),
    })
}

fn locked_from_row(row: &Row) -> Result<Locked, StoreError> {
    Ok(Locked {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        price_minor: to_u64(row.try_get(2)?, "price_minor")?,
        currency: row.try_get(3)?,
        stock: to_u64(row.try_get(4)?, "stock")?,
    })
}

fn view_row_from_row(row: &Row) -> Result<ViewRow, StoreError> {
    let status: &str = row.try_get(2)?;
    let qty: i32 = row.try_get(7)?;
    // The product's columns are all NULL or none: name is NOT NULL in the table.
    let live = match row.try_get::<_, Option<String>>(10)? {
        None => None,
        Some(name) => Some(LiveRow {
            name,
            price_minor: to_u64(row.try_get(11)?, "price_minor")?,
            currency: row.try_get(12)?,
            stock: to_u64(row.try_get(13)?, "stock")?,
        }),
    };
    Ok(ViewRow {
        order_id: row.try_get(0)?,
        customer_id: row.try_get(1)?,
        status: view::parse_status(status).ok_or_else(|| corrupt("status", status))?,
        currency: row.try_get(3)?,
        total_minor: to_u64(row.try_get(4)?, "total_minor")?,
        created_at: rfc3339(row.try_get(5)?),
        product_id: row.try_get(6)?,
        qty: u32::try_from(qty).map_err(|_| corrupt("qty", qty))?,
        name: row.try_get(8)?,
        unit_price_minor: to_u64(row.try_get(9)?, "unit_price_minor")?,
        live,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_the_nodes_write_them() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_000_000).unwrap();
        assert_eq!(rfc3339(at), "2023-11-14T22:13:20.123Z");
        let whole = OffsetDateTime::from_unix_timestamp(0).unwrap();
        assert_eq!(rfc3339(whole), "1970-01-01T00:00:00Z");
        assert_eq!(now().nanosecond() % 1_000_000, 0);
    }

    #[test]
    fn out_of_range_values_are_errors_not_wraps() {
        assert!(matches!(to_u64(-1, "stock"), Err(StoreError::Corrupt(_))));
        assert!(matches!(to_i64(u64::MAX, "t"), Err(StoreError::Corrupt(_))));
        assert_eq!(to_u64(7, "stock").unwrap(), 7);
    }
}
