//! The decoder: turns rendered Kubernetes documents into *image sites*.
//!
//! An image site is one place in one object where Kubernetes (or an operator reading a custom
//! resource) will take an image reference from: a container, an init or ephemeral container, or a
//! configured custom field such as an `ameide.io` primitive's `spec.image`. The decoder knows
//! nothing of policy; it only promises that no image escapes it.

mod site;

pub use site::*;
