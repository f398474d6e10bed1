//! The readable, coloured walk for people.
