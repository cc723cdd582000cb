//! mTLS identity, roles, revocation and rate limiting, through the gRPC client.
