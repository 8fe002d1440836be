//! Listeners, connections (HTTP/1.x and h2c from one listener) and graceful shutdown.
