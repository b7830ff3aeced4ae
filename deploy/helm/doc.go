// Package helm holds the tests of Buzhou's Helm chart (buzhou/): they render
// it with helm's own Go library for the value sets of examples/, decode what
// it makes into typed Kubernetes objects and check every promise of the
// chart, the refusals included. It is a module of its own so that helm's
// dependencies never reach the services.
package helm
