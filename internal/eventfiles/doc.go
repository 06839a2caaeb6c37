// Package eventfiles holds the tests of the sample events in events/: that
// each is what it claims to be (a complete API Gateway payload 2.0 event, an
// Okta delivery, the worker's SQS event), and that each gives the documented
// answer from the real bootstrap under aws-lambda-rie with the template's
// environment, against kumo: `sam local invoke -e events/<file>` without
// Docker. It also checks that a bootstrap without its configuration refuses
// to start.
package eventfiles
