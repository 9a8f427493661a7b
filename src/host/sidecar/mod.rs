//! The Docker and Podman path: nosh's own containers beside the target.
//!
//! - [`image`]: the toolbox image made of this binary;
//! - [`session`]: the sidecar and the attached terminal;
//! - [`replica`]: a copy of a stopped container or an image, with the shell
//!   in place of its command;
//! - [`forward`]: `nosh port-forward`, one sidecar per connection;
//! - [`settle`]: a restarting container pinned down before the choice, and
//!   the retry when the engine restarts it under a session;
//! - [`spec`]: the one specification session, replica and port-forward
//!   build their containers from: labels, request, limits, arguments;
//! - [`watchdog`]: removes the sidecar if this client is SIGKILLed;
//! - [`sessions`]: `nosh ls` and `nosh gc`.

pub mod forward;
pub mod image;
pub mod replica;
pub mod session;
pub mod sessions;
pub mod settle;
pub mod spec;
pub mod watchdog;
