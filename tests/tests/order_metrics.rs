//! Purchase metrics stay exact: after a random sequence of order upserts (new orders,
//! re-sends with other statuses, amounts, currencies and dates, partial and full
//! refunds, cancellations, unchanged re-sends, single and batched), every contact's kept
//! metrics equal the ones recomputed here from scratch out of the orders sent.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use rapport_tests::{Api, Server, on_both};
use serde_json::{Value, json};

/// A small deterministic generator (xorshift64*), so a failing sequence can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap()]
    }
}

/// What the test knows of one order: its customer (fixed when created) and what was
/// last sent.
#[derive(Clone, Debug)]
struct Sent {
    customer: usize,
    status: &'static str,
    currency: &'static str,
    total: i64,
    refunded: i64,
    placed_at: DateTime<Utc>,
    /// The body sent, for unchanged re-sends.
    body: Value,
}

/// Expected metrics of one currency: count, spent, first, last.
type Expected = BTreeMap<&'static str, (i64, i64, DateTime<Utc>, DateTime<Utc>)>;

fn expected(orders: &BTreeMap<String, Sent>, customer: usize) -> Expected {
    let mut out: Expected = BTreeMap::new();
    for o in orders.values().filter(|o| o.customer == customer) {
        if matches!(o.status, "cancelled" | "refunded") {
            continue;
        }
        let e = out.entry(o.currency).or_insert((0, 0, o.placed_at, o.placed_at));
        e.0 += 1;
        e.1 += o.total - o.refunded;
        e.2 = e.2.min(o.placed_at);
        e.3 = e.3.max(o.placed_at);
    }
    out
}

fn at(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// Half away from zero, computed differently from the server (floating point is exact
/// at these magnitudes).
fn rounded_average(spent: i64, count: i64) -> i64 {
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let avg = (spent as f64 / count as f64).round() as i64;
    avg
}

fn check(metrics: &Value, want: &Expected, what: &str) {
    let by = metrics["by_currency"].as_array().unwrap();
    let got: Vec<&str> = by.iter().map(|m| m["currency"].as_str().unwrap()).collect();
    let codes: Vec<&str> = want.keys().copied().collect();
    assert_eq!(got, codes, "{what}: currencies in {metrics}");
    for (m, (code, (count, spent, first, last))) in by.iter().zip(want) {
        assert_eq!(m["order_count"], json!(count), "{what} {code}: {m}");
        assert_eq!(m["total_spent"], json!(spent), "{what} {code}: {m}");
        assert_eq!(
            m["average_order_value"],
            json!(rounded_average(*spent, *count)),
            "{what} {code}: {m}"
        );
        assert_eq!(
            (at(&m["first_order_at"]), at(&m["last_order_at"])),
            (*first, *last),
            "{what} {code}"
        );
    }
    let count: i64 = want.values().map(|e| e.0).sum();
    assert_eq!(metrics["order_count"], json!(count), "{what}: {metrics}");
    let first = want.values().map(|e| e.2).min();
    let last = want.values().map(|e| e.3).max();
    assert_eq!(
        metrics["first_order_at"]
            .as_str()
            .map(|_| at(&metrics["first_order_at"])),
        first,
        "{what}"
    );
    assert_eq!(
        metrics["last_order_at"].as_str().map(|_| at(&metrics["last_order_at"])),
        last,
        "{what}"
    );
}

/// A random order body for `external_id` of customer `customer` (of this seed's
/// customers), and what it says.
fn order(rng: &mut Rng, seed: u64, external_id: &str, customer: usize, now: DateTime<Utc>) -> (Value, Sent) {
    let status = *rng.pick(&[
        "placed",
        "paid",
        "paid",
        "fulfilled",
        "cancelled",
        "refunded",
        "partially_refunded",
    ]);
    let currency = *rng.pick(&["EUR", "EUR", "USD", "JPY"]);
    let lines: Vec<(i64, i64)> = (0..=rng.below(3))
        .map(|_| {
            (
                1 + i64::try_from(rng.below(4)).unwrap(),
                1 + i64::try_from(rng.below(5000)).unwrap(),
            )
        })
        .collect();
    let subtotal: i64 = lines.iter().map(|(q, p)| q * p).sum();
    let discount = i64::try_from(rng.below(u64::try_from(subtotal).unwrap() / 4 + 1)).unwrap();
    let tax = i64::try_from(rng.below(300)).unwrap();
    let shipping = *rng.pick(&[0, 0, 495]);
    let total = subtotal - discount + tax + shipping;
    let refunded = match status {
        "refunded" => total,
        "partially_refunded" => 1 + i64::try_from(rng.below(u64::try_from(total - 1).unwrap())).unwrap(),
        _ => 0,
    };
    let placed_at = now
        - TimeDelta::days(i64::try_from(rng.below(300)).unwrap())
        - TimeDelta::seconds(i64::try_from(rng.below(86_400)).unwrap());
    let mut body = json!({
        "source": "shop",
        "external_id": external_id,
        "customer": {"external_id": format!("cust-{seed}-{customer}"), "email": format!("buyer{seed}-{customer}@example.com")},
        "status": status,
        "currency": currency,
        "placed_at": placed_at.to_rfc3339(),
        "lines": lines.iter().map(|(q, p)| json!({"name": "item", "quantity": q, "unit_price": p})).collect::<Vec<_>>(),
        "discount_total": discount,
        "tax": tax,
        "shipping": shipping,
    });
    if status == "partially_refunded" {
        body["refunded_total"] = json!(refunded);
    }
    let sent = Sent {
        customer,
        status,
        currency,
        total,
        refunded,
        placed_at,
        body: body.clone(),
    };
    (body, sent)
}

async fn kept_metrics_equal_metrics_rebuilt_from_the_orders(s: Server) {
    let api = Api::admin(&s).await;
    // Whole seconds, so what was sent compares exactly with what is read back.
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    for seed in [7_u64, 1_234_567, 0x00C0_FFEE] {
        let mut rng = Rng(seed);
        let mut sent: BTreeMap<String, Sent> = BTreeMap::new();
        for step in 0..60 {
            let batch = rng.below(5) == 0;
            let n = if batch { 1 + rng.below(6) } else { 1 };
            let mut bodies = Vec::new();
            for _ in 0..n {
                let external_id = format!("{seed}-{}", rng.below(14));
                // A re-send may name another customer: the order keeps its first one.
                let named = usize::try_from(rng.below(4)).unwrap();
                let owner = sent.get(&external_id).map_or(named, |o| o.customer);
                let (body, mut what) = if let Some(last) = sent.get(&external_id).filter(|_| rng.below(6) == 0) {
                    // An unchanged re-send of the last body sent.
                    (last.body.clone(), last.clone())
                } else {
                    order(&mut rng, seed, &external_id, named, now)
                };
                what.customer = owner;
                bodies.push(body);
                // Items apply in order, so a later item of the batch sees this one.
                sent.insert(external_id, what);
            }
            if batch {
                let r = api.post("/v1/orders/batch", json!({"items": bodies})).await;
                assert_eq!(r.status, 200, "seed {seed} step {step}: {}", r.body);
                assert_eq!(r.body["failed"], json!(0), "seed {seed} step {step}: {}", r.body);
            } else {
                let r = api.post("/v1/orders", bodies[0].clone()).await;
                assert!(
                    r.status == 200 || r.status == 201,
                    "seed {seed} step {step}: {}",
                    r.body
                );
            }
        }
        for customer in 0..4 {
            let want = expected(&sent, customer);
            let r = api
                .get(&format!("/v1/contacts/by-external-id/shop/cust-{seed}-{customer}"))
                .await;
            if want.is_empty() && r.status == 404 {
                continue;
            }
            assert_eq!(r.status, 200, "{}", r.body);
            let id = r.body["id"].as_str().unwrap().to_owned();
            let m = api.get(&format!("/v1/contacts/{id}/metrics")).await;
            assert_eq!(m.status, 200, "{}", m.body);
            check(&m.body, &want, &format!("seed {seed} customer {customer}"));
            let c = api.get(&format!("/v1/contacts/{id}?include=metrics")).await;
            assert_eq!(c.body["metrics"], m.body, "include=metrics agrees with /metrics");
        }
    }
}

on_both!(kept_metrics_equal_metrics_rebuilt_from_the_orders);
