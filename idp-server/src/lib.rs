//! The idp provider (issue 3 onwards).
