"""Data contracts: manifest v2, export, seed, expected-output contracts, gate results."""
