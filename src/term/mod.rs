//! What reaches the operator's terminal: untrusted bytes made safe
//! ([`escape`]), colour where the user wants it ([`color`]), and the
//! words and marks every room shows facts in ([`text`]).

pub mod color;
pub mod escape;
pub mod text;
