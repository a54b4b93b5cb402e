//! The crypto provider of every TLS connection weir opens (HTTP tasks, S3 and GCS buckets).
//!
//! weir builds rustls without a compiled-in provider (reqwest's `rustls-no-provider`), so that a
//! first build does not compile aws-lc-sys's C sources; the provider is ring, installed here as
//! the process default. reqwest refuses to build a client before one is installed, so every
//! place that builds an HTTP client calls [`install_crypto_provider`] first.

use std::sync::Once;

/// Installs ring as the process's rustls provider; later calls do nothing. A provider installed
/// earlier by someone else (an embedding program) is kept.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // An error means a provider is already installed, which is all this needs.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_a_provider_once() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
