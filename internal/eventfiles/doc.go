// Package eventfiles holds the test that runs every sample event in events/
// through the real bootstrap binaries under aws-lambda-rie, against kumo:
// what `sam local invoke -e events/<file>` would do, without Docker.
package eventfiles
