// Package docker holds the tests of Buzhou's container images: Docker does
// not run on the development machines, so they check what can be checked
// without it — that every binary has an image, built static and run as
// the non-root user the chart expects, and that the compose file and the
// chart ask for images that exist.
package docker
