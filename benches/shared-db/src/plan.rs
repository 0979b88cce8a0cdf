//! What a placement decides once its products are locked: refused, or priced lines to store.
//! Pure, so the rules are tested without a database and stay those of order-node.

use std::collections::HashMap;

use contracts::ShortItem;
use contracts::orders::{OrderItem, OrderLine};

/// Largest order total: the `bigint` it is stored in (far above any real order).
pub const MAX_TOTAL_MINOR: u64 = i64::MAX.unsigned_abs();

/// A product row as the placement's `SELECT … FOR UPDATE` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// The product.
    pub id: String,
    /// Its name now, copied into the line.
    pub name: String,
    /// Its unit price now, copied into the line.
    pub price_minor: u64,
    /// Its currency.
    pub currency: String,
    /// Units available.
    pub stock: u64,
}

/// Why a placement is refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// These products do not exist (422 `unknown_products`).
    #[error("no such products: {}", .0.join(", "))]
    UnknownProducts(Vec<String>),
    /// Stock cannot cover these items (409 `insufficient_stock`).
    #[error("not enough stock for {} items", .0.len())]
    InsufficientStock(Vec<ShortItem>),
    /// The products are priced in more than one currency (422 `mixed_currencies`).
    #[error("products priced in {0}")]
    MixedCurrencies(String),
    /// The total does not fit the money type (422 `total_too_large`).
    #[error("the order total does not fit the money type")]
    TotalTooLarge,
}

/// An accepted placement: the lines in request order, with names and prices copied now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One line per product.
    pub lines: Vec<OrderLine>,
    /// Sum of the line totals.
    pub total_minor: u64,
    /// The one currency of every line.
    pub currency: String,
}

/// Decides a placement of `items` (validated and merged) against the rows locked for them.
///
/// The checks come in order-node's order: unknown products, then currency and total, then
/// stock; each refusal names every offending item, in request order.
pub fn plan(items: &[OrderItem], locked: &[Locked]) -> Result<Plan, Refusal> {
    let by_id: HashMap<&str, &Locked> = locked.iter().map(|p| (p.id.as_str(), p)).collect();
    let missing: Vec<String> = items
        .iter()
        .filter(|item| !by_id.contains_key(item.product_id.as_str()))
        .map(|item| item.product_id.clone())
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::UnknownProducts(missing));
    }
    let mut lines = Vec::with_capacity(items.len());
    let mut short = Vec::new();
    let mut total: u64 = 0;
    let mut currency: Option<&str> = None;
    for item in items {
        let Some(product) = by_id.get(item.product_id.as_str()) else {
            return Err(Refusal::UnknownProducts(vec![item.product_id.clone()]));
        };
        match currency {
            None => currency = Some(&product.currency),
            Some(c) if c != product.currency => {
                return Err(Refusal::MixedCurrencies(format!(
                    "{c} and {}",
                    product.currency
                )));
            }
            Some(_) => {}
        }
        let qty = u64::from(item.qty);
        let line_total = product
            .price_minor
            .checked_mul(qty)
            .ok_or(Refusal::TotalTooLarge)?;
        total = total
            .checked_add(line_total)
            .filter(|t| *t <= MAX_TOTAL_MINOR)
            .ok_or(Refusal::TotalTooLarge)?;
        if product.stock < qty {
            short.push(ShortItem {
                product_id: item.product_id.clone(),
                requested: qty,
                available: product.stock,
            });
        }
        lines.push(OrderLine {
            product_id: item.product_id.clone(),
            name: product.name.clone(),
            unit_price_minor: product.price_minor,
            qty: item.qty,
            line_total_minor: line_total,
        });
    }
    if !short.is_empty() {
        return Err(Refusal::InsufficientStock(short));
    }
    Ok(Plan {
        lines,
        total_minor: total,
        // Validated items are never empty, so a currency was always seen.
        currency: currency.unwrap_or_default().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, qty: u32) -> OrderItem {
        OrderItem {
            product_id: id.into(),
            qty,
        }
    }

    fn locked(id: &str, price: u64, currency: &str, stock: u64) -> Locked {
        Locked {
            id: id.into(),
            name: format!("{id} name"),
            price_minor: price,
            currency: currency.into(),
            stock,
        }
    }

    #[test]
    fn prices_lines_in_request_order() {
        // The rows come back in id order; the lines keep the request's.
        let rows = [locked("a", 100, "EUR", 5), locked("b", 250, "EUR", 1)];
        let plan = plan(&[item("b", 1), item("a", 3)], &rows).unwrap();
        let ids: Vec<&str> = plan.lines.iter().map(|l| l.product_id.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!(plan.lines[1].name, "a name");
        assert_eq!(plan.lines[1].line_total_minor, 300);
        assert_eq!((plan.total_minor, plan.currency.as_str()), (550, "EUR"));
    }

    #[test]
    fn unknown_products_are_all_named_before_anything_else() {
        let rows = [locked("a", 1, "EUR", 0)];
        assert_eq!(
            plan(&[item("x", 1), item("a", 9), item("y", 1)], &rows),
            Err(Refusal::UnknownProducts(vec!["x".into(), "y".into()]))
        );
    }

    #[test]
    fn every_short_item_is_named() {
        let rows = [
            locked("a", 1, "EUR", 2),
            locked("b", 1, "EUR", 0),
            locked("c", 1, "EUR", 9),
        ];
        let err = plan(&[item("a", 3), item("b", 1), item("c", 9)], &rows).unwrap_err();
        assert_eq!(
            err,
            Refusal::InsufficientStock(vec![
                ShortItem {
                    product_id: "a".into(),
                    requested: 3,
                    available: 2
                },
                ShortItem {
                    product_id: "b".into(),
                    requested: 1,
                    available: 0
                },
            ])
        );
    }

    #[test]
    fn currencies_and_totals_are_checked() {
        let rows = [locked("a", 1, "EUR", 9), locked("b", 1, "USD", 9)];
        assert!(matches!(
            plan(&[item("a", 1), item("b", 1)], &rows),
            Err(Refusal::MixedCurrencies(_))
        ));
        let rows = [locked("a", u64::MAX / 2, "EUR", 9)];
        assert_eq!(plan(&[item("a", 3)], &rows), Err(Refusal::TotalTooLarge));
        // Fits a u64 but not the bigint column.
        let rows = [locked("a", MAX_TOTAL_MINOR / 2 + 1, "EUR", 9)];
        assert_eq!(plan(&[item("a", 2)], &rows), Err(Refusal::TotalTooLarge));
    }
}
