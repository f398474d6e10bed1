//! Routing decisions (fib rules, table lookup, source selection).
