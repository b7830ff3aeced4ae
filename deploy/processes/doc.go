// Package processes holds the test that runs Buzhou as the Helm chart does:
// the gateway, article, search and verification binaries each as a process
// of its own, on loopback and PostgreSQL, reaching each other only by the
// addresses in their environment.
package processes
