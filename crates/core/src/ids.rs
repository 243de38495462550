//! Identifiers: a readable prefix and 20 base62 characters (119 bits), so ids can be made on any
//! node without a sequence and are never confused with one another.

use rand::distributions::Alphanumeric;
use rand::Rng;

pub fn new_id(prefix: &str) -> String {
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    format!("{prefix}_{body}")
}

pub fn user() -> String {
    new_id("usr")
}
pub fn account() -> String {
    new_id("acct")
}
pub fn client() -> String {
    new_id("app")
}
pub fn private_app() -> String {
    new_id("pa")
}
pub fn grant() -> String {
    new_id("grt")
}
pub fn family() -> String {
    new_id("fam")
}
pub fn secret() -> String {
    new_id("sec")
}
