//! Loading real ip addr / ip route / ip rule dumps.
