// Package testenv gives tests real servers to run against: throwaway
// redis-server processes (and a Redis Cluster) on free loopback ports, and a
// fresh PostgreSQL database per test run or a throwaway PostgreSQL cluster
// that a test may stop and restart. Everything is cleaned up with t.Cleanup.
//
// A missing server or binary skips the test with a loud message, except
// with CI=true, where it fails: CI must never pass by skipping.
package testenv
