"""Loopback simulators of the providers' billing APIs, for the demo, tests and benchmarks."""
