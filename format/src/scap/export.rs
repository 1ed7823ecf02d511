//! Writing scap files (to come).
