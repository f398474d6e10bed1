//! Round trip of iptables-save dumps through the parser and the save printer.
