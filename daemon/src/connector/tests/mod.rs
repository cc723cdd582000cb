//! Tests for the connector: fixture decoding/classification and HTTP behaviour against tiny
//! raw TCP servers.

mod differential;
mod fixtures;
mod hostile_http;
mod http;
mod keepalive;
