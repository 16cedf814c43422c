//! Where a sysadm/iocage API request becomes work on a host.
//!
//! `IocageService` validates a decoded request, serialises conflicting work,
//! coalesces identical reads, and calls an async `Backend`. Two backends exist:
//! the real one, which runs iocage through `iocage-cli`, and a simulated host
//! that persists its state in a file (the default when iocage is absent).
//!
//! Nothing here knows about HTTP or WebSocket.
#![deny(missing_docs)]
