"""Stateful fakes of external HTTP services, served on loopback for tests and benchmarks."""
