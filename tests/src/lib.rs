//! Shared helpers of the integration and property tests.
