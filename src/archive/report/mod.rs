//! Reports built from the archive.
