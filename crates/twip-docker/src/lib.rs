//! Applies a twip plan to a Docker engine (work in progress: see issue 6).
