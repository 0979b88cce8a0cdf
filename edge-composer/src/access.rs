//! Who may do what at the edge, once a token is verified: a customer sees and changes only
//! its own orders; a staff token may read every customer's. The composer's own service
//! tokens never decide this: they only say the composer may ask.

use serde_json::Value;

use crate::jwt::Verified;

/// The bearer token of an `Authorization` header, `None` when there is none (no header, or
/// another scheme).
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Whether `user` may read the orders of `customer_id`.
pub fn may_read(user: &Verified, customer_id: &str) -> bool {
    user.staff || user.subject == customer_id
}

/// Why an order body is refused before it is forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceRefusal {
    /// Not a JSON object: order-node would refuse it too, but the edge must read it first.
    NotAnObject,
    /// `customer_id` names someone else.
    ForSomeoneElse,
}

/// The body to forward for an order placed by `user`: its `customer_id` must be the user's
/// own, and is filled in from the token when absent.
pub fn order_body(user: &Verified, body: &[u8]) -> Result<Vec<u8>, PlaceRefusal> {
    let mut value: Value = serde_json::from_slice(body).map_err(|_| PlaceRefusal::NotAnObject)?;
    let object = value.as_object_mut().ok_or(PlaceRefusal::NotAnObject)?;
    match object.get("customer_id") {
        None => {
            object.insert("customer_id".into(), Value::String(user.subject.clone()));
        }
        Some(Value::String(id)) if *id == user.subject => {}
        Some(_) => return Err(PlaceRefusal::ForSomeoneElse),
    }
    serde_json::to_vec(&value).map_err(|_| PlaceRefusal::NotAnObject)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(subject: &str, staff: bool) -> Verified {
        Verified {
            subject: subject.into(),
            staff,
        }
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn customers_read_their_own_staff_read_all() {
        assert!(may_read(&user("alice", false), "alice"));
        assert!(!may_read(&user("alice", false), "bob"));
        assert!(may_read(&user("carol", true), "bob"));
    }

    #[test]
    fn orders_are_placed_for_the_token_subject() {
        let alice = user("alice", false);
        let filled = order_body(&alice, br#"{"items": []}"#).unwrap();
        let filled: Value = serde_json::from_slice(&filled).unwrap();
        assert_eq!(filled["customer_id"], "alice");
        assert!(order_body(&alice, br#"{"customer_id": "alice", "items": []}"#).is_ok());
        assert_eq!(
            order_body(&alice, br#"{"customer_id": "bob", "items": []}"#),
            Err(PlaceRefusal::ForSomeoneElse)
        );
        assert_eq!(
            order_body(&alice, br#"{"customer_id": 1}"#),
            Err(PlaceRefusal::ForSomeoneElse)
        );
        // Staff place orders for themselves too: reading any order is all staff may do more.
        assert_eq!(
            order_body(&user("carol", true), br#"{"customer_id": "bob"}"#),
            Err(PlaceRefusal::ForSomeoneElse)
        );
        assert_eq!(order_body(&alice, b"[]"), Err(PlaceRefusal::NotAnObject));
        assert_eq!(order_body(&alice, b"{"), Err(PlaceRefusal::NotAnObject));
    }
}
