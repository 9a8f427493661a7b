//! What reaches the operator's terminal: untrusted bytes made safe
//! ([`escape`]) and colour where the user wants it ([`color`]).

pub mod color;
pub mod escape;
