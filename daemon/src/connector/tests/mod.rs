//! Tests for the connector: fixture decoding/classification and HTTP behaviour against tiny
//! raw TCP servers.

mod fixtures;
mod http;
mod keepalive;
