//! End-to-end tests of `twip plan` and `twip simulate --plan`.
